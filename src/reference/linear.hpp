// Lesson 2 introduces this header: the linear layer y = x Wᵀ + b, which makes
// queries, keys and values out of the input, and later mixes the heads.
#pragma once

#include <cstddef>

#include "core/random.hpp"
#include "core/tensor.hpp"

/// @file
/// @brief A linear layer with PyTorch's weight layout (introduced in @ref lesson02).

namespace mha {

/// A linear (fully connected) layer: y = x Wᵀ + b, as PyTorch's `nn.Linear`.
///
/// The weight is stored as PyTorch stores it, (out_features, in_features): row
/// o holds the coefficients that make output feature o. That is why the
/// product uses Wᵀ, and why weights exported from PyTorch load unchanged.
struct Linear {
    /// W, shape (out_features, in_features).
    Matrix weight;
    /// b, shape (out_features), or shape (0) for a layer without bias.
    Vector bias;

    /// The size of each input row.
    std::size_t in_features() const { return weight.shape(1); }
    /// The size of each output row.
    std::size_t out_features() const { return weight.shape(0); }
    /// Whether the layer adds a bias.
    bool has_bias() const { return bias.size() != 0; }

    /// Applies the layer to every row of x.
    ///
    /// @param x shape (N, in_features): N rows, such as the L tokens of a sentence.
    /// @return x Wᵀ + b, shape (N, out_features).
    /// @throws std::invalid_argument if x has the wrong number of columns, or
    ///         the bias is neither empty nor (out_features); the message gives the shapes.
    /// @see @ref lesson02
    Matrix forward(const Matrix& x) const;
};

/// A linear layer with Xavier-uniform weights and a zero bias, the scheme
/// PyTorch uses for the input projections of `nn.MultiheadAttention` (which
/// draws all three as one packed (3E, E) matrix; see random_multi_head_attention).
///
/// Xavier (Glorot) initialisation draws every weight uniformly from [-a, a]
/// with a = sqrt(6 / (in_features + out_features)), which keeps the variance of
/// the signal about the same from the layer's input to its output.
///
/// @param in_features the size of each input row.
/// @param out_features the size of each output row.
/// @param with_bias whether the layer has a (zero-initialised) bias.
/// @param random the generator to draw from; the same seed gives the same layer.
/// @return the layer: weight (out_features, in_features), bias (out_features) or (0).
/// @throws std::invalid_argument if either size is 0.
/// @see @ref lesson02
Linear xavier_uniform_linear(std::size_t in_features, std::size_t out_features, bool with_bias,
                             RandomGenerator& random);

/// A linear layer initialised as PyTorch's `nn.Linear` is by default: weights
/// uniform in [-1/sqrt(in_features), 1/sqrt(in_features)], the bias zero
/// (PyTorch draws the bias too; the modules the course builds set it to zero).
///
/// @param in_features the size of each input vector.
/// @param out_features the size of each output vector.
/// @param with_bias whether the layer has a bias.
/// @param random the generator to draw from.
/// @return the layer: weight (out_features, in_features), bias (out_features) or (0).
/// @throws std::invalid_argument if either size is 0.
/// @see @ref lesson04
Linear default_linear(std::size_t in_features, std::size_t out_features, bool with_bias, RandomGenerator& random);

}  // namespace mha
