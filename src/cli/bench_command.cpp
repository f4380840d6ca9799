// `mha bench` (lesson 5): times mha::FastMultiHeadAttention on random data and
// prints one JSON object, such as
//   {"seq_len":512,"embed_dim":512,"num_heads":8,"batch":1,"threads":1,"repeat":10,
//    "version":"v5-threaded","instruction_set":"avx512f","median_ms":12.0,"min_ms":11.8,
//    "flops":1610612736.0,"gflops":134.2,"peak_rss_mb":31.2}
#include "cli/bench_command.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <xtensor/xtensor.hpp>

#include "cli/command_line.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "fast/flop_count.hpp"
#include "fast/simd_dispatch.hpp"
#include "reference/multi_head_attention.hpp"

namespace mha::cli {

namespace {

const mha::FastVersion all_versions[] = {mha::FastVersion::blas, mha::FastVersion::simd, mha::FastVersion::blocked,
                                         mha::FastVersion::fused, mha::FastVersion::threaded};

// --version: 1 to 5, "v1" to "v5", the full name ("v4-fused") or the name alone ("fused").
mha::FastVersion parse_version(const std::string& text) {
    std::string names;
    for (const mha::FastVersion version : all_versions) {
        const std::string name = mha::fast_version_name(version);  // "v4-fused"
        const std::string number = std::to_string(static_cast<int>(version));
        const std::string short_name = name.substr(name.find('-') + 1);  // "fused"
        if (text == number || text == "v" + number || text == name || text == short_name) {
            return version;
        }
        names += (names.empty() ? "" : ", ") + name;
    }
    fail("--version", "'" + text + "' is not a version of lesson 5; give 1 to 5 or a name: " + names);
}

// The largest value of each number: far above any sensible benchmark, low enough
// that a typo (or 18446744073709551615) is a usage error, not an internal one.
struct Limit {
    const char* option;
    std::size_t BenchOptions::*number;
    std::size_t largest;
};
constexpr Limit limits[] = {{"--seq-len", &BenchOptions::seq_len, 1'000'000},
                            {"--embed-dim", &BenchOptions::embed_dim, 65'536},
                            {"--batch", &BenchOptions::batch, 100'000},
                            {"--threads", &BenchOptions::threads, 1'024},
                            {"--repeat", &BenchOptions::repeat, 100'000}};

// The machine's memory in bytes, or 0 if unknown.
double physical_memory_bytes() {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    return pages > 0 && page_size > 0 ? static_cast<double>(pages) * static_cast<double>(page_size) : 0.0;
}

// What CLI11 cannot check: each number's range, then the numbers together.
void check_options_together(const BenchOptions& options) {
    for (const Limit& limit : limits) {
        if (options.*limit.number > limit.largest) {
            fail(limit.option, std::to_string(options.*limit.number) + " is more than " +
                                   std::to_string(limit.largest) + ", the largest `mha bench` accepts");
        }
    }
    if (options.embed_dim % options.num_heads != 0) {
        fail("--num-heads", "E = " + std::to_string(options.embed_dim) + " is not divisible by H = " +
                                std::to_string(options.num_heads) +
                                "; H must divide E, so that every head gets E / H columns");
    }
    // The memory one run needs, roughly: the input, Q, K, V, the heads' outputs and the output
    // (8·B·L·E floats), the (L, L) scores of one head per thread (v1 to v3), the float module
    // (4·E² floats) and the double module it is made from (4·E² doubles).
    const double B = static_cast<double>(options.batch), L = static_cast<double>(options.seq_len),
                 E = static_cast<double>(options.embed_dim), T = static_cast<double>(options.threads);
    const double bytes = 4.0 * (8.0 * B * L * E + T * L * L + 4.0 * E * E) + 8.0 * 4.0 * E * E;
    const double memory = physical_memory_bytes();
    if (memory > 0 && bytes > memory) {
        char text[96];
        std::snprintf(text, sizeof text, "about %.3g GiB of memory, more than this machine's %.3g GiB",
                      bytes / 1073741824.0, memory / 1073741824.0);
        fail("--seq-len", "the run (B, L, E) = " +
                              mha::shape_string({options.batch, options.seq_len, options.embed_dim}) + " would need " +
                              text);
    }
}

// The most memory this process has held so far, in MiB (Linux gives ru_maxrss in KiB).
double peak_resident_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// A measurement to 6 significant digits, as `mha bench` has always printed them:
// a time is not more precise than that, and 0.003816 reads better than 0.0038160000000000004.
double six_digits(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%.6g", x);
    return std::strtod(text, nullptr);
}

// The median of the times, which one slow pass (another process waking up) does not move.
double median(std::vector<double> seconds) {
    std::sort(seconds.begin(), seconds.end());
    const std::size_t middle = seconds.size() / 2;
    return seconds.size() % 2 == 1 ? seconds[middle] : (seconds[middle - 1] + seconds[middle]) / 2;
}

}  // namespace

CLI::App& add_bench_command(CLI::App& program, BenchOptions& options) {
    CLI::App& bench = *program.add_subcommand("bench", "times lesson 5's fast attention");
    add_help_flag(bench);
    add_whole_number_option(bench, "--seq-len", "L", options.seq_len)->required();
    add_whole_number_option(bench, "--embed-dim", "E", options.embed_dim)->required();
    add_whole_number_option(bench, "--num-heads", "H", options.num_heads)->required();
    add_whole_number_option(bench, "--batch", "B", options.batch);
    add_whole_number_option(bench, "--threads", "T", options.threads);
    add_whole_number_option(bench, "--repeat", "R", options.repeat);
    add_value_option(bench, "--version", "V", [&options](const std::string& text) {
        options.version = parse_version(text);
    });
    return bench;
}

void run_bench(const BenchOptions& options) {
    check_options_together(options);

    // A random module, as PyTorch would initialise it, and a random input: the same every run.
    mha::RandomGenerator random(20240601);
    const mha::MultiHeadAttention reference =
        mha::random_multi_head_attention(options.embed_dim, options.num_heads, true, random);
    const mha::FastMultiHeadAttention attention(reference);
    auto input = xt::xtensor<float, 3>::from_shape({options.batch, options.seq_len, options.embed_dim});  // (B, L, E)
    for (float& x : input) {
        x = static_cast<float>(random.normal());
    }

    mha::FastAttentionOptions fast_options;
    fast_options.version = options.version;
    fast_options.threads = options.threads;
    fast_options.need_weights = false;
    const auto forward_seconds = [&] {
        const auto start = std::chrono::steady_clock::now();
        try {
            const mha::FastAttentionResult result = attention.forward(input, input, input, {}, fast_options);
            if (result.output.size() != input.size()) {
                throw std::logic_error("the forward pass returned an output of shape " +
                                       mha::shape_string(result.output) + " for an input of shape " +
                                       mha::shape_string(input));
            }
        } catch (const std::invalid_argument& error) {
            fail("mha bench", mha::fast_version_name(options.version) + " refused these settings: " + error.what());
        }
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    forward_seconds();  // the warm-up: first touches of memory, the core waking up
    std::vector<double> seconds(options.repeat);
    for (double& pass : seconds) {
        pass = forward_seconds();
    }
    const double median_seconds = median(seconds);
    const double flops = mha::attention_flops(options.batch, options.seq_len, options.embed_dim);

    nlohmann::ordered_json json;  // the fields in the order they are set
    json["seq_len"] = options.seq_len;
    json["embed_dim"] = options.embed_dim;
    json["num_heads"] = options.num_heads;
    json["batch"] = options.batch;
    json["threads"] = options.threads;
    json["repeat"] = options.repeat;
    json["version"] = mha::fast_version_name(options.version);
    json["instruction_set"] = mha::simd_instruction_set();
    json["median_ms"] = six_digits(median_seconds * 1e3);
    json["min_ms"] = six_digits(*std::min_element(seconds.begin(), seconds.end()) * 1e3);
    json["flops"] = flops;  // a whole number, exactly
    json["gflops"] = six_digits(flops / median_seconds * 1e-9);
    json["peak_rss_mb"] = six_digits(peak_resident_mib());
    std::cout << json.dump() << "\n";  // flushed, and checked, by main.cpp
}

}  // namespace mha::cli
