// Lesson 5's benchmarks: how fast is each version of the fast attention, and how
// close does it come to what one core of this machine can do?
//
//   attention/<version>/L:../E:../H:../B:../threads:..
//       one forward pass of mha::FastMultiHeadAttention (src/fast/fast_multi_head_attention.hpp),
//       self-attention on a random (B, L, E) float32 input, no masks, no weights;
//       and, for the smallest shape only, the lesson 4 reference in double
//       precision (version "reference-double"), which is far slower.
//   projection/blas-sgemm/L:../E:..   and   projection/gemm/L:../E:..
//       the input projection alone, (L, E) × (E, 3E): the part of attention that
//       is a plain matrix product, by OpenBLAS's sgemm (what v1 calls) and by the
//       lesson's own packed, blocked gemm() of gemm.hpp (what v3 to v5 call).
//   fma_peak/<instruction set>
//       the FMA probe of fma_peak_probe.hpp, timed like everything else.
//
// Counters of every attention and projection benchmark:
//   flops          the flops of one iteration: for attention, one forward pass,
//                  mha::attention_flops (fast/flop_count.hpp), B·(8·L·E² + 4·L²·E);
//                  2·M·N·K for a matrix product. scripts/benchmark_report.py reads
//                  it to turn PyTorch's times into GFLOP/s.
//   gflops         10⁹ flops per second: flops times iterations over the seconds
//   peak_fraction  gflops divided by peak_gflops
//   peak_gflops    the FMA peak of one core, measured once when the program starts
//
// Run with --benchmark_repetitions=5 and read the medians (scripts/run_benchmarks.sh
// does, and turns the JSON into the lesson's table). Set OPENBLAS_NUM_THREADS=1, as
// that script does, so that the BLAS version uses one core like the others.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <xtensor/xtensor.hpp>

#include "fast/fast_multi_head_attention.hpp"
#include "fast/flop_count.hpp"
#include "fma_peak_probe.hpp"
#include "fast/gemm.hpp"
#include "reference/multi_head_attention.hpp"
#include "cpu_model.hpp"
#include "core/random.hpp"
#include "fast/simd_dispatch.hpp"
#include "core/tensor.hpp"

#ifndef MHA_COMPILER
#define MHA_COMPILER "unknown"
#endif
#ifndef MHA_BUILD_TYPE
#define MHA_BUILD_TYPE "unknown"
#endif

namespace {

using Clock = std::chrono::steady_clock;
using FloatTensor3 = xt::xtensor<float, 3>;

// ============================================================================
// The shapes
// ============================================================================

struct Shape {
    std::size_t batch, seq_len, embed_dim, num_heads;  // B, L, E, H

    std::string name() const {
        return "L:" + std::to_string(seq_len) + "/E:" + std::to_string(embed_dim) + "/H:" + std::to_string(num_heads) +
               "/B:" + std::to_string(batch);
    }
};

// (B, L, E, H): from a short sentence to a long document.
const Shape shapes[] = {{1, 128, 512, 8}, {1, 512, 512, 8}, {1, 1024, 768, 12}, {1, 2048, 512, 8}, {1, 8192, 512, 8}};
const Shape& smallest_shape = shapes[0];
constexpr std::size_t scaling_seq_len = 2048;  // the shape at which v5 also runs on 2 threads

// A version that keeps a whole (L, S) matrix of scores per head is skipped when
// one forward pass takes longer than this, or its scores would fill more than
// half of the free memory.
constexpr double max_seconds_per_iteration = 10.0;

// ============================================================================
// The peak, and the counters
// ============================================================================

mha::bench::FmaPeak measured_peak;  // set by main before any benchmark runs

// The benchmarks time themselves (UseManualTime), so that only the forward pass
// is timed; the counters are computed from the same seconds.
void set_counters(benchmark::State& state, double flops_per_iteration, double seconds) {
    state.counters["flops"] = flops_per_iteration;
    if (seconds <= 0.0) {
        return;
    }
    const double gflops = flops_per_iteration * static_cast<double>(state.iterations()) / seconds * 1e-9;
    state.counters["gflops"] = gflops;
    state.counters["peak_gflops"] = measured_peak.gflops;
    state.counters["peak_fraction"] = measured_peak.gflops > 0.0 ? gflops / measured_peak.gflops : 0.0;
}

template <class Function>
double timed(Function&& function) {
    const auto start = Clock::now();
    function();
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// The benchmark loop: time every call of `function` alone, then set the counters.
template <class Function>
void run_timed(benchmark::State& state, Function&& function, double flops_per_iteration) {
    double seconds = 0.0;
    for (auto _ : state) {
        const double iteration = timed(function);
        state.SetIterationTime(iteration);
        seconds += iteration;
    }
    set_counters(state, flops_per_iteration, seconds);
}

// ============================================================================
// The problems: a module and an input per shape, made once
// ============================================================================

struct Problem {
    mha::MultiHeadAttention reference;             // lesson 4, double precision
    std::unique_ptr<mha::FastMultiHeadAttention> fast;  // lesson 5, made from the reference
    FloatTensor3 input;                            // (B, L, E), the query, key and value
};

const Problem& problem(const Shape& shape) {
    static std::map<std::string, std::unique_ptr<Problem>> problems;
    std::unique_ptr<Problem>& found = problems[shape.name()];
    if (!found) {
        found = std::make_unique<Problem>();
        mha::RandomGenerator random(20240601 + shape.seq_len);
        found->reference = mha::random_multi_head_attention(shape.embed_dim, shape.num_heads, true, random);
        found->fast = std::make_unique<mha::FastMultiHeadAttention>(found->reference);
        found->input = FloatTensor3::from_shape({shape.batch, shape.seq_len, shape.embed_dim});
        for (float& x : found->input) {
            x = static_cast<float>(random.normal());
        }
    }
    return *found;
}

// Free memory in bytes, from /proc/meminfo (MemAvailable); 0 if unknown.
double available_memory_bytes() {
    std::ifstream meminfo("/proc/meminfo");
    std::string key;
    double kilobytes = 0.0;
    std::string unit;
    while (meminfo >> key >> kilobytes >> unit) {
        if (key == "MemAvailable:") {
            return kilobytes * 1024.0;
        }
    }
    return 0.0;
}

// One untimed run before the first repetition of a benchmark: it touches every
// buffer and wakes the core. For a version that materialises the scores it also
// decides whether to run at all; the decision is kept for the later repetitions.
// Returns false (after SkipWithError) when the benchmark is skipped.
bool warm_up(benchmark::State& state, const std::string& key, const std::function<void()>& forward,
             bool materialises_scores, const Shape& shape) {
    static std::map<std::string, std::string> skipped;  // key -> why
    static std::set<std::string> warm;
    if (const auto found = skipped.find(key); found != skipped.end()) {
        state.SkipWithError(found->second.c_str());
        return false;
    }
    if (warm.count(key) != 0) {
        return true;
    }
    std::string why;
    const double score_bytes = 4.0 * static_cast<double>(shape.batch * shape.num_heads * shape.seq_len) *
                               static_cast<double>(shape.seq_len);
    const double free_bytes = available_memory_bytes();
    if (materialises_scores && free_bytes > 0.0 && score_bytes > free_bytes / 2) {
        why = "skipped: its (B, H, L, L) float scores would need " + std::to_string(score_bytes / (1 << 20)) +
              " MiB, more than half of the " + std::to_string(free_bytes / (1 << 20)) + " MiB free";
    } else {
        try {
            const double seconds = timed(forward);
            if (materialises_scores && seconds > max_seconds_per_iteration) {
                std::ostringstream text;
                text.precision(1);
                text << std::fixed << "skipped: one forward pass took " << seconds << " s, more than "
                     << max_seconds_per_iteration << " s";
                why = text.str();
            }
        } catch (const std::exception& error) {
            why = std::string("skipped: the forward pass failed: ") + error.what();
        }
    }
    if (!why.empty()) {
        skipped[key] = why;
        state.SkipWithError(why.c_str());
        return false;
    }
    warm.insert(key);
    return true;
}

// ============================================================================
// The benchmarks
// ============================================================================

// One forward pass of the fast attention.
void attention_fast(benchmark::State& state, const std::string& key, const Shape& shape, mha::FastVersion version,
                    std::size_t threads) {
    const Problem& p = problem(shape);
    mha::FastAttentionOptions options;
    options.version = version;
    options.threads = threads;
    options.need_weights = false;
    const auto forward = [&] {
        mha::FastAttentionResult result = p.fast->forward(p.input, p.input, p.input, {}, options);
        benchmark::DoNotOptimize(result.output.data());
    };
    const bool materialises_scores = static_cast<int>(version) <= static_cast<int>(mha::FastVersion::blocked);
    if (!warm_up(state, key, forward, materialises_scores, shape)) {
        return;
    }
    run_timed(state, forward, mha::attention_flops(shape.batch, shape.seq_len, shape.embed_dim));
}

// One forward pass of the lesson 4 reference: double precision, weights always computed.
void attention_reference(benchmark::State& state, const std::string& key, const Shape& shape) {
    const Problem& p = problem(shape);
    const mha::Tensor3 input = xt::cast<double>(p.input);
    const auto forward = [&] {
        mha::MultiHeadAttentionResult result = p.reference.forward(input, input, input);
        benchmark::DoNotOptimize(result.output.data());
    };
    if (!warm_up(state, key, forward, false, shape)) {
        return;
    }
    run_timed(state, forward, mha::attention_flops(shape.batch, shape.seq_len, shape.embed_dim));
}

// The input projection as one BLAS product: X (L, E) times W_inᵀ, where W_in is
// PyTorch's in_proj_weight (3E, E), gives the packed [Q | K | V] (L, 3E).
void projection_blas(benchmark::State& state, const Shape& shape) {
    const auto M = static_cast<int>(shape.seq_len), N = static_cast<int>(3 * shape.embed_dim),
               K = static_cast<int>(shape.embed_dim);
    const Problem& p = problem(shape);
    std::vector<float> weight(static_cast<std::size_t>(N) * static_cast<std::size_t>(K));
    mha::RandomGenerator random(7);
    for (float& w : weight) {
        w = static_cast<float>(random.uniform(-0.05, 0.05));
    }
    std::vector<float> product(static_cast<std::size_t>(M) * static_cast<std::size_t>(N));
    const auto multiply = [&] {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, p.input.data(), K, weight.data(), K,
                    0.0f, product.data(), N);
        benchmark::DoNotOptimize(product.data());
    };
    multiply();  // warm-up
    run_timed(state, multiply, 2.0 * M * N * K);
}

// The same product with the lesson's gemm(): W_inᵀ packed once, as
// FastMultiHeadAttention packs its weights, then C = X · W_inᵀ with the
// micro-kernel the dispatch chose.
void projection_gemm(benchmark::State& state, const Shape& shape) {
    const std::size_t M = shape.seq_len, N = 3 * shape.embed_dim, K = shape.embed_dim;
    const Problem& p = problem(shape);
    const mha::SimdKernels& kernels = mha::simd_kernels();
    std::vector<float> weight(N * K);  // W_in (3E, E), as PyTorch stores in_proj_weight
    mha::RandomGenerator random(7);
    for (float& w : weight) {
        w = static_cast<float>(random.uniform(-0.05, 0.05));
    }
    const mha::PackedMatrix packed = mha::PackedMatrix::transposed(weight.data(), K, K, N, kernels.nr);
    std::vector<float> product(M * N);
    const auto multiply = [&] {
        mha::gemm(kernels, M, p.input.data(), K, packed.view(), product.data(), N, false);
        benchmark::DoNotOptimize(product.data());
    };
    multiply();  // warm-up
    run_timed(state, multiply, 2.0 * static_cast<double>(M * N * K));
}

// The peak probe itself, as a benchmark: its gflops should be close to peak_gflops.
void fma_peak(benchmark::State& state) {
    constexpr std::uint64_t rounds = 1 << 18;  // about a millisecond
    run_timed(
        state, [] { benchmark::DoNotOptimize(mha::bench::run_fma_chains(rounds)); }, mha::bench::fma_chain_flops(rounds));
}

// ============================================================================
// Registration, in the order they run: shape by shape
// ============================================================================

void register_benchmarks() {
    benchmark::RegisterBenchmark(("fma_peak/" + measured_peak.instruction_set).c_str(), fma_peak)
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
    const mha::FastVersion versions[] = {mha::FastVersion::blas, mha::FastVersion::simd, mha::FastVersion::blocked,
                                         mha::FastVersion::fused, mha::FastVersion::threaded};
    for (const Shape& shape : shapes) {
        if (&shape == &smallest_shape) {
            const std::string name = "attention/reference-double/" + shape.name() + "/threads:1";
            benchmark::RegisterBenchmark(name.c_str(),
                                         [name, shape](benchmark::State& state) {
                                             attention_reference(state, name, shape);
                                         })
                ->UseManualTime()
                ->Unit(benchmark::kMillisecond);
        }
        for (const mha::FastVersion version : versions) {
            std::vector<std::size_t> thread_counts = {1};
            if (version == mha::FastVersion::threaded && shape.seq_len == scaling_seq_len) {
                thread_counts.push_back(2);
            }
            for (const std::size_t threads : thread_counts) {
                const std::string name = "attention/" + mha::fast_version_name(version) + "/" + shape.name() +
                                         "/threads:" + std::to_string(threads);
                benchmark::RegisterBenchmark(name.c_str(),
                                             [name, shape, version, threads](benchmark::State& state) {
                                                 attention_fast(state, name, shape, version, threads);
                                             })
                    ->UseManualTime()
                    ->Unit(benchmark::kMillisecond);
            }
        }
        const std::string sizes = "/L:" + std::to_string(shape.seq_len) + "/E:" + std::to_string(shape.embed_dim);
        benchmark::RegisterBenchmark(("projection/blas-sgemm" + sizes).c_str(),
                                     [shape](benchmark::State& state) { projection_blas(state, shape); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
        benchmark::RegisterBenchmark(("projection/gemm" + sizes).c_str(),
                                     [shape](benchmark::State& state) { projection_gemm(state, shape); })
            ->UseManualTime()
            ->Unit(benchmark::kMillisecond);
    }
}

std::string environment(const char* name) {
    const char* value = std::getenv(name);
    return value == nullptr ? "(unset)" : value;
}

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    measured_peak = mha::bench::measure_fma_peak();
    // Recorded in the JSON output's "context", for the report's "measured on" line.
    benchmark::AddCustomContext("cpu_model", mha::bench::cpu_model());
    benchmark::AddCustomContext("fma_peak_gflops", std::to_string(measured_peak.gflops));
    benchmark::AddCustomContext("fma_peak_instruction_set", measured_peak.instruction_set);
    benchmark::AddCustomContext("simd_instruction_set", mha::simd_instruction_set());
    benchmark::AddCustomContext("compiler", MHA_COMPILER);
    benchmark::AddCustomContext("mha_build_type", MHA_BUILD_TYPE);
    benchmark::AddCustomContext("OPENBLAS_NUM_THREADS", environment("OPENBLAS_NUM_THREADS"));
    benchmark::AddCustomContext("OPENBLAS_CORETYPE", environment("OPENBLAS_CORETYPE"));
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
