// Lesson 6 introduces this header: the backward pass of scaled dot-product
// attention, lesson 1's three passes run in reverse.
#pragma once

#include "core/tensor.hpp"
#include "reference/attention.hpp"

/// @file
/// @brief The gradients of scaled dot-product attention (introduced in @ref lesson06).

namespace mha {

/// dL/dQ, dL/dK and dL/dV of one head.
struct AttentionGradients {
    /// dL/dQ, shape (L, d_k).
    Matrix query;
    /// dL/dK, shape (S, d_k).
    Matrix key;
    /// dL/dV, shape (S, d_v).
    Matrix value;
};

/// Backpropagates through O = softmax(Q Kᵀ / sqrt(d_k) + M) V, given the
/// forward pass's weights P.
///
/// The forward passes, reversed, with dO = dL/dO (L, d_v):
///
///     pass 3, O = P V:          dV = Pᵀ dO  (S, d_v)     dP = dO Vᵀ  (L, S)
///     pass 2, P = softmax(Z):   dZ = softmax_backward(P, dP)   (L, S)
///     pass 1, Z = Q Kᵀ / √d_k + M:
///                               dQ = dZ K / √d_k  (L, d_k)   dK = dZᵀ Q / √d_k  (S, d_k)
///
/// The mask M is a constant: it has no gradient, and a masked entry, whose
/// weight is 0, passes none back to Q or K (softmax_backward gives it 0). A
/// query whose keys are all masked has an all-zero row of P and gets dQ = 0.
///
/// @param Q the queries, shape (L, d_k).
/// @param K the keys, shape (S, d_k).
/// @param V the values, shape (S, d_v).
/// @param weights P from the forward pass, shape (L, S) (AttentionResult::weights).
/// @param grad_output dL/dO, shape (L, d_v).
/// @return dQ, dK and dV.
/// @throws std::invalid_argument if a shape does not fit; the message gives the shapes.
/// @see @ref lesson06
AttentionGradients attention_backward(const Matrix& Q, const Matrix& K, const Matrix& V, const Matrix& weights,
                                      const Matrix& grad_output);

}  // namespace mha
