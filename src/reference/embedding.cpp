// Lesson 2: token embeddings.
#include "reference/embedding.hpp"

#include <stdexcept>
#include <string>

namespace mha {

Matrix Embedding::forward(const std::vector<std::size_t>& token_ids) const {
    const std::size_t d_model = table.shape(1);
    Matrix X = xt::zeros<double>({token_ids.size(), d_model});  // (L, d_model)
    for (std::size_t i = 0; i < token_ids.size(); ++i) {
        if (token_ids[i] >= table.shape(0)) {
            throw std::invalid_argument("Embedding::forward: token id " + std::to_string(token_ids[i]) +
                                        " at position " + std::to_string(i) + " is not below the vocabulary size " +
                                        std::to_string(table.shape(0)) + " (table " + shape_string(table) + ")");
        }
        for (std::size_t d = 0; d < d_model; ++d) {
            X(i, d) = table(token_ids[i], d);  // copy the token's row
        }
    }
    return X;
}

Embedding random_embedding(std::size_t vocabulary_size, std::size_t d_model, RandomGenerator& random) {
    if (vocabulary_size == 0 || d_model == 0) {
        throw std::invalid_argument("random_embedding: vocabulary_size (" + std::to_string(vocabulary_size) +
                                    ") and d_model (" + std::to_string(d_model) + ") must both be at least 1");
    }
    Embedding embedding;
    embedding.table = xt::zeros<double>({vocabulary_size, d_model});  // (vocabulary, d_model)
    for (double& value : embedding.table) {
        value = random.normal();
    }
    return embedding;
}

}  // namespace mha
