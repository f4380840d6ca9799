// Lesson 7 introduces this header: the table of the fast decoding step's
// attention kernels, one per instruction set, chosen at run time as lesson 5's are.
//
// One decoding step asks one question of the cache: "for this new token's query
// heads, which cached positions matter, and what do their values say?". For one
// query that is two matrix-vector products, scores = K q (L × d_k times d_k) and
// output = weightsᵀ V, with a softmax between them. A matrix-vector product does
// 2 flops per float it reads, far too few to keep the FMA units busy: the step is
// bounded by how fast memory delivers K and V, not by arithmetic. So the kernel is
// built around one rule: read every cached key and value row once per step, and
// let all the query heads of its group use it while it is in registers or L1.
// That is where grouped-query attention's speed comes from: with G groups the
// step reads G/H of the bytes multi-head attention reads, for the same H queries.
//
// As in lesson 5 (fast/simd_dispatch.hpp), the kernel is written once with xsimd
// (decode_kernel_templates.hpp) and compiled once per instruction set, each in
// its own file with its own flags (decode_kernels_avx512.cpp, decode_kernels_avx2.cpp),
// plus plain loops (decode_kernels_scalar.cpp). The choice follows lesson 5's:
// the table of the same instruction set as simd_kernels(), so that the
// environment variable MHA_SIMD picks a lesser one here too.
#pragma once

#include <cstddef>
#include <vector>

#include "fast/simd_dispatch.hpp"

/// @file
/// @brief The fast decoding step's attention kernels and their run-time dispatch (introduced in @ref lesson07).

namespace mha {

/// The attention of one group of query heads over one K/V head's cache, for one
/// instruction set, as a function pointer (lesson 7's counterpart of SimdKernels).
struct DecodeKernels {
    /// The instruction set: "avx512f", "avx2+fma" or "scalar", as SimdKernels names it.
    const char* instruction_set;
    /// W, the floats per SIMD register: 16, 8 or 1.
    std::size_t width;

    /// softmax(Q Kᵀ) V for the R query heads of one group, reading each of the
    /// L key rows and L value rows once.
    ///
    /// `queries` (R, d_k) must already be divided by sqrt(d_k). `keys` and
    /// `values` are (L, d_k), row-major, rows contiguous. `output` (R, d_k) is
    /// overwritten. `scores` is scratch of R·(L + 2) floats. L ≥ 1, d_k ≥ 1, R ≥ 1; any
    /// alignment. Allocates nothing, throws nothing.
    void (*attend_group)(const float* queries, std::size_t query_heads, const float* keys, const float* values,
                         std::size_t length, std::size_t head_dim, float* output, float* scores);
};

/// The decoding kernels of the instruction set lesson 5's dispatch chose
/// (simd_kernels(); the environment variable MHA_SIMD picks a lesser one).
///
/// @return the table for AVX-512, AVX2 with FMA, or plain loops.
/// @throws nothing.
/// @see @ref lesson07
const DecodeKernels& decode_kernels();

/// The decoding kernels of the same instruction set as a lesson 5 table.
///
/// @param simd one of lesson 5's tables (available_simd_kernels()).
/// @return the decoding table of `simd.instruction_set`.
/// @throws std::invalid_argument if the build has no decoding table of that name.
/// @see @ref lesson07
const DecodeKernels& decode_kernels_for(const SimdKernels& simd);

/// Every decoding table this CPU can run, best first, ending with the scalar one:
/// one per table of available_simd_kernels(). The tests check each of them.
///
/// @return one to three tables.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson07
std::vector<const DecodeKernels*> available_decode_kernels();

/// The decoding kernel as plain loops (decode_kernels_scalar.cpp): every build has it.
///
/// @return the scalar table (W = 1).
/// @throws nothing.
/// @see @ref lesson07
const DecodeKernels& scalar_decode_kernel_table();

/// The decoding kernel compiled for AVX2 with FMA. Only built when `MHA_SIMD` is
/// `auto` or `avx2`; call it only on a CPU with AVX2 and FMA.
///
/// @return the AVX2 table (W = 8).
/// @throws nothing.
/// @see @ref lesson07
const DecodeKernels& avx2_decode_kernel_table();

/// The decoding kernel compiled for AVX-512. Only built when `MHA_SIMD` is `auto`;
/// call it only on a CPU with AVX-512 F, DQ and BW.
///
/// @return the AVX-512 table (W = 16).
/// @throws nothing.
/// @see @ref lesson07
const DecodeKernels& avx512_decode_kernel_table();

}  // namespace mha
