// Lesson 1 introduces this header: the matrix types every lesson passes around,
// and how to print a shape in an error message. Lesson 2 adds the vector type,
// lesson 4 the batched (3-D and 4-D) types.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

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

/// A 1-D array of doubles, such as a bias of shape (out_features) (@ref lesson02).
using Vector = xt::xtensor<double, 1>;

/// A row-major 3-D array of doubles, such as a batch of sequences (B, L, E) (@ref lesson04).
using Tensor3 = xt::xtensor<double, 3>;

/// A row-major 3-D array of booleans, such as one mask per batch entry and head (B·H, L, S) (@ref lesson04).
using BoolTensor3 = xt::xtensor<bool, 3>;

/// A row-major 4-D array of doubles, such as attention weights (B, H, L, S) (@ref lesson04).
using Tensor4 = xt::xtensor<double, 4>;

/// Entry b of a batch, (B, rows, columns), copied out as a matrix (rows, columns).
///
/// @param batch a batch of matrices, such as the query sequences (B, L, E).
/// @param b the entry, below B.
/// @return the matrix (rows, columns).
/// @throws nothing but std::bad_alloc (b is not checked).
/// @see @ref lesson04
inline Matrix batch_entry(const Tensor3& batch, std::size_t b) { return xt::view(batch, b, xt::all(), xt::all()); }

/// Formats a shape the way PyTorch prints it, as in `(10, 64)`, for error messages.
///
/// The one place the course turns a shape into text: every error message that
/// gives a shape goes through it.
///
/// @param shape the sizes of the axes, such as {10, 64}.
/// @return the shape as text, such as `(10, 64)`; `()` for no axis.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson01
inline std::string shape_string(const std::vector<std::size_t>& shape) {
    std::string text = "(";
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
        text += (axis == 0 ? "" : ", ") + std::to_string(shape[axis]);
    }
    return text + ")";
}

/// Where element `flat` of a row-major array of this shape stands: one index
/// per axis, the last axis varying fastest.
///
/// @param flat the element's place in memory, below the product of the shape.
/// @param shape the array's shape.
/// @return the index, such as {1, 0, 2} for element 8 of (2, 2, 3).
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson01
inline std::vector<std::size_t> unravel_index(std::size_t flat, const std::vector<std::size_t>& shape) {
    std::vector<std::size_t> index(shape.size());
    for (std::size_t axis = shape.size(); axis-- > 0;) {
        index[axis] = flat % shape[axis];
        flat /= shape[axis];
    }
    return index;
}

/// Formats the shape of any xtensor container or expression, as in `(10, 64)`.
///
/// @param tensor any xtensor container or expression.
/// @return the shape as text, such as `(10, 64)`.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson01
template <class Tensor>
std::string shape_string(const Tensor& tensor) {
    const auto& shape = tensor.shape();
    return shape_string(std::vector<std::size_t>(shape.begin(), shape.end()));
}

}  // namespace mha
