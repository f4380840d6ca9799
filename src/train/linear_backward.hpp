// Lesson 6 introduces this header: the backward pass of the linear layer
// y = x Wᵀ + b, the first gradient every training step needs.
#pragma once

#include "core/tensor.hpp"
#include "reference/linear.hpp"

/// @file
/// @brief Gradients of a linear layer (introduced in @ref lesson06).

namespace mha {

/// The gradients of a loss with respect to a linear layer's input and parameters.
struct LinearGradients {
    /// dL/dx, shape (N, in_features).
    Matrix input;
    /// dL/dW, shape (out_features, in_features): the layer's weight layout.
    Matrix weight;
    /// dL/db, shape (out_features), or (0) when the layer has no bias.
    Vector bias;
};

/// Backpropagates through y = x Wᵀ + b.
///
/// With dY = dL/dy (N, out):
///
///     dx = dY W       (N, out) · (out, in)  = (N, in)    each input feeds every output through W
///     dW = dYᵀ x      (out, N) · (N, in)    = (out, in)  summed over the N rows, which share W
///     db = Σ_rows dY                        = (out)      the bias is added to every row
///
/// @param layer the layer the forward pass used.
/// @param x the forward pass's input, shape (N, in_features).
/// @param grad_output dL/dy, shape (N, out_features).
/// @return dx, dW and db.
/// @throws std::invalid_argument if x or grad_output does not fit the layer; the message gives the shapes.
/// @see @ref lesson06
LinearGradients linear_backward(const Linear& layer, const Matrix& x, const Matrix& grad_output);

}  // namespace mha
