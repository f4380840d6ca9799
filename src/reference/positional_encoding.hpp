// Lesson 2 introduces this header: sinusoidal positional encodings, which tell
// attention where each token stands.
#pragma once

#include <cstddef>

#include "core/tensor.hpp"

/// @file
/// @brief Sinusoidal positional encodings (introduced in @ref lesson02).

namespace mha {

/// The sinusoidal positional encodings of "Attention Is All You Need":
/// PE(pos, 2i) = sin(pos / 10000^(2i / d_model)) and
/// PE(pos, 2i + 1) = cos(pos / 10000^(2i / d_model)).
///
/// Attention itself ignores order; adding row `pos` of this matrix to the
/// embedding of the token at position `pos` gives every position its own
/// signature. Each pair of columns is a clock turning at its own speed, from
/// once every 2π positions down to once every 10000·2π.
///
/// @param length L, the number of positions (rows).
/// @param d_model the embedding size (columns); when it is odd, the last
///        column is a sine without its cosine partner.
/// @return the encodings, shape (L, d_model), every entry in [-1, 1].
/// @throws std::invalid_argument if d_model is 0.
/// @see @ref lesson02
Matrix sinusoidal_positional_encoding(std::size_t length, std::size_t d_model);

}  // namespace mha
