// Lesson 5: the masks of one head, applied to blocks of scores.
#include "fast/score_mask.hpp"

#include <algorithm>
#include <limits>

namespace mha {
namespace {

constexpr float minus_infinity = -std::numeric_limits<float>::infinity();

}  // namespace

ScoreMask ScoreMask::for_head(const AttentionMasks& masks, std::size_t b, std::size_t h, std::size_t num_heads,
                              std::size_t queries, std::size_t keys) {
    ScoreMask mask;
    mask.keys = keys;
    mask.causal = masks.causal;
    if (masks.attention_mask) {
        // (B·H, L, S) holds entry b, head h at b·H + h; (1, L, S) serves them all.
        const std::size_t index = masks.attention_mask->per_head() ? b * num_heads + h : 0;
        mask.attention = masks.attention_mask->additive().data() + index * queries * keys;
    }
    if (masks.key_padding_mask) {
        mask.padding = masks.key_padding_mask->additive().data() + b * keys;  // row b of (B, S)
    }
    return mask;
}

void ScoreMask::apply(std::size_t row, std::size_t first_key, float* scores, std::size_t count) const {
    if (attention != nullptr) {
        const double* mask_row = attention + row * keys + first_key;
        for (std::size_t j = 0; j < count; ++j) {
            scores[j] += static_cast<float>(mask_row[j]);  // 0 keeps, -inf removes, others tilt
        }
    }
    if (padding != nullptr) {
        for (std::size_t j = 0; j < count; ++j) {
            scores[j] += static_cast<float>(padding[first_key + j]);
        }
    }
    if (causal) {
        // Keys j > row are in the future of query `row`.
        for (std::size_t j = std::max(first_key, row + 1); j < first_key + count; ++j) {
            scores[j - first_key] = minus_infinity;
        }
    }
}

void ScoreMask::apply_transposed(std::size_t first_query, std::size_t queries, std::size_t first_key,
                                 std::size_t keys, float* scores_transposed, std::size_t ld) const {
    for (std::size_t k = 0; k < keys; ++k) {
        const std::size_t j = first_key + k;
        float* row = scores_transposed + k * ld;  // key j against queries first_query ...
        for (std::size_t q = 0; q < queries; ++q) {
            const std::size_t i = first_query + q;
            if (attention != nullptr) {
                row[q] += static_cast<float>(attention[i * this->keys + j]);
            }
            if (padding != nullptr) {
                row[q] += static_cast<float>(padding[j]);
            }
            if (causal && j > i) {
                row[q] = minus_infinity;
            }
        }
    }
}

bool ScoreMask::touches(std::size_t first_query, std::size_t first_key, std::size_t keys) const {
    return attention != nullptr || padding != nullptr || (causal && first_key + keys > first_query + 1);
}

std::size_t ScoreMask::visible_keys(std::size_t row) const { return causal ? std::min(keys, row + 1) : keys; }

}  // namespace mha
