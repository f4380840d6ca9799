// The FMA peak probe on 256-bit vectors, for CPUs without AVX-512. This file
// alone is compiled with -mavx2 -mfma (benchmarks/CMakeLists.txt); xsimd's arch
// fma3<avx2> makes xsimd::fma one vfmadd instruction.
#include "fma_peak_kernels.hpp"

namespace mha::bench::detail {

// 12 chains: AVX2 has only 16 ymm registers, and a and b need two of them.
extern const int avx2_chains = 12;
extern const int avx2_lanes = static_cast<int>(xsimd::batch<float, xsimd::fma3<xsimd::avx2>>::size);

float fma_chains_avx2(std::uint64_t rounds) {
    return fma_chains<xsimd::fma3<xsimd::avx2>>(rounds, std::make_index_sequence<12>{});
}

}  // namespace mha::bench::detail
