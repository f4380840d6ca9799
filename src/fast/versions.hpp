// Lesson 5 introduces this header: the five versions of fast multi-head
// attention, each a function of its own that reads top to bottom, in the
// manner of llm.c's numbered kernels. Each keeps the steps of lesson 4 (project,
// split into heads, attend, concatenate, output projection) and changes how
// one of them is computed:
//
//   v1_blas.cpp      lesson 4's structure in float, every matrix product by OpenBLAS
//   v2_simd.cpp      our own xsimd kernels: dot products, a vectorised softmax, axpy
//   v3_blocked.cpp   a packed, cache-blocked GEMM with a register-blocked micro-kernel
//   v4_fused.cpp     FlashAttention: the online softmax, no (L, S) score matrix
//   v5_threaded.cpp  v4 on several threads
//
// FastMultiHeadAttention::forward (fast_multi_head_attention.hpp) checks the
// inputs and calls one of them.
#pragma once

#include <cstddef>

#include <xtensor/xtensor.hpp>

#include "fast/float_parameters.hpp"
#include "fast/forward_call.hpp"

/// @file
/// @brief The five versions of lesson 5, one function each (introduced in @ref lesson05).

namespace mha {

/// What a version returns.
struct FastAttentionResult {
    /// (B, L, E): the attention output after the output projection.
    xt::xtensor<float, 3> output;
    /// (B, H, L, S): every head's weights when asked for; shape (0, 0, 0, 0) otherwise.
    xt::xtensor<float, 4> weights;
};

/// The result of one call, allocated and not yet filled in.
///
/// @param call the inputs and their sizes.
/// @param need_weights whether the weights are returned.
/// @return output (B, L, E); weights (B, H, L, S) when asked for, else (0, 0, 0, 0).
/// @throws std::bad_alloc.
/// @see @ref lesson05
inline FastAttentionResult allocate_result(const ForwardCall& call, bool need_weights) {
    FastAttentionResult result;
    result.output = xt::xtensor<float, 3>::from_shape({call.B, call.L, call.E});
    result.weights = need_weights ? xt::xtensor<float, 4>::from_shape({call.B, call.H, call.L, call.S})
                                  : xt::xtensor<float, 4>::from_shape({0, 0, 0, 0});
    return result;
}

/// Version 1: lesson 4's computation in float, with every matrix product, the
/// projections, Q Kᵀ and P V, done by OpenBLAS's sgemm on one thread; the
/// softmax as plain loops. What a library gives, and the baseline.
///
/// It sets OpenBLAS's thread count, which is one setting for the whole process,
/// to 1 for the duration of the call: do not run it while another thread uses OpenBLAS.
///
/// @param parameters the module's parameters in float.
/// @param call the checked inputs.
/// @param need_weights whether to return the (B, H, L, S) weights.
/// @return the output, and the weights if asked for.
/// @throws std::bad_alloc.
/// @see @ref lesson05
FastAttentionResult forward_v1_blas(const FloatParameters& parameters, const ForwardCall& call, bool need_weights);

/// Version 2: the lesson 1 algorithm with our SIMD kernels, no blocking. Every
/// projection output and every score is one SIMD dot product; each row of
/// scores goes through a SIMD softmax; each output row is a sum of value rows
/// weighted by that row (axpy).
///
/// @param parameters the module's parameters in float.
/// @param call the checked inputs.
/// @param need_weights whether to return the (B, H, L, S) weights.
/// @return the output, and the weights if asked for.
/// @throws std::bad_alloc.
/// @see @ref lesson05
FastAttentionResult forward_v2_simd(const FloatParameters& parameters, const ForwardCall& call, bool need_weights);

/// Version 3: every matrix product with the packed, cache-blocked gemm(): the
/// projections (one stacked product for self-attention), and per head the
/// scores Q Kᵀ and P V; a SIMD softmax per row in between. One head's (L, S)
/// scores still go through memory.
///
/// @param parameters the module's parameters in float.
/// @param call the checked inputs.
/// @param need_weights whether to return the (B, H, L, S) weights.
/// @return the output, and the weights if asked for.
/// @throws std::bad_alloc.
/// @see @ref lesson05
FastAttentionResult forward_v3_blocked(const FloatParameters& parameters, const ForwardCall& call, bool need_weights);

/// Version 4: v3's projections, and per head the fused kernel (attend_fused()):
/// blocks of queries against blocks of keys with an online softmax, so that no
/// (L, S) matrix is ever formed. It cannot return the weights it never forms.
///
/// @param parameters the module's parameters in float.
/// @param call the checked inputs.
/// @return the output, (B, L, E).
/// @throws std::bad_alloc.
/// @see @ref lesson05
xt::xtensor<float, 3> forward_v4_fused(const FloatParameters& parameters, const ForwardCall& call);

/// Version 5: v4 on `threads` threads. The projections are cut into runs of
/// rows, the attention into (entry, head, block of 96 queries) tasks, the
/// output projection into runs of rows again; every task writes its own part
/// of the result, so 1 and 2 threads give the same numbers, bit for bit.
///
/// @param parameters the module's parameters in float.
/// @param call the checked inputs.
/// @param threads how many threads work, the caller's included; at least 1.
/// @return the output, (B, L, E).
/// @throws std::bad_alloc; std::system_error if a thread cannot be started.
/// @see @ref lesson05
xt::xtensor<float, 3> forward_v5_threaded(const FloatParameters& parameters, const ForwardCall& call,
                                          std::size_t threads);

}  // namespace mha
