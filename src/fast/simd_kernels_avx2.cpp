// Lesson 5: the kernels compiled for AVX2 with FMA. This file, and only this
// file, is compiled with -mavx2 -mfma (see src/CMakeLists.txt).
#include "fast/simd_dispatch.hpp"
#include "fast/simd_kernels.hpp"

static_assert(XSIMD_WITH_FMA3_AVX2, "simd_kernels_avx2.cpp must be compiled with -mavx2 -mfma");

namespace mha {

const SimdKernels& avx2_kernel_table() {
    using arch = xsimd::fma3<xsimd::avx2>;                   // 256-bit registers: 8 floats, with FMA
    constexpr std::size_t W = xsimd::batch<float, arch>::size;  // 8
    constexpr std::size_t MR = 6;                            // 6 × 2 accumulators + 3 = 15 of 16 registers
    static const SimdKernels table = {"avx2+fma",         W,
                                      MR,                 2 * W,
                                      &simd::dot<arch>,   &simd::max<arch>,
                                      &simd::exp_sum<arch>, &simd::scale<arch>,
                                      &simd::axpy<arch>,  &simd::online_softmax_columns<arch>,
                                      &simd::micro_kernel<arch, MR>};
    return table;
}

}  // namespace mha
