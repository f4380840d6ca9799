// Lesson 5 introduces this header: `mha bench`, a stopwatch for lesson 5's
// mha::FastMultiHeadAttention that prints one JSON line, with the process's
// peak resident memory, which only a process of its own can measure
// (scripts/run_benchmarks.sh uses it for the fused version's memory).
//
//   mha bench --seq-len L --embed-dim E --num-heads H [--batch B] [--threads T]
//             [--repeat R] [--version V]
#pragma once

#include <cstddef>

#include <CLI/CLI.hpp>

#include "fast/fast_multi_head_attention.hpp"

/// @file
/// @brief `mha bench`: timing lesson 5's fast attention (introduced in @ref lesson05).

namespace mha::cli {

/// What `mha bench` was asked to do.
struct BenchOptions {
    std::size_t seq_len = 0;                                ///< `--seq-len`: L (= S, self-attention).
    std::size_t embed_dim = 0;                              ///< `--embed-dim`: E.
    std::size_t num_heads = 0;                              ///< `--num-heads`: H, which must divide E.
    std::size_t batch = 1;                                  ///< `--batch`: B.
    std::size_t threads = 1;                                ///< `--threads`: the threads v5 may use.
    std::size_t repeat = 10;                                ///< `--repeat`: R, the timed passes.
    mha::FastVersion version = mha::FastVersion::threaded;  ///< `--version`: which version of lesson 5.
};

/// Adds the subcommand `bench` and its options to the program.
///
/// @param program the `mha` command.
/// @param options filled in as the command line is parsed; it must outlive the parsing.
/// @return the subcommand; `parsed()` says whether it was named.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson05
CLI::App& add_bench_command(CLI::App& program, BenchOptions& options);

/// Runs `mha bench`: self-attention of a random (B, L, E) float input through a
/// random module (the same seed every run), one untimed warm-up pass, then R
/// timed passes, and one JSON object on one line of stdout: the settings, the
/// median and fastest times, the flops of one pass (mha::attention_flops()),
/// GFLOP/s at the median time, and the peak resident memory.
///
/// @param options as parsed.
/// @throws InputError naming the option if H does not divide E, if the input
///         could not be counted in memory, or if the version refuses the settings.
/// @see @ref lesson05
void run_bench(const BenchOptions& options);

}  // namespace mha::cli
