// Lesson 4 introduces this header, with `mha forward`; lesson 6's `mha backward`
// shares it. Both subcommands run the same attention call on the same files:
// the module's parameters, the query, key and value, and the masks. This is the
// one place that declares those options and loads and checks those files, so
// that both subcommands accept exactly the same inputs, with the same messages.
//
//   --weights DIR --num-heads H --query Q.npy [--key K.npy] [--value V.npy]
//   [--attn-mask M.npy] [--key-padding-mask P.npy] [--causal]
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>
#include <xtensor/xarray.hpp>

#include "core/tensor.hpp"
#include "io/npy_file.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief The inputs of one attention call on .npy files, shared by `mha forward`
///        and `mha backward` (introduced in @ref lesson04).

namespace mha::cli {

/// The options that say what to run attention on; the paths are as given on the command line.
struct AttentionInputOptions {
    std::string weights_dir;                           ///< `--weights`: the folder of PyTorch-named parameter files.
    std::size_t num_heads = 0;                         ///< `--num-heads`: H, which the files do not record.
    std::string query_path;                            ///< `--query`: (B, L, E), or (L, E) unbatched.
    std::optional<std::string> key_path;               ///< `--key`: (B, S, kdim); by default the query.
    std::optional<std::string> value_path;             ///< `--value`: (B, S, vdim); by default the query.
    std::optional<std::string> attn_mask_path;         ///< `--attn-mask`: (L, S) or (B·H, L, S).
    std::optional<std::string> key_padding_mask_path;  ///< `--key-padding-mask`: (B, S), or (S) unbatched.
    bool causal = false;                               ///< `--causal`: also the look-ahead mask.
};

/// Everything one attention call needs, loaded, checked and in the library's types.
struct AttentionInputs {
    mha::MultiHeadAttention module;                    ///< the parameters of `--weights`, with H heads.
    bool batched = true;                               ///< the query was (B, L, E), not (L, E).
    mha::NpyType output_type = mha::NpyType::float64;  ///< the query's dtype, in which results are written.
    mha::Tensor3 query;                                ///< (B, L, E); B = 1 for unbatched input.
    mha::Tensor3 key;                                  ///< (B, S, kdim).
    mha::Tensor3 value;                                ///< (B, S, vdim).
    mha::AttentionMasks masks;                         ///< the masks given, all to be added up.
};

/// Adds the options of AttentionInputOptions to a subcommand, in the order the
/// help lists them: `--weights`, `--num-heads` and `--query` (required), then
/// `--key`, `--value`, `--attn-mask`, `--key-padding-mask` and `--causal`.
///
/// @param command the subcommand, `forward` or `backward`.
/// @param options filled in as the command line is parsed; it must outlive the parsing.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
void add_attention_input_options(CLI::App& command, AttentionInputOptions& options);

/// Loads and checks every file the options name, before anything is computed:
/// the parameters (finite, E divisible by H), the query (which decides B, L and
/// whether the input is batched), the key and value (the query's B, one S, the
/// module's kdim and vdim) and the masks (PyTorch's shapes).
///
/// @param options as parsed.
/// @return the inputs, the query, key and value as (B, ·, ·) even when unbatched.
/// @throws InputError naming the file or option at fault for any bad input.
/// @throws std::runtime_error starting with the file's path for a file the
///         library cannot read (not a .npy file, truncated, a wrong dtype).
/// @see @ref lesson04
AttentionInputs load_attention_inputs(const AttentionInputOptions& options);

/// A shape as the user gave it: (B, N, width), or (N, width) for unbatched input,
/// where the loaded tensor has a batch axis of size 1 that the file did not have.
///
/// @param tensor a tensor of AttentionInputs, or one of its shape, (B, N, width).
/// @param batched AttentionInputs::batched.
/// @return the text, such as `(2, 4, 8)`, or `(4, 8)` unbatched.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::string shape_as_given(const mha::Tensor3& tensor, bool batched);

/// (N, width) becomes (1, N, width); (B, N, width) stays as it is.
///
/// @param values a 2-D or 3-D array.
/// @return the values with a batch axis, (B, N, width).
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
mha::Tensor3 as_batch(const xt::xarray<double>& values);

/// Drops the batch axis (of size 1) that as_batch() added to unbatched input:
/// (1, ...) becomes (...).
///
/// @param values any array whose first axis has size 1.
/// @return the same values without that axis.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
xt::xarray<double> without_batch_axis(const xt::xarray<double>& values);

/// Refuses an output file that surely cannot be written, before anything is
/// computed, so that a typo in one output path leaves no other file behind.
///
/// @param path the file, as given.
/// @param option the option that named it, such as `--out`.
/// @throws InputError naming the path if it is a folder or its folder does not exist.
/// @see @ref lesson04
void check_destination(const std::string& path, const std::string& option);

/// Writes one array and says so on stdout, in one line:
/// `mha forward: wrote out.npy, (2, 4, 8) float32`.
///
/// @param command `forward` or `backward`, for the line on stdout.
/// @param path the file.
/// @param option the option that named the file (or its folder), for the message.
/// @param values any shape.
/// @param type the element type to write: the query's.
/// @throws InputError naming the path if the file cannot be written.
/// @see @ref lesson04
void write_result(const std::string& command, const std::string& path, const std::string& option,
                  const xt::xarray<double>& values, mha::NpyType type);

}  // namespace mha::cli
