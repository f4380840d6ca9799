// Lesson 1 introduces this header: the softmax that turns attention scores
// into weights, written so that it cannot overflow.
#pragma once

#include "core/tensor.hpp"

/// @file
/// @brief Numerically stable softmax over rows (introduced in @ref lesson01).

namespace mha {

/// Softmax over each row: weights(i, j) = exp(x(i, j)) / sum over j' of exp(x(i, j')).
///
/// Every row is shifted by its maximum before exponentiating. Softmax does not
/// change under such a shift, but now the largest exponent is exp(0) = 1, so
/// nothing overflows: logits of +1e4 and -1e4 give the finite weights 1 and 0.
///
/// A logit of -infinity means "this entry is masked out" and gets weight 0.
/// A row whose logits are all -infinity (every key masked) gets all-zero
/// weights, not NaN; see @ref lesson01 for why.
///
/// @param logits shape (L, S): one row per query, one column per key.
/// @return the weights, shape (L, S); each row sums to 1, or is all zero when
///         the whole row was -infinity.
/// @throws std::invalid_argument if a logit is NaN or +infinity; the message
///         gives its row and column.
/// @see @ref lesson01
Matrix softmax(const Matrix& logits);

}  // namespace mha
