// Lesson 6 introduces this header: the backward pass of the row softmax, the
// one step of attention whose gradient mixes a whole row.
#pragma once

#include "core/tensor.hpp"

/// @file
/// @brief The gradient of the row-wise softmax (introduced in @ref lesson06).

namespace mha {

/// Backpropagates through P = softmax(S), row by row.
///
/// Each weight depends on every score of its row: ∂P_ij/∂S_ik = P_ij (δ_jk − P_ik).
/// Summed against dP, that gives, for each row i,
///
///     dS_ij = P_ij · (dP_ij − Σ_k dP_ik P_ik)
///
/// the weight times how much its own gradient exceeds the row's weighted average.
/// A masked entry has P_ij = 0, so it gets no gradient, and a fully masked row
/// (all zero weights) gets none at all, as the forward pass gave it no weight.
///
/// @param weights P, the forward pass's output, shape (L, S).
/// @param grad_weights dL/dP, shape (L, S).
/// @return dL/dS, shape (L, S).
/// @throws std::invalid_argument if the shapes differ.
/// @see @ref lesson06
Matrix softmax_backward(const Matrix& weights, const Matrix& grad_weights);

}  // namespace mha
