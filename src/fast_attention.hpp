// Lesson 5 introduces this header: multi-head attention in float, made fast
// step by step. Each version keeps the one before and adds one idea, in the
// manner of llm.c's numbered kernels; each is checked against the lesson 4
// reference (double precision, PyTorch's numbers).
//
//   v1 blas      lesson 4's structure in float, the matrix products by OpenBLAS: what a library gives
//   v2 simd      our own xsimd kernels: dot products, a vectorised softmax, axpy (simd_kernels.hpp)
//   v3 blocked   a packed, cache-blocked GEMM with a register-blocked micro-kernel (gemm.hpp)
//   v4 fused     FlashAttention: the online softmax, no (L, S) score matrix (head_attention.hpp)
//   v5 threaded  v4 on several threads (parallel_for.hpp)
#pragma once

#include <cstddef>
#include <string>

#include <xtensor/xtensor.hpp>

#include "gemm.hpp"
#include "multi_head_attention.hpp"
#include "simd_kernels.hpp"

/// @file
/// @brief Fast multi-head attention in float: versions 1 to 5 (introduced in @ref lesson05).

namespace mha {

/// The versions of lesson 5, each validated against the lesson 4 reference.
enum class FastVersion {
    blas = 1,     ///< v1: lesson 4's structure in float, matrix products by OpenBLAS (one thread).
    simd = 2,     ///< v2: xsimd dot products, softmax and axpy; no blocking.
    blocked = 3,  ///< v3: the packed, cache-blocked GEMM for the projections, Q Kᵀ and P V.
    fused = 4,    ///< v4: FlashAttention-style blocks with an online softmax.
    threaded = 5  ///< v5: v4 on `threads` threads.
};

/// The short name of a version, as the benchmarks print it.
///
/// @param version a version.
/// @return "v1-blas", "v2-simd", "v3-blocked", "v4-fused" or "v5-threaded".
/// @throws std::invalid_argument for a value that is not one of the five.
/// @see @ref lesson05
std::string fast_version_name(FastVersion version);

/// How FastMultiHeadAttention::forward runs.
struct FastAttentionOptions {
    /// Which version computes the result.
    FastVersion version = FastVersion::threaded;
    /// The number of threads of v5, at least 1; v1 to v4 use one thread and ignore it.
    std::size_t threads = 1;
    /// Whether to return the attention weights (B, H, L, S). v4 and v5 never
    /// form them otherwise; when asked, they fall back to v3's materialised scores.
    bool need_weights = false;
};

/// What FastMultiHeadAttention::forward returns.
struct FastAttentionResult {
    /// (B, L, E): the attention output after the output projection.
    xt::xtensor<float, 3> output;
    /// (B, H, L, S): every head's weights when asked for; shape (0, 0, 0, 0) otherwise.
    xt::xtensor<float, 4> weights;
};

/// Multi-head attention in float32, fast: the same computation, parameters,
/// masks and errors as the lesson 4 MultiHeadAttention it is made from.
///
/// It copies the reference's parameters to float once, and for v3 to v5 packs
/// the four weight matrices for the GEMM micro-kernel, with the attention's
/// 1/sqrt(d_k) folded into W_q and b_q. For self-attention, forward(x, x, x)
/// with one tensor, v3 to v5 compute Q, K and V as one product with the three
/// weights stacked, as PyTorch does. forward() is const and may be called
/// from several threads at once.
class FastMultiHeadAttention {
public:
    /// Copies (and packs) the parameters of a lesson 4 module.
    ///
    /// @param reference the module; kdim and vdim may differ from E.
    /// @throws std::invalid_argument if reference.check() fails.
    /// @see @ref lesson05
    explicit FastMultiHeadAttention(const MultiHeadAttention& reference);

    /// Attention of the query sequences over the key and value sequences.
    ///
    /// @param query shape (B, L, E).
    /// @param key shape (B, S, kdim).
    /// @param value shape (B, S, vdim).
    /// @param masks optional masks, as for MultiHeadAttention::forward: attn_mask
    ///        (L, S) or (B·H, L, S), key_padding_mask (B, S), causal. A query
    ///        whose keys are all masked gets zero weights and a zero attention
    ///        output (so its output row is the output projection's bias).
    /// @param options the version, its threads, and whether to return the weights.
    /// @return output (B, L, E), and weights (B, H, L, S) or (0, 0, 0, 0).
    /// @throws std::invalid_argument naming the input and its shape when the
    ///         shapes do not fit (as the reference does), when an input holds
    ///         NaN or infinity, when S is 0, when `threads` is 0 or more than
    ///         1024, or when `version` is not one of the five.
    /// @see @ref lesson05
    FastAttentionResult forward(const xt::xtensor<float, 3>& query, const xt::xtensor<float, 3>& key,
                                const xt::xtensor<float, 3>& value, const AttentionMasks& masks = {},
                                const FastAttentionOptions& options = {}) const;

    /// E, the embedding size of queries and of the output.
    /// @see @ref lesson05
    std::size_t embed_dim() const { return embed_dim_; }
    /// H, the number of heads.
    /// @see @ref lesson05
    std::size_t num_heads() const { return num_heads_; }

private:
    // One linear layer in float: W (out, in) as PyTorch stores it, b (out), zeros when there is no bias.
    struct FloatLinear {
        xt::xtensor<float, 2> weight;  // (out_features, in_features)
        xt::xtensor<float, 1> bias;    // (out_features)
        PackedMatrix packed;           // Wᵀ (in, out) packed for gemm(): v3 to v5
    };

    std::size_t embed_dim_ = 0, num_heads_ = 0, kdim_ = 0, vdim_ = 0;
    const SimdKernels* kernels_ = nullptr;  // chosen at construction: the packing depends on its NR
    FloatLinear query_;                     // v1: W_q, b_q as they are
    FloatLinear scaled_query_;              // v2 to v5: W_q / sqrt(d_k), b_q / sqrt(d_k)
    FloatLinear key_, value_, output_;
    // v3 to v5, self-attention: [W_q / sqrt(d_k); W_k; W_v] (3E, E), the three
    // projections as one product, as PyTorch's in_proj_weight stacks them.
    // Empty when kdim or vdim differs from E.
    FloatLinear stacked_projection_;

    struct Forward;  // one forward pass: the versions' code, in fast_attention.cpp
};

/// The instruction set the run-time dispatch chose for the SIMD kernels.
///
/// @return "avx512f", "avx2+fma" or "scalar".
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson05
std::string simd_instruction_set();

}  // namespace mha
