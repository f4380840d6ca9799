// Lesson 1: building attention masks.
#include "reference/mask.hpp"

#include <limits>
#include <stdexcept>

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

void check_float_mask(const std::string& function, const double* values, const std::vector<std::size_t>& shape) {
    std::size_t count = 1;
    for (const std::size_t size : shape) {
        count *= size;
    }
    for (std::size_t index = 0; index < count; ++index) {
        if (is_finite_or_minus_infinity(values[index])) {
            continue;
        }
        const std::vector<std::size_t> position = unravel_index(index, shape);
        const std::string where = shape.size() == 2 ? "row " + std::to_string(position[0]) + ", column " +
                                                          std::to_string(position[1])
                                                    : shape_string(position);
        throw std::invalid_argument(function + ": float mask " + shape_string(shape) + ": the mask holds " +
                                    std::to_string(values[index]) + " at " + where +
                                    "; a float mask may hold finite values and -infinity only");
    }
}

}  // namespace mha
