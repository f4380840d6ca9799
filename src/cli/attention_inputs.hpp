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
#include <vector>

#include <CLI/CLI.hpp>
#include <xtensor/xarray.hpp>

#include "core/tensor.hpp"
#include "io/npy_file.hpp"
#include "io/output_files.hpp"
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
/// Two float masks must add up to finite numbers (or -inf) wherever both apply:
/// 1e308 in both would overflow to +inf, which is refused naming both files.
///
/// @param options as parsed.
/// @return the inputs, the query, key and value as (B, ·, ·) even when unbatched.
/// @throws InputError naming the file or option at fault for any bad input.
/// @throws std::runtime_error starting with the file's path for a file the
///         library cannot read (not a .npy file, truncated, a wrong dtype,
///         permission denied, not a regular file, E = 0).
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

/// A file the command reads or writes, with the option that named it (for messages).
struct NamedFile {
    std::string path;    ///< as given, or made from a folder given, such as `grads/query.grad.npy`.
    std::string option;  ///< such as `--query` or `--weights`.
};

/// Every file an attention call reads: each parameter file present in
/// `--weights`, the query, key, value and masks given.
///
/// @param options as parsed.
/// @return the files, with their options.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::vector<NamedFile> input_files(const AttentionInputOptions& options);

/// Refuses an output file that surely cannot be written, before anything is
/// computed, so that a typo in one output path costs no computation: a folder,
/// a device (such as /dev/full), a FIFO, a symbolic link to nothing, a missing
/// folder, a folder without write permission.
///
/// @param path the file, as given.
/// @param option the option that named it, such as `--out`.
/// @throws InputError naming the path (and the option) if it cannot be an output.
/// @see @ref lesson04
void check_destination(const std::string& path, const std::string& option);

/// Refuses, before anything is computed, an output that is the same file as an
/// input or as another output, however it is written: other spellings such as
/// an absolute path for a relative one, and symbolic and hard links, are caught by
/// comparing the files' identities, mha::file_identity().
///
/// @param inputs every file the command reads.
/// @param outputs every file it will write.
/// @throws InputError naming the later option of the two, and the other, such
///         as `--weights-out: 'w.npy' is the same file as --out (out.npy)`.
/// @see @ref lesson04
void check_outputs_are_not_inputs(const std::vector<NamedFile>& inputs, const std::vector<NamedFile>& outputs);

/// Refuses a result that holds NaN or infinity, or a value that would become
/// infinity when written as float32 (beyond 3.4e38), so that no output ever
/// holds what the inputs did not.
///
/// @param values the result, any shape.
/// @param type the dtype it is to be written in.
/// @param output the file and option it is for.
/// @param what the result in words, such as "the output" or "dL/dquery".
/// @throws InputError naming the option, the value and its index when one is refused.
/// @see @ref lesson04
void check_finite_result(const xt::xarray<double>& values, mha::NpyType type, const NamedFile& output,
                         const std::string& what);

/// Writes one array into the outputs of a run (mha::OutputFiles): to a
/// temporary file next to `output.path`, renamed into place by commit().
///
/// @param outputs the run's outputs.
/// @param output the file and the option that named it (or its folder).
/// @param values any shape.
/// @param type the element type to write: the query's.
/// @throws InputError naming the path and the option if it cannot be written.
/// @see @ref lesson04
void stage_result(mha::OutputFiles& outputs, const NamedFile& output, const xt::xarray<double>& values,
                  mha::NpyType type);

/// Says on stdout, in one line, that a file was written:
/// `mha forward: wrote out.npy, (2, 4, 8) float32`.
///
/// @param command `forward` or `backward`.
/// @param path the file, as given.
/// @param values what it holds.
/// @param type its element type.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
void report_written(const std::string& command, const std::string& path, const xt::xarray<double>& values,
                    mha::NpyType type);

}  // namespace mha::cli
