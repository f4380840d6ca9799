// Lesson 3 introduces this header: the packed form in which PyTorch stores
// the input projections of all heads, and how to cut it into heads.
#pragma once

#include <cstddef>

#include "reference/attention_heads.hpp"
#include "reference/linear.hpp"
#include "core/tensor.hpp"

/// @file
/// @brief PyTorch's packed input projection, cut and stacked (introduced in @ref lesson03).

namespace mha {

/// The three input projections W_q, W_k, W_v (with their biases) as separate layers.
struct QueryKeyValueProjections {
    /// W_q (E, E) and b_q (E): makes the queries of every head.
    Linear query;
    /// W_k (E, kdim) and b_k (E): makes the keys.
    Linear key;
    /// W_v (E, vdim) and b_v (E): makes the values.
    Linear value;
};

/// Rows [first, first + count) of a layer, with the same rows of its bias:
/// the part of the layer that makes output features first ... first + count - 1.
///
/// @param layer weight (out, in), bias (out) or (0).
/// @param first the first output feature.
/// @param count how many output features.
/// @return weight (count, in), bias (count) or (0).
/// @throws std::invalid_argument if the rows are not all in the layer.
/// @see @ref lesson03
Linear output_rows(const Linear& layer, std::size_t first, std::size_t count);

/// Cuts PyTorch's packed `in_proj_weight` (3E, E) and `in_proj_bias` (3E) into
/// W_q, W_k and W_v: rows [0, E), [E, 2E) and [2E, 3E).
///
/// The one place the course reads the packed layout: the lesson 3 heads, the
/// lesson 4 module's initialisation, the parameter files and lesson 5's
/// stacked projection all go through it or through stack_projections().
///
/// @param packed weight (3E, E), bias (3E) or (0).
/// @param caller the name that starts an error message.
/// @return the three layers, each weight (E, E), bias (E) or (0).
/// @throws std::invalid_argument if the weight is not (3E, E) or the bias is neither (3E) nor empty.
/// @see @ref lesson03
QueryKeyValueProjections split_packed_projection(const Linear& packed,
                                                 const char* caller = "split_packed_projection");

/// Stacks W_q, W_k and W_v one under the other into PyTorch's packed form,
/// the inverse of split_packed_projection().
///
/// @param projections three layers of the same input width E, each (E, E), all
///        with biases of (E) or none.
/// @return weight (3E, E), bias (3E) or (0).
/// @throws std::invalid_argument if the shapes differ or only some have a bias.
/// @see @ref lesson03
Linear stack_projections(const QueryKeyValueProjections& projections);

/// Stacks the three biases b_q, b_k, b_v into PyTorch's `in_proj_bias` (3E),
/// which PyTorch keeps packed even when the weights are separate (kdim or vdim ≠ E).
///
/// @param projections three layers whose biases are all (E), or all empty.
/// @return (3E), or (0) when the layers have no bias.
/// @throws std::invalid_argument if the biases are not all (E) or all empty.
/// @see @ref lesson03
Vector stack_biases(const QueryKeyValueProjections& projections);

/// Gives the three layers the biases packed in `in_proj_bias`: rows [0, E),
/// [E, 2E) and [2E, 3E), the inverse of stack_biases().
///
/// @param projections the layers, whose weights are (E, ·); their biases are replaced.
/// @param packed_bias (3E), or (0) for no bias.
/// @throws std::invalid_argument if packed_bias is neither (3E) nor empty.
/// @see @ref lesson03
void set_packed_biases(QueryKeyValueProjections& projections, const Vector& packed_bias);

/// Cuts PyTorch's packed projection into separate heads.
///
/// Inside each of W_q, W_k and W_v (split_packed_projection()), rows
/// [h·d_k, (h+1)·d_k) belong to head h.
///
/// @param packed weight (3·d_model, d_model), bias (3·d_model) or (0).
/// @param num_heads H.
/// @return H heads whose outputs equal the packed computation's.
/// @throws std::invalid_argument if the weight is not (3E, E), the bias is
///         neither empty nor (3E), or H does not divide E.
/// @see @ref lesson03
AttentionHeads heads_from_packed_projection(const Linear& packed, std::size_t num_heads);

/// Runs H heads the way PyTorch does: one packed projection for Q, K and V of
/// every head at once, then split_heads, then attention per head.
///
/// @param packed weight (3·d_model, d_model), bias (3·d_model) or (0).
/// @param num_heads H.
/// @param X the token vectors, shape (L, d_model).
/// @return H outputs (L, d_k) and H weight matrices (L, L).
/// @throws std::invalid_argument if the shapes do not fit, as for heads_from_packed_projection.
/// @see @ref lesson03
HeadsResult packed_heads_forward(const Linear& packed, std::size_t num_heads, const Matrix& X);

}  // namespace mha
