// Lesson 6 introduces this header: `mha backward`, the gradients of one call of
// the course's mha::MultiHeadAttention on .npy files, so that a learner (or a
// teacher) can compare them with PyTorch's autograd, or with their own backward
// pass. It takes `mha forward`'s inputs (attention_inputs.hpp) and dL/doutput:
//
//   mha backward --weights DIR --num-heads H --query Q.npy [--key K.npy] [--value V.npy]
//                [--attn-mask M.npy] [--key-padding-mask P.npy] [--causal]
//                --grad-output DY.npy --grads-out DIR
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "cli/attention_inputs.hpp"

/// @file
/// @brief `mha backward`: lesson 6's gradients of attention on .npy files (introduced in @ref lesson06).

namespace mha::cli {

/// What `mha backward` was asked to do; the paths are as given on the command line.
struct BackwardOptions {
    AttentionInputOptions inputs;  ///< `--weights` ... `--causal`, exactly as `mha forward` has them.
    std::string grad_output_path;  ///< `--grad-output`: dL/doutput, the query's shape (B, L, E) or (L, E).
    std::string grads_out_dir;     ///< `--grads-out`: the folder the gradients go into, created if missing.
};

/// Adds the subcommand `backward` and its options to the program: those of
/// `mha forward` that name the inputs, then `--grad-output` and `--grads-out`.
///
/// @param program the `mha` command.
/// @param options filled in as the command line is parsed; it must outlive the parsing.
/// @return the subcommand; `parsed()` says whether it was named.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson06
CLI::App& add_backward_command(CLI::App& program, BackwardOptions& options);

/// Runs `mha backward`: loads and checks every file as `mha forward` does, and
/// the gradient of the output, which must have the output's shape (the
/// query's); computes every gradient with mha::multi_head_attention_backward in
/// double precision; and writes them into the folder `--grads-out` (created if
/// missing) in the query's dtype, printing one line per file written:
///
///     query.grad.npy   (B, L, E)      dL/dquery     } (L, E), (S, kdim), (S, vdim)
///     key.grad.npy     (B, S, kdim)   dL/dkey       } for unbatched input
///     value.grad.npy   (B, S, vdim)   dL/dvalue     }
///     in_proj_weight.npy (3E, E), or q_proj_weight.npy (E, E), k_proj_weight.npy
///     (E, kdim) and v_proj_weight.npy (E, vdim); in_proj_bias.npy (3E) and
///     out_proj.bias.npy (E) with biases; out_proj.weight.npy (E, E): each
///     parameter's gradient under its name in PyTorch's state_dict() (save_parameters()).
///
/// Query, key and value are three separate inputs, as three leaf tensors in
/// PyTorch: without `--key` and `--value` (self-attention) the gradient of the
/// one tensor x behind all three is the sum of the three files.
///
/// @param options as parsed.
/// @throws InputError naming the file or option at fault for any bad input,
///         such as a `--grad-output` of another shape than the query's.
/// @throws std::runtime_error starting with the file's path for a file the
///         library cannot read or write.
/// @see @ref lesson06
void run_backward(const BackwardOptions& options);

}  // namespace mha::cli
