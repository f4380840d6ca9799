// Lesson 7: the decoding kernel compiled for AVX2 with FMA. This file, and only
// this file of lesson 7, is compiled with -mavx2 -mfma (see src/CMakeLists.txt).
#include "decode/decode_kernel_templates.hpp"
#include "decode/decode_kernels.hpp"

static_assert(XSIMD_WITH_FMA3_AVX2, "decode_kernels_avx2.cpp must be compiled with -mavx2 -mfma");

namespace mha {

const DecodeKernels& avx2_decode_kernel_table() {
    using arch = xsimd::fma3<xsimd::avx2>;  // 256-bit registers: 8 floats, with FMA
    static const DecodeKernels table = {"avx2+fma", xsimd::batch<float, arch>::size, &simd::attend_group<arch>};
    return table;
}

}  // namespace mha
