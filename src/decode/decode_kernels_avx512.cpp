// Lesson 7: the decoding kernel compiled for AVX-512. This file, and only this
// file of lesson 7, is compiled with -mavx512f -mavx512dq -mavx512bw -mavx512vl -mfma
// (see src/CMakeLists.txt), like lesson 5's fast/simd_kernels_avx512.cpp.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ < 13
// GCC 12's own AVX-512 header makes "undefined" registers as `__m512 __Y = __Y;`,
// and once xsimd::exp is inlined here GCC warns about it (GCC bug 105593, fixed in 13).
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

#include "decode/decode_kernel_templates.hpp"
#include "decode/decode_kernels.hpp"

static_assert(XSIMD_WITH_AVX512F, "decode_kernels_avx512.cpp must be compiled with -mavx512f");

namespace mha {

const DecodeKernels& avx512_decode_kernel_table() {
    using arch = xsimd::avx512f;  // 512-bit registers: 16 floats
    static const DecodeKernels table = {"avx512f", xsimd::batch<float, arch>::size, &simd::attend_group<arch>};
    return table;
}

}  // namespace mha
