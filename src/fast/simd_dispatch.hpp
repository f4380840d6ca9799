// Lesson 5 introduces this header: the table of SIMD kernels, one per
// instruction set, and the run-time choice between them.
//
// The hot loops of lesson 5 (a dot product, the softmax's max and exp-sum, the
// GEMM micro-kernel) are written once with xsimd (simd_kernels.hpp) and
// compiled several times, each in its own .cpp file with its own compiler
// flags: simd_kernels_avx512.cpp with -mavx512f..., simd_kernels_avx2.cpp with
// -mavx2 -mfma, and simd_kernels_scalar.cpp as plain loops with no flags. Each
// file fills one SimdKernels table of function pointers. At run time,
// simd_kernels() asks the CPU what it can do (xsimd::dispatch) and returns the
// best table, once; everything else in the library calls the kernels through
// it, so the library runs on any x86-64 CPU and uses AVX-512 where there is one.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

/// @file
/// @brief The SIMD kernels and their run-time dispatch (introduced in @ref lesson05).

namespace mha {

/// The inner loops of lesson 5 for one instruction set, as function pointers.
///
/// Every pointer is set. All lengths may be anything, 0 included: the SIMD
/// versions handle the last `n % width` elements with a scalar loop (the "tail").
/// None of them allocates memory or throws.
struct SimdKernels {
    /// The instruction set: "avx512f", "avx2+fma" or "scalar".
    const char* instruction_set;
    /// W, the floats per SIMD register: 16 (AVX-512), 8 (AVX2), 1 (scalar).
    std::size_t width;
    /// MR, the rows of C one micro-kernel call computes (see gemm.hpp).
    std::size_t mr;
    /// NR, the columns of C one micro-kernel call computes: two registers' worth.
    std::size_t nr;

    /// a · b = Σ a[i] b[i], for a and b of length n.
    float (*dot)(const float* a, const float* b, std::size_t n);
    /// The largest of x[0..n), or -infinity when n is 0.
    float (*max)(const float* x, std::size_t n);
    /// Replaces x[i] by exp(x[i] - shift) for i in [0, n) and returns their sum.
    /// -infinity becomes exactly 0.
    float (*exp_sum)(float* x, std::size_t n, float shift);
    /// x[i] *= factor for i in [0, n).
    void (*scale)(float* x, std::size_t n, float factor);
    /// y[i] += a · x[i] for i in [0, n) (BLAS's "axpy").
    void (*axpy)(float a, const float* x, float* y, std::size_t n);
    /// The online softmax of a block of scores stored transposed, (keys,
    /// queries) with row stride ld, one query per lane: each column's running
    /// max and sum take in the block, the scores become unnormalised weights,
    /// and correction[q] receives the factor for query q's accumulated output
    /// (simd_kernels.hpp says how). `queries` must be a multiple of `width`.
    void (*online_softmax_columns)(float* scores, std::size_t keys, std::size_t queries, std::size_t ld,
                                   float* running_max, float* running_sum, float* correction);
    /// The GEMM micro-kernel: one MR × NR tile of C += A B (or C = A B when
    /// `accumulate` is false), with A and B laid out as packing.hpp describes:
    /// A(r, p) at a[p · a_step + r] (a_step = MR when pack_a() packed it), `b`
    /// kc steps of NR floats (a row of the B panel each). C is row-major with
    /// row stride ldc.
    void (*micro_kernel)(std::size_t kc, const float* a, std::size_t a_step, const float* b, float* c,
                         std::size_t ldc, bool accumulate);
};

/// The kernels this CPU runs best, chosen on the first call with xsimd::dispatch
/// among those the build compiled (CMake option `MHA_SIMD`).
///
/// The environment variable `MHA_SIMD` can pick a lesser table on purpose, to
/// compare them: `MHA_SIMD=avx2` or `MHA_SIMD=scalar` (a name the CPU cannot
/// run, or that was not compiled, is ignored).
///
/// @return the table for AVX-512 (F, DQ, BW), AVX2 with FMA, or plain loops.
/// @throws nothing.
/// @see @ref lesson05
const SimdKernels& simd_kernels();

/// The instruction set the run-time dispatch chose for the SIMD kernels.
///
/// @return "avx512f", "avx2+fma" or "scalar".
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson05
std::string simd_instruction_set();

/// Every table the build compiled that this CPU can run, best first, ending with
/// the scalar one; the tests check each of them against plain loops.
///
/// @return one to three tables.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson05
std::vector<const SimdKernels*> available_simd_kernels();

/// The kernels written as plain loops, with no SIMD flags: the fallback of
/// every build, and the only table of `MHA_SIMD=scalar`.
///
/// @return the scalar table (MR = 4, NR = 8).
/// @throws nothing.
/// @see @ref lesson05
const SimdKernels& scalar_kernel_table();

/// The kernels compiled for AVX2 with FMA (simd_kernels_avx2.cpp). Only built
/// when `MHA_SIMD` is `auto` or `avx2`; call it only on a CPU that has AVX2
/// and FMA, as simd_kernels() does.
///
/// @return the AVX2 table (W = 8, MR = 6, NR = 16).
/// @throws nothing.
/// @see @ref lesson05
const SimdKernels& avx2_kernel_table();

/// The kernels compiled for AVX-512 (simd_kernels_avx512.cpp). Only built when
/// `MHA_SIMD` is `auto`; call it only on a CPU with AVX-512 F, DQ and BW, as
/// simd_kernels() does.
///
/// @return the AVX-512 table (W = 16, MR = 14, NR = 32).
/// @throws nothing.
/// @see @ref lesson05
const SimdKernels& avx512_kernel_table();

}  // namespace mha
