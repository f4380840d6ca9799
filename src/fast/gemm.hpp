// Lesson 5 introduces this header: a fast matrix product (GEMM), built the way
// GotoBLAS and BLIS build theirs: pack the operands, block for the caches, and
// let a small register-blocked micro-kernel do all the arithmetic.
//
//   C (M, N) = A (M, K) · B (K, N)
//
// A naive triple loop reads every element of A and B from memory N or M times
// and gets a few percent of the CPU's peak. The blocked product reads each
// element from memory about once per block:
//
//   for jc in N step NC:                 B block KC × NC lives in L3
//     for pc in K step KC:
//       for ic in M step MC:             pack A block (MC, KC) into MR-row slivers: lives in L2
//         for jr in NC step NR:          B panel (KC, NR): lives in L1
//           for ir in MC step MR:        micro-kernel: the (MR, NR) tile of C lives in registers
//
// gemm() takes B packed already (packing.hpp: a weight is packed when the module
// is built, K and V once per head, Qᵀ once per query block in v4) and packs A
// block by block as the product runs. multiply_packed() is the inner part, for
// callers that have packed both operands themselves.
#pragma once

#include <cstddef>

#include "fast/packing.hpp"
#include "fast/simd_dispatch.hpp"

/// @file
/// @brief The blocked, packed matrix product (introduced in @ref lesson05).

namespace mha {

/// The cache blocking of gemm(), in floats. MC is rounded down to a multiple of
/// MR and NC to a multiple of NR when the product runs.
struct GemmBlocking {
    /// KC, the depth of a block. The textbook choice keeps a KC × NR panel of B
    /// in the L1 cache (KC = 256: 32 KB of the 48 KB). Measured on Zen 5, a
    /// deeper block is faster: the whole of E = 512 or 768 in one pass writes
    /// each tile of C once instead of two or three times, and the 96 KB panel
    /// streams from the L2 cache in order, which the prefetcher keeps ahead of.
    static constexpr std::size_t kc = 768;
    /// MC, the rows of A packed at a time: an MC × KC block (504 KB) stays in the 1 MB L2 cache.
    static constexpr std::size_t mc = 168;
    /// NC, the columns of B per outer block: KC × NC (9 MB) stays in the 32 MB L3 cache.
    static constexpr std::size_t nc = 3072;
};

/// C = A B (or C += A B) for operands both packed already: every MR × NR tile
/// of C in one micro-kernel call over the whole depth, without cache blocking.
///
/// gemm() calls it for each block it has packed. Attention calls it directly
/// on blocks small enough to stay in cache, so that a block of queries packed
/// once serves every block of keys.
///
/// @param kernels the micro-kernel to use.
/// @param rows M, the rows of A and C.
/// @param a A (M, K) in slivers of kernels.mr rows; K = b.rows.
/// @param b B (K, N), packed with NR = kernels.nr.
/// @param c C (M, N), row-major with row stride ldc.
/// @param ldc the row stride of C, in floats.
/// @param accumulate add A B to C (true) or overwrite C (false).
/// @throws std::invalid_argument if B was packed for another NR.
/// @see @ref lesson05
void multiply_packed(const SimdKernels& kernels, std::size_t rows, const SliverView& a, const PackedView& b,
                     float* c, std::size_t ldc, bool accumulate);

/// C = A B (or C += A B): the blocked matrix product on a packed B.
///
/// @param kernels the micro-kernel to use, with its MR and NR.
/// @param rows M, the rows of A and C.
/// @param a A, (M, K) row-major with row stride lda; K = b.rows.
/// @param lda the row stride of A, in floats.
/// @param b B, (K, N), packed with NR = kernels.nr.
/// @param c C, (M, N) row-major with row stride ldc.
/// @param ldc the row stride of C, in floats.
/// @param accumulate add A B to C (true) or overwrite C (false).
/// @throws std::invalid_argument if B was packed for another NR. Several
///         threads may call it at once: each packs A into a buffer of its own.
/// @see @ref lesson05
void gemm(const SimdKernels& kernels, std::size_t rows, const float* a, std::size_t lda, const PackedView& b,
          float* c, std::size_t ldc, bool accumulate);

}  // namespace mha
