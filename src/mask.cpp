// Lesson 1: building attention masks.
#include "mask.hpp"

#include <limits>

namespace mha {

BoolMatrix causal_mask(std::size_t query_count, std::size_t key_count) {
    // EXERCISE causal_mask (lesson 1)
    // HINT: Start from an all-false (L, S) matrix: xt::zeros<bool>({query_count, key_count}).
    // HINT: Query i may see keys 0..i; set mask(i, j) = true for every key j > i.
    BoolMatrix mask = xt::zeros<bool>({query_count, key_count});  // (L, S)
    for (std::size_t i = 0; i < query_count; ++i) {
        for (std::size_t j = i + 1; j < key_count; ++j) {
            mask(i, j) = true;  // key j lies in query i's future
        }
    }
    return mask;
    // END EXERCISE
}

Matrix additive_mask(const BoolMatrix& mask) {
    Matrix additive = xt::zeros<double>(mask.shape());  // (L, S)
    for (std::size_t i = 0; i < mask.shape(0); ++i) {
        for (std::size_t j = 0; j < mask.shape(1); ++j) {
            if (mask(i, j)) {
                additive(i, j) = -std::numeric_limits<double>::infinity();
            }
        }
    }
    return additive;
}

}  // namespace mha
