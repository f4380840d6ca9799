// Lesson 1 introduces this header: the matrix types every lesson passes around,
// and how to print a shape in an error message.
#pragma once

#include <sstream>
#include <string>

#include <xtensor/xtensor.hpp>

/// @file
/// @brief The tensor types of the course (introduced in @ref lesson01).

/// Everything the course builds lives in this namespace.
namespace mha {

/// A row-major 2-D array of doubles, such as Q with shape (L, d_k).
///
/// The reference code of lessons 1-4 computes in double precision, so that it
/// can serve as the ground truth the fast float code of lesson 5 is checked
/// against. Index it as `m(row, column)`; `m.shape(0)` is the number of rows.
using Matrix = xt::xtensor<double, 2>;

/// A row-major 2-D array of booleans: the attention masks of @ref lesson01.
using BoolMatrix = xt::xtensor<bool, 2>;

/// Formats the shape of any xtensor expression the way PyTorch prints it, as
/// in `(10, 64)`, for error messages.
///
/// @param tensor any xtensor container or expression.
/// @return the shape as text, such as `(10, 64)`.
/// @throws nothing.
/// @see @ref lesson01
template <class Tensor>
std::string shape_string(const Tensor& tensor) {
    std::ostringstream text;
    text << '(';
    const auto& shape = tensor.shape();
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
        text << (axis == 0 ? "" : ", ") << shape[axis];
    }
    text << ')';
    return text.str();
}

}  // namespace mha
