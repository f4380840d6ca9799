// Lesson 1 introduces this header: scaled dot-product attention, the
// operation every later lesson is built around.
#pragma once

#include "core/tensor.hpp"

/// @file
/// @brief Scaled dot-product attention for one head (introduced in @ref lesson01).

namespace mha {

/// What attention returns: the mixed values and the weights that mixed them.
struct AttentionResult {
    /// (L, d_v): row i is the weighted average of V's rows that query i attended to.
    Matrix output;
    /// (L, S): weights(i, j) is how much query i attends to key j; each row sums
    /// to 1, or is all zero when every key of that row was masked.
    Matrix weights;
};

/// Scaled dot-product attention: softmax(Q Kᵀ / sqrt(d_k)) V.
///
/// Each query is compared with every key by a dot product; dividing by
/// sqrt(d_k) keeps the scores' spread independent of d_k, so that softmax does
/// not saturate; softmax over the keys turns each row of scores into weights;
/// the output row is the weight-averaged value rows.
///
/// @param Q queries, shape (L, d_k).
/// @param K keys, shape (S, d_k).
/// @param V values, shape (S, d_v).
/// @return output (L, d_v) and weights (L, S).
/// @throws std::invalid_argument naming the function and the shapes involved
///         when Q and K have different column counts, K and V different row
///         counts, d_k is 0 or S is 0; or when an input holds NaN or infinity.
/// @see @ref lesson01
AttentionResult scaled_dot_product_attention(const Matrix& Q, const Matrix& K, const Matrix& V);

/// Scaled dot-product attention with a boolean mask: where `mask(i, j)` is
/// `true`, query i may not attend to key j and gets weight 0 for it.
///
/// A query whose keys are all masked gets all-zero weights and an all-zero
/// output row (PyTorch returns NaN there).
///
/// @param Q queries, shape (L, d_k).
/// @param K keys, shape (S, d_k).
/// @param V values, shape (S, d_v).
/// @param mask shape (L, S); `true` = not allowed, as in PyTorch's `attn_mask`.
/// @return output (L, d_v) and weights (L, S).
/// @throws std::invalid_argument as the unmasked overload does, and when the
///         mask is not (L, S).
/// @see @ref lesson01
AttentionResult scaled_dot_product_attention(const Matrix& Q, const Matrix& K, const Matrix& V,
                                             const BoolMatrix& mask);

/// Scaled dot-product attention with an additive float mask:
/// softmax(Q Kᵀ / sqrt(d_k) + mask) V.
///
/// An entry of -infinity removes that key for that query; 0 leaves the score
/// alone; other values raise or lower it. A query whose row of the mask is all
/// -infinity gets all-zero weights and an all-zero output row.
///
/// @param Q queries, shape (L, d_k).
/// @param K keys, shape (S, d_k).
/// @param V values, shape (S, d_v).
/// @param additive_mask shape (L, S), added to the scaled scores.
/// @return output (L, d_v) and weights (L, S).
/// @throws std::invalid_argument as the unmasked overload does, when the mask
///         is not (L, S), or when it holds NaN or +infinity.
/// @see @ref lesson01
AttentionResult scaled_dot_product_attention(const Matrix& Q, const Matrix& K, const Matrix& V,
                                             const Matrix& additive_mask);

}  // namespace mha
