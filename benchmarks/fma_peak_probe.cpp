// The FMA peak probe: chooses the widest instruction set the CPU has and times
// the chains of fma_peak_kernels.hpp. This file is compiled without -m flags, so
// it runs on any x86-64 CPU; it calls the AVX-512 or AVX2 file only after
// asking the CPU (xsimd::available_architectures) whether it may.
#include "fma_peak_probe.hpp"

#include <algorithm>
#include <chrono>

#include <xsimd/xsimd.hpp>

namespace mha::bench {

#ifndef MHA_FMA_PROBE_X86
#define MHA_FMA_PROBE_X86 1
#endif

namespace detail {
#if MHA_FMA_PROBE_X86
// In fma_peak_avx512.cpp and fma_peak_avx2.cpp.
extern const int avx512_chains, avx512_lanes, avx2_chains, avx2_lanes;
float fma_chains_avx512(std::uint64_t rounds);
float fma_chains_avx2(std::uint64_t rounds);
#else
// Not an x86-64 CPU: no probe (benchmarks/CMakeLists.txt leaves the two files out).
const int avx512_chains = 0, avx512_lanes = 0, avx2_chains = 0, avx2_lanes = 0;
inline float fma_chains_avx512(std::uint64_t) { return 0.0f; }
inline float fma_chains_avx2(std::uint64_t) { return 0.0f; }
#endif
}  // namespace detail

namespace {

enum class ProbeSet { avx512, avx2, scalar };

ProbeSet probe_set() {
    if (!MHA_FMA_PROBE_X86) {
        return ProbeSet::scalar;
    }
    const auto available = xsimd::available_architectures();
    if (available.avx512f) {
        return ProbeSet::avx512;
    }
    if (available.fma3_avx2) {
        return ProbeSet::avx2;
    }
    return ProbeSet::scalar;
}

}  // namespace

std::string fma_probe_instruction_set() {
    switch (probe_set()) {
        case ProbeSet::avx512:
            return "avx512f";
        case ProbeSet::avx2:
            return "avx2+fma";
        case ProbeSet::scalar:
            break;
    }
    return "scalar";
}

double fma_chain_flops(std::uint64_t rounds) {
    switch (probe_set()) {
        case ProbeSet::avx512:
            return 2.0 * detail::avx512_chains * detail::avx512_lanes * static_cast<double>(rounds);
        case ProbeSet::avx2:
            return 2.0 * detail::avx2_chains * detail::avx2_lanes * static_cast<double>(rounds);
        case ProbeSet::scalar:
            break;
    }
    return 0.0;
}

float run_fma_chains(std::uint64_t rounds) {
    switch (probe_set()) {
        case ProbeSet::avx512:
            return detail::fma_chains_avx512(rounds);
        case ProbeSet::avx2:
            return detail::fma_chains_avx2(rounds);
        case ProbeSet::scalar:
            break;
    }
    return 0.0f;
}

FmaPeak measure_fma_peak(int trials, double trial_seconds) {
    using Clock = std::chrono::steady_clock;
    FmaPeak peak;
    peak.instruction_set = fma_probe_instruction_set();
    const ProbeSet set = probe_set();
    peak.chains = set == ProbeSet::avx512 ? detail::avx512_chains : set == ProbeSet::avx2 ? detail::avx2_chains : 0;
    peak.lanes = set == ProbeSet::avx512 ? detail::avx512_lanes : set == ProbeSet::avx2 ? detail::avx2_lanes : 0;
    if (set == ProbeSet::scalar) {
        return peak;
    }
    const auto seconds_for = [](std::uint64_t rounds) {
        const auto start = Clock::now();
        volatile float sink = run_fma_chains(rounds);
        static_cast<void>(sink);
        return std::chrono::duration<double>(Clock::now() - start).count();
    };
    // Grow the round count until one run takes a measurable time, which also
    // wakes the core from any low-power state.
    std::uint64_t rounds = 1 << 16;
    while (seconds_for(rounds) < trial_seconds / 2 && rounds < (std::uint64_t{1} << 40)) {
        rounds *= 2;
    }
    for (int trial = 0; trial < std::max(trials, 1); ++trial) {
        const double seconds = seconds_for(rounds);
        peak.gflops = std::max(peak.gflops, fma_chain_flops(rounds) / seconds * 1e-9);
    }
    return peak;
}

}  // namespace mha::bench
