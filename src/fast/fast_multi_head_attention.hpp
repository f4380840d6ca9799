// Lesson 5 introduces this header: multi-head attention in float, made fast
// step by step. Each version keeps the one before and adds one idea, in the
// manner of llm.c's numbered kernels; each is checked against the lesson 4
// reference (double precision, PyTorch's numbers). The versions themselves are
// functions of their own (versions.hpp); this class checks the inputs once and
// calls the one asked for.
//
//   v1 blas      lesson 4's structure in float, the matrix products by OpenBLAS: what a library gives
//   v2 simd      our own xsimd kernels: dot products, a vectorised softmax, axpy (simd_kernels.hpp)
//   v3 blocked   a packed, cache-blocked GEMM with a register-blocked micro-kernel (gemm.hpp)
//   v4 fused     FlashAttention: the online softmax, no (L, S) score matrix (fused_attention.hpp)
//   v5 threaded  v4 on several threads (parallel_for.hpp)
#pragma once

#include <cstddef>
#include <string>

#include "fast/float_parameters.hpp"
#include "fast/forward_call.hpp"
#include "fast/versions.hpp"
#include "reference/multi_head_attention.hpp"

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
    /// Whether to return the attention weights (B, H, L, S). v1 to v3 form
    /// them anyway. v4 and v5 never do: asked for them, forward() runs v3
    /// instead, on one thread.
    bool need_weights = false;
};

/// Multi-head attention in float32, fast: the same computation, parameters,
/// masks and errors as the lesson 4 MultiHeadAttention it is made from.
///
/// It copies the reference's parameters to float once (FloatParameters), packs
/// the weight matrices for the GEMM micro-kernel, and folds the attention's
/// 1/sqrt(d_k) into W_q and b_q. forward() is const; v2 to v5 may run on
/// several threads at once, but v1 sets OpenBLAS's process-wide thread count
/// while it runs (forward_v1_blas()).
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
    FastAttentionResult forward(const FloatTensor3& query, const FloatTensor3& key, const FloatTensor3& value,
                                const AttentionMasks& masks = {}, const FastAttentionOptions& options = {}) const;

    /// E, the embedding size of queries and of the output.
    /// @see @ref lesson05
    std::size_t embed_dim() const { return parameters_.embed_dim; }
    /// H, the number of heads.
    /// @see @ref lesson05
    std::size_t num_heads() const { return parameters_.num_heads; }

private:
    FloatParameters parameters_;
};

}  // namespace mha
