// Lesson 4 introduces this header: `mha forward`, one forward pass of the
// course's mha::MultiHeadAttention on .npy files, so that anyone can compare
// the course's numbers with PyTorch's nn.MultiheadAttention.
//
//   mha forward --weights DIR --num-heads H --query Q.npy [--key K.npy] [--value V.npy]
//               [--attn-mask M.npy] [--key-padding-mask P.npy] [--causal]
//               --out OUT.npy [--weights-out W.npy] [--average-weights]
//               [--num-kv-heads G]                       (lesson 7: grouped-query attention)
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "cli/attention_inputs.hpp"

/// @file
/// @brief `mha forward`: lesson 4's attention on .npy files (introduced in @ref lesson04).

namespace mha::cli {

/// What `mha forward` was asked to do; the paths are as given on the command line.
struct ForwardOptions {
    AttentionInputOptions inputs;                 ///< `--weights` ... `--causal`, as `mha backward` has them.
    std::string out_path;                         ///< `--out`: where the output goes, in the query's dtype.
    std::optional<std::string> weights_out_path;  ///< `--weights-out`: where the weights go, if anywhere.
    bool average_weights = false;                 ///< `--average-weights`: the weights averaged over the heads.
    std::size_t num_kv_heads = 0;                 ///< `--num-kv-heads` (lesson 7): G; 0 when not given, meaning G = H.
};

/// Adds the subcommand `forward` and its options to the program.
///
/// @param program the `mha` command.
/// @param options filled in as the command line is parsed; it must outlive the parsing.
/// @return the subcommand; `parsed()` says whether it was named.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
CLI::App& add_forward_command(CLI::App& program, ForwardOptions& options);

/// Runs `mha forward`: checks the options together, loads and checks every
/// file before anything is computed, runs MultiHeadAttention::forward in
/// double precision, and writes the output (and the weights, if asked) in the
/// query's dtype, printing one line per file written.
///
/// With `--num-kv-heads G` and G ≠ H (lesson 7), the weights are those of
/// grouped-query attention (load_grouped_query_parameters: q_proj_weight.npy
/// (E, E), k_proj_weight.npy and v_proj_weight.npy (G·d_k, E), ...) and
/// GroupedQueryAttention::forward runs instead: self-attention, with --causal
/// as the only mask.
///
/// @param options as parsed.
/// @throws InputError naming the file or option at fault for any bad input.
/// @throws std::runtime_error starting with the file's path for a file the
///         library cannot read (not a .npy file, truncated, a wrong dtype).
/// @see @ref lesson04, @ref lesson07
void run_forward(const ForwardOptions& options);

}  // namespace mha::cli
