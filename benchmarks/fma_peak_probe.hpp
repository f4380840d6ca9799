// Lesson 5's yardstick: how many single-precision floating-point operations
// one core of this machine can do per second, measured rather than looked up.
//
// The probe runs many independent chains of fused multiply-adds (acc = acc·a + b)
// on the widest vectors the CPU has: 512-bit AVX-512 when available, otherwise
// 256-bit AVX2 with FMA. With enough independent chains (more than the FMA
// latency times the number of FMA units) the units never wait, so the rate is the
// core's peak: 2 flops per lane per FMA. Every "fraction of peak" the benchmarks
// report divides by this number.
#pragma once

#include <cstdint>
#include <string>

namespace mha::bench {

/// One measurement of the FMA peak.
struct FmaPeak {
    double gflops = 0.0;          ///< the best rate seen, in 10⁹ flops per second (one thread)
    std::string instruction_set;  ///< "avx512f", "avx2+fma", or "scalar" (no FMA vectors: gflops is 0)
    int chains = 0;               ///< independent accumulators per round
    int lanes = 0;                ///< floats per vector
};

/// The instruction set the probe uses on this CPU: "avx512f" if the CPU has
/// AVX-512F, else "avx2+fma" if it has AVX2 and FMA, else "scalar".
std::string fma_probe_instruction_set();

/// Flops done by one call of run_fma_chains(rounds): 2 · chains · lanes · rounds.
double fma_chain_flops(std::uint64_t rounds);

/// Runs `rounds` rounds of FMAs on every chain with the probe's instruction set,
/// and returns a number computed from the accumulators (so that the compiler
/// cannot drop the work). Does nothing and returns 0 on a "scalar" CPU.
float run_fma_chains(std::uint64_t rounds);

/// Measures the peak: `trials` runs of about `trial_seconds` each, on the
/// calling thread, keeping the fastest (the peak is a best case; a slower trial
/// only means something else had the core for a while).
FmaPeak measure_fma_peak(int trials = 15, double trial_seconds = 0.02);

}  // namespace mha::bench
