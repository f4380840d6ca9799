// Lesson 6 introduces this header: `mha train`, which trains the tiny
// transformer on one of lesson 6's tasks and says what its heads learned.
//
//   mha train --task induction|coreference [--layers N] [--heads H] [--num-kv-heads G]
//             [--d-model D] [--steps S] [--seed X] --out DIR
// (--num-kv-heads, lesson 7: G key/value heads shared by the H query heads.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <CLI/CLI.hpp>

#include "train/trainer.hpp"

/// @file
/// @brief `mha train`: training lesson 6's tiny transformer (introduced in @ref lesson06).

namespace mha::cli {

/// What `mha train` was asked to do.
struct TrainOptions {
    mha::TrainingOptions training;  ///< `--task`, `--layers`, `--heads`, `--d-model`, `--steps`, `--seed`;
                                    ///< 0 for a size not given: the task's default (mha::default_options).
    std::size_t num_kv_heads = 0;   ///< `--num-kv-heads` G (lesson 7): key/value heads per layer; 0: G = H.
    std::string out;                ///< `--out`: the folder for the weights and pictures.
};

/// Adds the subcommand `train` and its options to the program.
///
/// @param program the `mha` command.
/// @param options filled in as the command line is parsed; it must outlive the parsing.
/// @return the subcommand; `parsed()` says whether it was named.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson06
CLI::App& add_train_command(CLI::App& program, TrainOptions& options);

/// Runs `mha train`: trains with a progress bar and the loss on stderr (with G < H
/// key/value heads, as lesson 7 does: the K/V rows of each group's query heads tied), writes
/// into the folder the trained weights (save_transformer), every head's
/// attention before and after training (heads_before.svg, heads_after.svg) and
/// the loss curve (loss.svg), and prints one JSON object on stdout: the
/// settings, the time, the final loss, the held-out accuracy and every head's
/// scores.
///
/// @param options as parsed.
/// @throws InputError naming the option if the sizes do not fit together or are out of range,
///         or the folder cannot be written.
/// @see @ref lesson06
void run_train(const TrainOptions& options);

}  // namespace mha::cli
