// Lesson 4 introduces this header: reading and writing NumPy's .npy files, the
// format PyTorch models and their inputs are exchanged in.
#pragma once

#include <string>

#include <xtensor/xarray.hpp>

/// @file
/// @brief Checked .npy reading and writing (introduced in @ref lesson04).

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

/// Reads a .npy file holding float32, float64 or bool elements.
///
/// xtensor's npy support parses the header and converts the data; around it,
/// this checks what xtensor does not: that the header is complete, the element
/// type is one of the three, and the file holds exactly as many bytes as the
/// header promises, so that a truncated file is an error, not garbage.
///
/// @param path the file.
/// @return the element type and the values; Fortran-ordered files are
///         returned in row-major order.
/// @throws std::runtime_error starting with the path when the file is missing,
///         is not a .npy file, holds another element type, or is truncated.
/// @see @ref lesson04
NpyArray read_npy(const std::string& path);

/// Writes values to a .npy file as the given element type.
///
/// @param path the file to create or overwrite.
/// @param values any shape.
/// @param type float32, float64, or boolean (non-zero becomes true).
/// @throws std::runtime_error naming the path if the file cannot be written.
/// @see @ref lesson04
void write_npy(const std::string& path, const xt::xarray<double>& values, NpyType type);

}  // namespace mha
