// Lesson 4 introduces this header, with `mha forward`: reading the .npy files
// given on the command line, each checked before anything is computed, so that
// a wrong file is named in one line instead of failing deep inside attention.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "io/npy_file.hpp"

/// @file
/// @brief The `mha` command's .npy inputs, read and checked (introduced in @ref lesson04).

namespace mha::cli {

/// The shape of an array, as a list of sizes.
///
/// @param values any array.
/// @return its sizes, such as {2, 4, 8}.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::vector<std::size_t> shape_of(const xt::xarray<double>& values);

/// A shape as NumPy prints it, for messages about .npy files: mha::shape_string(),
/// but with NumPy's comma in a 1-D shape, `(5,)`.
///
/// @param shape the sizes, such as {5}.
/// @return the text, such as `(5,)` or `(2, 4)`.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::string numpy_shape_string(const std::vector<std::size_t>& shape);

/// Reads any .npy file given to an option, as mha::read_npy() does, but first
/// says so plainly when the path is missing, a folder, or anything else that is
/// not a regular file (a FIFO or a device, refused at once, never waited on).
///
/// @param path the file, as given.
/// @param option the option that named it, such as `--query`, for the message.
/// @return the element type and the values, row-major.
/// @throws InputError naming the path if it does not exist or is not a regular file.
/// @throws std::runtime_error starting with the path (from mha::read_npy()) if
///         the file is not a .npy file, holds another element type, or is truncated.
/// @see @ref lesson04
mha::NpyArray read_npy_input(const std::string& path, const std::string& option);

/// Reads a query, key or value: float32 or float64, 3-D (B, N, width) or
/// 2-D (N, width), no empty axis, finite numbers only.
///
/// @param path the file.
/// @param option `--query`, `--key` or `--value`, for the messages.
/// @param batched true: the array must be 3-D; false: 2-D; nullopt: either
///        (the query decides for the key and value).
/// @param type if not null, set to the file's element type.
/// @return the values, (B, N, width) or (N, width).
/// @throws InputError naming the path if the file is bool, has the wrong number
///         of axes or an empty one, or holds NaN or infinity (with its index).
/// @throws std::runtime_error as read_npy_input() does.
/// @see @ref lesson04
xt::xarray<double> read_sequences(const std::string& path, const std::string& option, std::optional<bool> batched,
                                  mha::NpyType* type = nullptr);

/// Reads an array that must have exactly the given shape, such as `--grad-output`,
/// which has the output's shape: float32 or float64, finite numbers only.
///
/// @param path the file.
/// @param option such as `--grad-output`, for the messages.
/// @param shape the shape it must have, as the user sees it, such as (B, L, E) = {2, 4, 8}.
/// @param whose what that shape is, for the message, such as "the query's shape (B, L, E)".
/// @param type if not null, set to the file's element type.
/// @return the values, of that shape.
/// @throws InputError naming the path if the file is bool, has another shape
///         (the message gives both), or holds NaN or infinity (with its index).
/// @throws std::runtime_error as read_npy_input() does.
/// @see @ref lesson06
xt::xarray<double> read_floats_of_shape(const std::string& path, const std::string& option,
                                        const std::vector<std::size_t>& shape, const std::string& whose,
                                        mha::NpyType* type = nullptr);

/// Reads a mask: bool, float32 or float64, any shape; a float mask may hold
/// finite numbers and -inf only (mha::is_finite_or_minus_infinity()).
///
/// @param path the file.
/// @param option `--attn-mask` or `--key-padding-mask`, for the messages.
/// @return the element type and the values, row-major.
/// @throws InputError naming the path if a float mask holds NaN or +inf (with its index).
/// @throws std::runtime_error as read_npy_input() does.
/// @see @ref lesson04
mha::NpyArray read_mask(const std::string& path, const std::string& option);

}  // namespace mha::cli
