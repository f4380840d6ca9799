// Lesson 2 introduces this header: self-attention with learned projections,
// where queries, keys and values are three different views of the same input.
#pragma once

#include <cstddef>

#include "reference/attention.hpp"
#include "reference/linear.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"

/// @file
/// @brief One self-attention head with learned Q, K, V projections (introduced in @ref lesson02).

namespace mha {

/// One head of self-attention: Q = X W_qᵀ + b_q, K = X W_kᵀ + b_k,
/// V = X W_vᵀ + b_v, then lesson 1's scaled dot-product attention.
///
/// The projections let a token ask for something other than itself: its query
/// can look for "a noun I describe" while its key advertises "I am a verb".
struct SelfAttention {
    /// W_q (d_k, d_model) and b_q (d_k): makes the queries.
    Linear query_projection;
    /// W_k (d_k, d_model) and b_k (d_k): makes the keys.
    Linear key_projection;
    /// W_v (d_v, d_model) and b_v (d_v): makes the values.
    Linear value_projection;

    /// Self-attention over the rows of X.
    ///
    /// @param X the token vectors, shape (L, d_model).
    /// @return output (L, d_v) and weights (L, L).
    /// @throws std::invalid_argument if X does not have d_model columns or the
    ///         projections do not fit together; the message gives the shapes.
    /// @see @ref lesson02
    AttentionResult forward(const Matrix& X) const;

    /// Self-attention with a boolean mask (`true` = not allowed), such as a causal mask.
    ///
    /// @param X the token vectors, shape (L, d_model).
    /// @param mask shape (L, L).
    /// @return output (L, d_v) and weights (L, L).
    /// @throws std::invalid_argument as the unmasked overload does, and if the mask is not (L, L).
    /// @see @ref lesson02
    AttentionResult forward(const Matrix& X, const BoolMatrix& mask) const;

    /// Self-attention with an additive float mask.
    ///
    /// @param X the token vectors, shape (L, d_model).
    /// @param additive_mask shape (L, L), added to the scaled scores.
    /// @return output (L, d_v) and weights (L, L).
    /// @throws std::invalid_argument as the unmasked overload does, and if the mask is not (L, L).
    /// @see @ref lesson02
    AttentionResult forward(const Matrix& X, const Matrix& additive_mask) const;
};

/// A self-attention head with Xavier-uniform projections and zero biases.
///
/// @param d_model the size of each input row.
/// @param d_k the size of queries and keys.
/// @param d_v the size of values, and so of each output row.
/// @param with_bias whether the projections have biases.
/// @param random the generator to draw from; the same seed gives the same head.
/// @return the head.
/// @throws std::invalid_argument if a size is 0.
/// @see @ref lesson02
SelfAttention random_self_attention(std::size_t d_model, std::size_t d_k, std::size_t d_v, bool with_bias,
                                    RandomGenerator& random);

}  // namespace mha
