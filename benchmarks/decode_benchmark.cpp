// Lesson 7's benchmarks: how long does generating one token take with a K/V
// cache, without one, and with fewer K/V heads; and how close does the
// attention step come to reading memory as fast as this core can?
//
//   read_bandwidth/MB:..
//       the probe (read_bandwidth_probe.hpp): the sum of a float array of that
//       many megabytes (10⁶ bytes), one thread. Counter bytes_per_second.
//   decode_attention/L:../H:8/G:../d_k:64/B:1
//       fast_cached_attention() alone: one new token's 8 query heads over a cache
//       of L positions of G K/V heads (src/decode/fast_decode_step.hpp).
//       Counters cache_bytes (2·G·L·d_k·4, the keys and values the step reads)
//       and bytes_per_second (cache_bytes per second).
//   decode_step/L:../E:512/H:8/G:../B:1
//       one whole decoding step of one layer, FastDecodeLayer::step(): the new
//       token's projections, appending to the cache (which holds L - 1 earlier
//       tokens), attention over the L positions, the output projection.
//   decode_recompute/L:../E:512/H:8/B:1
//       the same token without a cache: lesson 5's fused causal attention (v4,
//       one thread) over the whole prefix of L tokens, of which the last row is
//       kept (fast_recompute_last_token()).
//
// Everything is on one thread. scripts/lesson07_speed_tables.py runs this
// program once with --benchmark_repetitions=5 and turns the medians into
// lessons/07-decoding/speed_tables.md.

#include <cstddef>
#include <cstdlib>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <xtensor/xtensor.hpp>

#include "cpu_model.hpp"
#include "core/random.hpp"
#include "decode/decode_kernels.hpp"
#include "decode/fast_decode_step.hpp"
#include "fast/fast_multi_head_attention.hpp"
#include "fast/packing.hpp"
#include "read_bandwidth_probe.hpp"

#ifndef MHA_COMPILER
#define MHA_COMPILER "unknown"
#endif
#ifndef MHA_BUILD_TYPE
#define MHA_BUILD_TYPE "unknown"
#endif

namespace {

constexpr std::size_t embed_dim = 512;  // E
constexpr std::size_t num_heads = 8;    // H
constexpr std::size_t head_dim = 64;    // d_k = E / H

// Uniform floats in [-1, 1), drawn once per benchmark (not timed).
void fill_random(float* x, std::size_t n, mha::RandomGenerator& random) {
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(random.uniform(-1.0, 1.0));
    }
}

// L positions of random keys and values for entry 0 of a cache.
void fill_cache(mha::FastKeyValueCache& cache, std::size_t positions, mha::RandomGenerator& random) {
    std::vector<float> keys(cache.kv_heads() * cache.head_dim()), values(keys.size());  // (G, d_k)
    for (std::size_t t = 0; t < positions; ++t) {
        fill_random(keys.data(), keys.size(), random);
        fill_random(values.data(), values.size(), random);
        cache.append(0, keys.data(), values.data());
    }
}

void read_bandwidth(benchmark::State& state, std::size_t megabytes) {
    const std::size_t n = megabytes * 1000000 / sizeof(float);
    mha::AlignedFloats data(n, 1.0f);  // written once, so every page is mapped before the timing
    for (auto _ : state) {
        benchmark::DoNotOptimize(mha::bench::sum_floats(data.data(), n));
    }
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n * sizeof(float)));
    state.counters["megabytes"] = static_cast<double>(megabytes);
}

void decode_attention(benchmark::State& state, std::size_t length, std::size_t kv_heads) {
    mha::RandomGenerator random(7);
    mha::FastKeyValueCache cache(1, kv_heads, head_dim, length);
    fill_cache(cache, length, random);
    mha::AlignedFloats queries(num_heads * head_dim);  // (H, d_k)
    fill_random(queries.data(), queries.size(), random);
    mha::AlignedFloats output(num_heads * head_dim);  // (H, d_k)
    mha::AlignedFloats scratch(mha::fast_cached_attention_scratch(cache, num_heads));
    for (auto _ : state) {
        mha::fast_cached_attention(cache, 0, queries.data(), num_heads, output.data(), scratch.data());
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
    }
    const double cache_bytes = static_cast<double>(cache.bytes_per_position() * length);
    state.counters["cache_bytes"] = cache_bytes;
    state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(cache_bytes));
}

void decode_step(benchmark::State& state, std::size_t length, std::size_t kv_heads) {
    mha::RandomGenerator random(11);
    const mha::GroupedQueryAttention weights =
        mha::random_grouped_query_attention(embed_dim, num_heads, kv_heads, true, random);
    mha::FastDecodeLayer layer(weights, 1, length);
    fill_cache(layer.cache(), length - 1, random);  // the earlier tokens' keys and values
    xt::xtensor<float, 2> token = xt::zeros<float>({std::size_t{1}, embed_dim});   // (B, E)
    xt::xtensor<float, 2> output = xt::zeros<float>({std::size_t{1}, embed_dim});  // (B, E)
    fill_random(token.data(), token.size(), random);
    for (auto _ : state) {
        layer.step(token, output);  // appends the L-th position...
        benchmark::DoNotOptimize(output.data());
        benchmark::ClobberMemory();
        state.PauseTiming();
        layer.cache().truncate(0, length - 1);  // ...which the next iteration replaces
        state.ResumeTiming();
    }
    state.counters["cache_bytes"] = static_cast<double>(layer.cache().bytes_per_position() * length);
}

void decode_recompute(benchmark::State& state, std::size_t length) {
    mha::RandomGenerator random(13);
    const mha::GroupedQueryAttention weights = mha::random_grouped_query_attention(embed_dim, num_heads, num_heads, true, random);
    const mha::FastMultiHeadAttention attention(mha::repeat_key_value_heads(weights));
    mha::FloatTensor3 prefix = xt::zeros<float>({std::size_t{1}, length, embed_dim});  // (B, L, E)
    fill_random(prefix.data(), prefix.size(), random);
    for (auto _ : state) {
        const xt::xtensor<float, 2> last = mha::fast_recompute_last_token(attention, prefix);  // (B, E)
        benchmark::DoNotOptimize(last.data());
    }
}

void register_benchmarks() {
    for (const std::size_t megabytes : {16, 1024}) {
        benchmark::RegisterBenchmark(("read_bandwidth/MB:" + std::to_string(megabytes)).c_str(),
                                     [megabytes](benchmark::State& state) { read_bandwidth(state, megabytes); })
            ->Unit(benchmark::kMillisecond);
    }
    for (const std::size_t length : {4096, 16384, 65536}) {
        for (const std::size_t kv_heads : {8, 4, 2, 1}) {
            const std::string name = "decode_attention/L:" + std::to_string(length) + "/H:8/G:" +
                                     std::to_string(kv_heads) + "/d_k:64/B:1";
            benchmark::RegisterBenchmark(name.c_str(), [length, kv_heads](benchmark::State& state) {
                decode_attention(state, length, kv_heads);
            })->Unit(benchmark::kMicrosecond);
        }
    }
    for (const std::size_t length : {256, 512, 1024, 2048, 4096, 8192}) {
        for (const std::size_t kv_heads : {8, 4, 2, 1}) {
            if (kv_heads != 8 && length != 4096) {
                continue;  // fewer K/V heads: at L = 4096 only
            }
            const std::string name = "decode_step/L:" + std::to_string(length) + "/E:512/H:8/G:" +
                                     std::to_string(kv_heads) + "/B:1";
            benchmark::RegisterBenchmark(name.c_str(), [length, kv_heads](benchmark::State& state) {
                decode_step(state, length, kv_heads);
            })->Unit(benchmark::kMicrosecond);
        }
        auto* recompute = benchmark::RegisterBenchmark(
            ("decode_recompute/L:" + std::to_string(length) + "/E:512/H:8/B:1").c_str(),
            [length](benchmark::State& state) { decode_recompute(state, length); });
        recompute->Unit(benchmark::kMillisecond);
        if (length >= 4096) {
            recompute->Iterations(1);  // 0.25 s at 4096, about 1 s at 8192: one run per repetition
        }
        if (length >= 8192) {
            recompute->Repetitions(3);
        }
    }
}


}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) {
        return 1;
    }
    benchmark::AddCustomContext("cpu_model", mha::bench::cpu_model());
    benchmark::AddCustomContext("decode_instruction_set", mha::decode_kernels().instruction_set);
    benchmark::AddCustomContext("read_probe_instruction_set", mha::bench::read_probe_instruction_set());
    benchmark::AddCustomContext("compiler", MHA_COMPILER);
    benchmark::AddCustomContext("mha_build_type", MHA_BUILD_TYPE);
    register_benchmarks();
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
    return 0;
}
