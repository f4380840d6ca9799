// Lesson 5 introduces this header: one head's attention in float, computed
// three ways, each faster than the one before:
//
//   v2 attention_head_simd     scores row by row with SIMD dot products, then a SIMD softmax and P V
//   v3 attention_head_blocked  scores and P V with the blocked GEMM (gemm.hpp)
//   v4 attention_head_fused    FlashAttention: blocks of queries against blocks of keys with an
//                              online softmax, never storing the (L, S) scores
//
// All three read the head's queries, keys and values where the projections
// left them, inside the (L, E) and (S, E) matrices of all heads, and write the
// head's output into its d_k columns of the (L, E) concatenation: no copy per head.
#pragma once

#include <cstddef>

#include "gemm.hpp"
#include "simd_kernels.hpp"

/// @file
/// @brief One attention head in float: SIMD, blocked and fused (introduced in @ref lesson05).

namespace mha {

/// The masks of one (batch entry, head), read where the caller stores them.
///
/// Lesson 4 adds the causal mask, attn_mask and key_padding_mask into one
/// (L, S) matrix per head. Here they are applied where they are needed, a
/// block of scores at a time, so no (L, S) matrix is ever made.
struct ScoreMask {
    /// attn_mask of this entry and head, additive, (L, S) row-major; nullptr for none.
    const double* attention = nullptr;
    /// key_padding_mask of this entry, additive, (S); nullptr for none.
    const double* padding = nullptr;
    /// Whether query i may only look at keys j <= i.
    bool causal = false;
    /// S, the length of a row of `attention`.
    std::size_t keys = 0;

    /// Adds the masks to the scores of query `row` against keys [first_key, first_key + count).
    ///
    /// @param row the query's index i, in [0, L).
    /// @param first_key the first key's index j.
    /// @param scores the count scores, updated; a forbidden key's score becomes -infinity.
    /// @param count how many keys.
    /// @throws nothing.
    /// @see @ref lesson05
    void apply(std::size_t row, std::size_t first_key, float* scores, std::size_t count) const;

    /// Adds the masks to a block of scores stored transposed, (keys, queries):
    /// the layout of the fused version's blocks (attention_head_fused()).
    ///
    /// @param first_query the index i of the block's first query (column 0).
    /// @param queries the block's columns.
    /// @param first_key the index j of the block's first key (row 0).
    /// @param keys the block's rows.
    /// @param scores_transposed the scores, updated: key j's score for query i
    ///        is at [(j - first_key) · ld + (i - first_query)].
    /// @param ld the row stride of scores_transposed.
    /// @throws nothing.
    /// @see @ref lesson05
    void apply_transposed(std::size_t first_query, std::size_t queries, std::size_t first_key, std::size_t keys,
                          float* scores_transposed, std::size_t ld) const;

    /// Whether any mask may change a block of scores: false without masks, and
    /// under the causal mask alone for a block whose keys all precede or equal
    /// its first query.
    ///
    /// @param first_query the block's first query.
    /// @param first_key the block's first key.
    /// @param keys the block's keys.
    /// @return true if apply() or apply_transposed() must run on the block.
    /// @throws nothing.
    /// @see @ref lesson05
    bool touches(std::size_t first_query, std::size_t first_key, std::size_t keys) const;

    /// How many keys, from key 0, query `row` may see at most: row + 1 under
    /// the causal mask (capped at S), S otherwise. The keys after them are
    /// masked for this query, so their scores need not be computed at all.
    ///
    /// @param row the query's index.
    /// @return the number of leading keys that may be visible.
    /// @throws nothing.
    /// @see @ref lesson05
    std::size_t visible_keys(std::size_t row) const;
};

/// One head of one batch entry: where its inputs are and where its output goes.
///
/// Row i of the head's Q is `q + i · q_stride` (d_k floats); the stride is E
/// when Q holds every head side by side. Q is already multiplied by
/// 1/sqrt(d_k): the fast module folds that scale into W_q and b_q.
struct HeadProblem {
    /// L, the number of queries.
    std::size_t queries = 0;
    /// S, the number of keys and values.
    std::size_t keys = 0;
    /// d_k, the width of the head.
    std::size_t head_dim = 0;
    /// Q / sqrt(d_k), (L, d_k).
    const float* q = nullptr;
    /// Floats from one row of Q to the next.
    std::size_t q_stride = 0;
    /// K, (S, d_k); used by v2.
    const float* k = nullptr;
    /// Floats from one row of K to the next.
    std::size_t k_stride = 0;
    /// V, (S, d_k); used by v2.
    const float* v = nullptr;
    /// Floats from one row of V to the next.
    std::size_t v_stride = 0;
    /// Kᵀ, (d_k, S), packed for gemm() as its B; used by v3.
    PackedView k_transposed;
    /// K, (S, d_k), packed by pack_a() in slivers of MR keys, the A of K Qᵀ; used by v4.
    SliverView k_slivers;
    /// V, (S, d_k), packed for gemm(); used by v3 and v4.
    PackedView v_packed;
    /// The output, (L, d_k): the head's columns of the concatenation.
    float* out = nullptr;
    /// Floats from one output row to the next.
    std::size_t out_stride = 0;
    /// The masks of this entry and head.
    ScoreMask mask;
};

/// Version 2: the lesson 1 algorithm with SIMD kernels. Each score is one SIMD
/// dot product of a query row and a key row; each row of scores goes through a
/// SIMD softmax (max, exp-sum, scale); each output row is the sum of the value
/// rows weighted by that row (axpy).
///
/// @param kernels the SIMD kernels.
/// @param problem the head; k and v must be set.
/// @param weights (L, S) floats with row stride S: the scores, then the
///        attention weights on return (a fully masked row is all zero).
/// @throws nothing.
/// @see @ref lesson05
void attention_head_simd(const SimdKernels& kernels, const HeadProblem& problem, float* weights);

/// Version 3: queries [first_row, first_row + rows) with the blocked GEMM:
/// scores = Q Kᵀ in one gemm(), a SIMD softmax per row, then output = P V in
/// another gemm().
///
/// @param kernels the SIMD kernels.
/// @param problem the head; k_transposed and v_packed must be set.
/// @param first_row the first query.
/// @param rows how many queries.
/// @param weights (rows, S) floats with row stride S, for those queries: the
///        scores, then the attention weights on return.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson05
void attention_head_blocked(const SimdKernels& kernels, const HeadProblem& problem, std::size_t first_row,
                            std::size_t rows, float* weights);

/// Bq, the queries of one block of the fused version: a multiple of NR (the
/// columns of the K Qᵀ tiles) and of W (the lanes of the softmax) for every
/// SIMD table. Callers that split the queries among threads cut them in
/// multiples of it.
constexpr std::size_t fused_query_block = 96;

/// Version 4: FlashAttention for queries [first_row, first_row + rows).
///
/// Queries go in blocks of Bq = fused_query_block (96), keys in blocks of Bk
/// (112 rounded down to a multiple of MR).
/// Each query block is packed once, as Qᵀ, and an accumulator (Bq, d_k)
/// starts at zero. For each key block, its scores are computed transposed,
/// Sᵀ (Bk, Bq) = K block · Qᵀ, with multiply_packed(); masked; passed through
/// the online softmax of every query at once, one query per SIMD lane
/// (SimdKernels::online_softmax_columns), which turns them into unnormalised
/// weights and says how much to shrink each accumulator row; and added to the
/// accumulator as P V with another multiply_packed(), which reads P = (Sᵀ)ᵀ in
/// place (SliverView::transposed). At the end each row is divided by its sum.
/// The scores never exceed one block: memory does not grow with S. Under the
/// causal mask, key blocks after the query block's last row are skipped.
///
/// @param kernels the SIMD kernels.
/// @param problem the head; k_slivers and v_packed must be set.
/// @param first_row the first query.
/// @param rows how many queries.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson05
void attention_head_fused(const SimdKernels& kernels, const HeadProblem& problem, std::size_t first_row,
                          std::size_t rows);

}  // namespace mha
