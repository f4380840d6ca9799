// Lesson 5 introduces this header: the fused attention of one head, which v4
// runs head after head and v5 spreads over threads, block of queries by block.
//
// FlashAttention (Dao et al. 2022) in its second form's loop order
// (FlashAttention-2, Dao 2023): the outer loop runs over blocks of queries,
// the inner one over blocks of keys, and each query block keeps its running
// maximum, sum and output accumulator from the first key block to the last.
// The (L, S) scores never exist: only one (Bk, Bq) block of them at a time.
#pragma once

#include <cstddef>

#include "fast/forward_call.hpp"
#include "fast/packing.hpp"
#include "fast/projection.hpp"
#include "fast/score_mask.hpp"
#include "fast/simd_dispatch.hpp"

/// @file
/// @brief Fused attention with an online softmax, one head (introduced in @ref lesson05).

namespace mha {

/// Bq, the queries of one block of the fused kernel: a multiple of NR (the
/// columns of the K Qᵀ tiles) and of W (the lanes of the softmax) for every
/// SIMD table. v5 cuts the queries among threads in blocks of this size.
constexpr std::size_t fused_query_block = 96;

/// One head of one batch entry, as the fused kernel reads it.
struct FusedHead {
    /// L, the queries.
    std::size_t queries = 0;
    /// d_k, the width of the head.
    std::size_t head_dim = 0;
    /// Q / sqrt(d_k), (L, d_k): row i at q + i · q_stride.
    const float* q = nullptr;
    /// Floats from one row of Q to the next.
    std::size_t q_stride = 0;
    /// K, (S, d_k), packed by pack_a() in slivers of MR keys: the A of K Qᵀ.
    SliverView k_slivers;
    /// V, (S, d_k), packed by pack_b() in panels of NR columns: the B of P V.
    PackedView v_packed;
    /// The output, (L, d_k): the head's d_k columns of the (L, E) concatenation.
    float* out = nullptr;
    /// Floats from one output row to the next.
    std::size_t out_stride = 0;
    /// The masks of this entry and head.
    ScoreMask mask;
};

/// The fused kernel for queries [first_row, first_row + rows) of one head.
///
/// Queries go in blocks of Bq = fused_query_block (96), keys in blocks of Bk
/// (112 rounded down to a multiple of MR). Each query block is packed once, as
/// Qᵀ, and an accumulator (Bq, d_k) starts at zero. For each key block, its
/// scores are computed transposed, Sᵀ (Bk, Bq) = K block · Qᵀ, with
/// multiply_packed(); masked; passed through the online softmax of every query
/// at once, one query per SIMD lane (SimdKernels::online_softmax_columns), which
/// turns them into unnormalised weights and says how much to shrink each
/// accumulator row; and added to the accumulator as P V with another
/// multiply_packed(), which reads P = (Sᵀ)ᵀ in place (SliverView::transposed).
/// At the end each row is divided by its sum. Under the causal mask, key
/// blocks after the query block's last row are skipped.
///
/// @param kernels the SIMD kernels.
/// @param head the head; its K and V packed as FusedHead says.
/// @param first_row the first query.
/// @param rows how many queries.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson05
void attend_fused(const SimdKernels& kernels, const FusedHead& head, std::size_t first_row, std::size_t rows);

/// K and V of every (batch entry, head) of one call, packed for the fused kernel.
///
/// Every query block of a head reads all of its keys and values, so each head's
/// K and V are packed once, before any block is attended: K (S, d_k) in slivers
/// of MR keys, V (S, d_k) in panels of NR columns.
class FusedHeads {
public:
    /// Takes room for the packed K and V of every head from the calling
    /// thread's workspace; nothing is packed yet.
    ///
    /// @param call the inputs and their sizes.
    /// @param projected Q, K and V as the projections left them.
    /// @param kernels the SIMD kernels (their MR and NR).
    /// @param context the (B·L, E) concatenation the heads write into.
    /// @throws std::bad_alloc.
    /// @see @ref lesson05
    FusedHeads(const ForwardCall& call, const ProjectedInputs& projected, const SimdKernels& kernels,
               float* context);

    /// Packs K and V of entry b, head h. The heads are independent.
    /// @see @ref lesson05
    void pack(std::size_t b, std::size_t h);

    /// Entry b, head h, for attend_fused(), once pack(b, h) has run.
    /// @see @ref lesson05
    FusedHead head(std::size_t b, std::size_t h) const;

private:
    const ForwardCall& call_;
    const ProjectedInputs& projected_;
    const SimdKernels& kernels_;
    float* context_;
    std::size_t keys_size_, values_size_;  // floats of one head's packed K and packed V
    float* packed_keys_;                   // B·H packed K, one after the other (the thread's workspace)
    float* packed_values_;                 // B·H packed V
};

}  // namespace mha
