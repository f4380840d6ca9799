// Lesson 7 introduces this header: `mha generate`, greedy generation with
// lesson 6's trained transformer, one token at a time with a KV cache.
//
//   mha generate --model DIR --prompt "IDS" [--max-new-tokens N]
#pragma once

#include <cstddef>
#include <string>

#include <CLI/CLI.hpp>

/// @file
/// @brief `mha generate`: greedy decoding of a trained model (introduced in @ref lesson07).

namespace mha::cli {

/// What `mha generate` was asked to do.
struct GenerateOptions {
    std::string model_dir;           ///< `--model`: a folder written by `mha train --out` (or its `weights/`).
    std::string prompt;              ///< `--prompt`: token ids separated by spaces or commas, such as "3 9 1 12".
    std::size_t max_new_tokens = 8;  ///< `--max-new-tokens`: N, the tokens to generate.
};

/// Adds the subcommand `generate` and its options to the program.
///
/// @param program the `mha` command.
/// @param options filled in as the command line is parsed; it must outlive the parsing.
/// @return the subcommand; `parsed()` says whether it was named.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson07
CLI::App& add_generate_command(CLI::App& program, GenerateOptions& options);

/// Runs `mha generate`: loads the model (load_transformer), checks the prompt,
/// generates greedily with mha::generate_greedy, printing each token on stdout as
/// soon as it is chosen, then every head's attention at the last step.
///
/// @param options as parsed.
/// @throws InputError naming the folder or option at fault: a missing folder, a
///         model that is not causal, an id that is not a whole number or not below V,
///         a prompt (with the new tokens) longer than the position embedding.
/// @throws std::runtime_error starting with the file's path for a file of the model
///         that is missing or of the wrong shape.
/// @see @ref lesson07
void run_generate(const GenerateOptions& options);

}  // namespace mha::cli
