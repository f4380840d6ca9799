// Lesson 4 introduces this header: reading and writing NumPy's .npy files, the
// format PyTorch models and their inputs are exchanged in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>

#include "io/npy_header.hpp"

/// @file
/// @brief Checked .npy reading and writing (introduced in @ref lesson04).
///
/// A .npy file is a header (io/npy_header.hpp: the element type, the order and
/// the shape) followed by the elements, nothing else. Reading checks that the
/// file holds exactly the bytes the header promises; writing checks every write.

namespace mha {

/// The element types the course reads and writes in .npy files.
enum class NpyType {
    float32,  ///< `<f4`, PyTorch's default float.
    float64,  ///< `<f8`, double precision.
    boolean,  ///< `|b1`, for boolean masks.
};

/// The name NumPy gives a type: "float32", "float64" or "bool".
/// @see @ref lesson04
std::string npy_type_name(NpyType type);

/// The contents of a .npy file.
struct NpyArray {
    /// The element type stored in the file.
    NpyType type = NpyType::float64;
    /// The elements as doubles (booleans as 0 and 1), any number of dimensions, row-major.
    xt::xarray<double> values;
};

/// Reads a .npy file holding float32 (`<f4`), float64 (`<f8`) or bool (`|b1`) elements.
///
/// Only regular files are read: a folder, a FIFO or a device is refused at once,
/// without waiting on it. The header is parsed by parse_npy_header(); the file
/// must then hold exactly as many bytes of data as the shape needs (the product
/// of the shape is checked for overflow first), so that a truncated file is an
/// error, not garbage; and every byte of a bool array must be 0 or 1.
///
/// @param path the file.
/// @return the element type and the values; Fortran-ordered files are
///         returned in row-major order.
/// @throws std::runtime_error, one line starting with the path, when the file is
///         missing, unreadable (permission denied), not a regular file, not a
///         .npy file, holds another element type (an int64 file is refused by
///         name; see read_npy_int64()), is truncated, or holds a bool byte other
///         than 0 or 1.
/// @throws std::bad_alloc if the values do not fit in memory.
/// @see @ref lesson04
NpyArray read_npy(const std::string& path);

/// read_npy() on a file's bytes already in memory (the fuzz tests use it).
///
/// @param bytes the whole file.
/// @param size its length in bytes.
/// @param name the file's name, which starts every message.
/// @return as read_npy().
/// @throws std::runtime_error as read_npy() does for the file's contents.
/// @see @ref lesson04
NpyArray read_npy_bytes(const char* bytes, std::size_t size, const std::string& name);

/// Reads a .npy file of little-endian int64 elements (`<i8`, what NumPy and
/// PyTorch write for token ids and class labels) as exact integers.
///
/// @param path the file.
/// @return the values, any number of dimensions, row-major.
/// @throws std::runtime_error starting with the path for every problem
///         read_npy() reports, and when the elements are not `<i8`.
/// @see @ref lesson04 @ref lesson06
xt::xarray<std::int64_t> read_npy_int64(const std::string& path);

/// Writes values to a .npy file (version 1.0, or 2.0 for a header too long for
/// 1.0) as the given element type, checking every write and the closing of the
/// file. On failure the partial file is removed: the file is replaced in place,
/// so for all-or-nothing writing of several files use mha::OutputFiles.
///
/// @param path the file to create or overwrite.
/// @param values any shape, row-major.
/// @param type float32, float64, or boolean (non-zero becomes true).
/// @throws std::runtime_error naming the path, and why, if the file cannot be
///         written completely (no such folder, permission denied, disk full,
///         file-size limit).
/// @see @ref lesson04
void write_npy(const std::string& path, const xt::xarray<double>& values, NpyType type);

/// Writes int64 values to a .npy file (`<i8`), as write_npy() writes floats.
///
/// @param path the file to create or overwrite.
/// @param values any shape, row-major.
/// @throws std::runtime_error naming the path if the file cannot be written completely.
/// @see @ref lesson04 @ref lesson06
void write_npy_int64(const std::string& path, const xt::xarray<std::int64_t>& values);

}  // namespace mha
