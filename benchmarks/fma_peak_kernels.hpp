// The FMA chains of the peak probe, written once for any xsimd architecture.
// Included only by fma_peak_avx512.cpp and fma_peak_avx2.cpp, each compiled with
// its own -m flags: no other file may instantiate these templates, so that no
// AVX-512 code can end up in a function the rest of the program calls.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include <xsimd/xsimd.hpp>

namespace mha::bench::detail {
namespace {

// acc[i] = acc[i]·a + b for every chain i, `rounds` times. The chains do not
// depend on each other, so a core with two FMA units of latency 4 keeps 8 in
// flight; more chains than that leave no bubble. a is just below 1 and b small:
// every accumulator converges to b / (1 - a) = 1 and never overflows or becomes
// denormal, whose slow path would spoil the measurement.
template <class Arch, std::size_t... Chain>
float fma_chains(std::uint64_t rounds, std::index_sequence<Chain...>) {
    using Batch = xsimd::batch<float, Arch>;
    const Batch a(0.999999f), b(0.000001f);
    Batch acc[] = {Batch(1.0f + 0.001f * static_cast<float>(Chain))...};
    for (std::uint64_t round = 0; round < rounds; ++round) {
        ((acc[Chain] = xsimd::fma(acc[Chain], a, b)), ...);  // one FMA per chain, written out
    }
    Batch sum(0.0f);
    ((sum += acc[Chain]), ...);
    // Summed through memory rather than with xsimd::reduce_add, whose helpers for
    // narrower vectors both files would instantiate, each with its own -m flags.
    alignas(64) float lanes[Batch::size];
    sum.store_aligned(lanes);
    float total = 0.0f;
    for (const float lane : lanes) {
        total += lane;
    }
    return total;
}

}  // namespace
}  // namespace mha::bench::detail
