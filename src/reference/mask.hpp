// Lesson 1 introduces this header: attention masks, which forbid some
// queries from looking at some keys.
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "core/tensor.hpp"

/// @file
/// @brief Attention masks in PyTorch's two conventions (introduced in @ref lesson01).
///
/// A mask has one entry per (query, key) pair, shape (L, S). The course takes
/// both forms PyTorch's `nn.MultiheadAttention` takes:
/// - a boolean mask, where `true` means "this query may NOT look at this key";
/// - an additive float mask, added to the scores before softmax, where 0 keeps
///   a key and -infinity removes it (finite values only tilt the weights).

namespace mha {

/// The causal ("look-ahead") mask: query i may look at keys 0..i only.
///
/// Entry (i, j) is `true` (forbidden) when j > i, the same as PyTorch's
/// `torch.ones(L, S, dtype=torch.bool).triu(diagonal=1)`. A decoder uses it so
/// that position i cannot peek at the tokens after it. When L != S the mask is
/// aligned at the top-left corner, as PyTorch aligns it.
///
/// @param query_count L, the number of queries (rows).
/// @param key_count S, the number of keys (columns).
/// @return the boolean mask, shape (L, S).
/// @throws nothing.
/// @see @ref lesson01
BoolMatrix causal_mask(std::size_t query_count, std::size_t key_count);

/// Converts a boolean mask into the equivalent additive mask:
/// `true` (forbidden) becomes -infinity and `false` becomes 0.
///
/// @param mask shape (L, S).
/// @return the additive mask, shape (L, S).
/// @throws nothing.
/// @see @ref lesson01
Matrix additive_mask(const BoolMatrix& mask);

/// Whether a number may stand in a float mask or among the scores softmax
/// takes: a finite number, or -infinity for a removed key. NaN would make
/// every weight of its row NaN, and +infinity a row of NaN (inf - inf).
///
/// @param x a mask entry or a score.
/// @return true for finite numbers and -infinity.
/// @throws nothing.
/// @see @ref lesson01
inline bool is_finite_or_minus_infinity(double x) {
    return std::isfinite(x) || x == -std::numeric_limits<double>::infinity();
}

/// Checks that a float (additive) mask holds only finite values and -infinity.
///
/// @param function the name that starts the message, such as `AttentionMask`.
/// @param values the mask's entries, row-major.
/// @param shape the mask's shape, any number of axes.
/// @throws std::invalid_argument naming the function, the mask's shape, the
///         value and where it is: "row i, column j" for a 2-D mask, "(n, i, j)"
///         otherwise.
/// @see @ref lesson01
void check_float_mask(const std::string& function, const double* values, const std::vector<std::size_t>& shape);

/// check_float_mask() for any xtensor container of doubles.
///
/// @param function the name that starts the message.
/// @param mask the mask.
/// @throws std::invalid_argument as the other overload does.
/// @see @ref lesson01
template <class Tensor>
void check_float_mask(const std::string& function, const Tensor& mask) {
    check_float_mask(function, mask.data(), std::vector<std::size_t>(mask.shape().begin(), mask.shape().end()));
}

}  // namespace mha
