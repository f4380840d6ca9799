// The FMA peak probe on 512-bit vectors. This file alone is compiled with
// -mavx512f -mfma (benchmarks/CMakeLists.txt); fma_peak_probe.cpp calls it only
// after checking that the CPU has AVX-512F.
#include "fma_peak_kernels.hpp"

namespace mha::bench::detail {

// 16 chains of 16 floats: 16 of the 32 zmm registers, plus a and b.
extern const int avx512_chains = 16;
extern const int avx512_lanes = static_cast<int>(xsimd::batch<float, xsimd::avx512f>::size);

float fma_chains_avx512(std::uint64_t rounds) {
    return fma_chains<xsimd::avx512f>(rounds, std::make_index_sequence<16>{});
}

}  // namespace mha::bench::detail
