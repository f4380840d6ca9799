// Lesson 2 introduces this header: token embeddings, the table that turns
// token ids into vectors.
#pragma once

#include <cstddef>
#include <vector>

#include "core/random.hpp"
#include "core/tensor.hpp"

/// @file
/// @brief Token embeddings (introduced in @ref lesson02).

namespace mha {

/// A lookup table with one learned vector per token, as PyTorch's `nn.Embedding`.
struct Embedding {
    /// Row t is the vector of token id t: shape (vocabulary size, d_model).
    Matrix table;

    /// Looks up the vectors of a sequence of token ids.
    ///
    /// @param token_ids L ids, each below the vocabulary size.
    /// @return X, shape (L, d_model): row i is the vector of token i.
    /// @throws std::invalid_argument if an id is out of range; the message names it.
    /// @see @ref lesson02
    Matrix forward(const std::vector<std::size_t>& token_ids) const;
};

/// An embedding table drawn from N(0, 1), as PyTorch initialises `nn.Embedding`.
///
/// @param vocabulary_size the number of token ids.
/// @param d_model the length of each vector.
/// @param random the generator to draw from; the same seed gives the same table.
/// @return the embedding, table shape (vocabulary_size, d_model).
/// @throws std::invalid_argument if either size is 0.
/// @see @ref lesson02
Embedding random_embedding(std::size_t vocabulary_size, std::size_t d_model, RandomGenerator& random);

}  // namespace mha
