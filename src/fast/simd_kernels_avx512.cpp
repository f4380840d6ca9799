// Lesson 5: the kernels compiled for AVX-512. This file, and only this file,
// is compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma (see
// src/CMakeLists.txt), so that the rest of the library runs on any x86-64 CPU.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC 12's own AVX-512 header makes "undefined" registers as `__m512 __Y = __Y;`,
// and once xsimd::exp is inlined here GCC warns about it (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "fast/simd_dispatch.hpp"
#include "fast/simd_kernels.hpp"

static_assert(XSIMD_WITH_AVX512F, "simd_kernels_avx512.cpp must be compiled with -mavx512f");

namespace mha {

const SimdKernels& avx512_kernel_table() {
    using arch = xsimd::avx512f;                             // 512-bit registers: 16 floats
    constexpr std::size_t W = xsimd::batch<float, arch>::size;  // 16
    constexpr std::size_t MR = 14;                           // 14 × 2 accumulators + 3 = 31 of 32 registers
    // A constant table of function pointers: filled in by the compiler, no code runs.
    static const SimdKernels table = {"avx512f",          W,
                                      MR,                 2 * W,
                                      &simd::dot<arch>,   &simd::max<arch>,
                                      &simd::exp_sum<arch>, &simd::scale<arch>,
                                      &simd::axpy<arch>,  &simd::online_softmax_columns<arch>,
                                      &simd::micro_kernel<arch, MR>};
    return table;
}

}  // namespace mha
