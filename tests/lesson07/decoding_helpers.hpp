// What lesson 7's tests share: grouped-query attention repeated into lesson 4's
// multi-head attention, written here by hand (independently of the library's
// repeat_key_value_heads), and element-wise comparisons of 3-D and 4-D tensors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <utility>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "core/tensor.hpp"
#include "decode/grouped_query_attention.hpp"
#include "reference/multi_head_attention.hpp"

namespace mha::testing {

/// Lesson 4's module with each key/value head's rows copied to the H/G query heads of its group:
/// query head h reads key/value head h / (H/G).
inline MultiHeadAttention repeated_by_hand(const GroupedQueryAttention& grouped) {
    const std::size_t H = grouped.num_heads, G = grouped.num_kv_heads, E = grouped.embed_dim(), d_k = E / H;
    const std::size_t heads_per_group = H / G;
    MultiHeadAttention full;
    full.num_heads = H;
    full.query_projection = grouped.query_projection;
    full.output_projection = grouped.output_projection;
    for (auto [source, target] : {std::pair{&grouped.key_projection, &full.key_projection},
                                  std::pair{&grouped.value_projection, &full.value_projection}}) {
        target->weight = xt::zeros<double>({E, E});  // (E, E)
        target->bias = xt::zeros<double>({source->bias.size() == 0 ? std::size_t{0} : E});
        for (std::size_t h = 0; h < H; ++h) {
            const std::size_t group = h / heads_per_group;
            for (std::size_t i = 0; i < d_k; ++i) {
                for (std::size_t column = 0; column < E; ++column) {
                    target->weight(h * d_k + i, column) = source->weight(group * d_k + i, column);
                }
                if (source->bias.size() != 0) {
                    target->bias(h * d_k + i) = source->bias(group * d_k + i);
                }
            }
        }
    }
    return full;
}

/// The largest |actual − expected| over two tensors of the same shape (infinity if the shapes differ or a NaN appears).
template <class Tensor>
double max_difference(const Tensor& actual, const Tensor& expected) {
    if (actual.shape() != expected.shape()) {
        ADD_FAILURE() << "shape " << shape_string(actual) << " but expected " << shape_string(expected);
        return INFINITY;
    }
    double worst = 0.0;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const double difference = std::abs(actual.data()[i] - expected.data()[i]);
        worst = std::isnan(difference) ? INFINITY : std::max(worst, difference);
    }
    return worst;
}

/// A (B, L, E) input with varied entries in [-1, 1], without a random generator.
inline Tensor3 varied_batch(std::size_t B, std::size_t L, std::size_t E, double seed) {
    Tensor3 x = xt::zeros<double>({B, L, E});
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t i = 0; i < L; ++i) {
            for (std::size_t j = 0; j < E; ++j) {
                x(b, i, j) = std::sin(seed + 0.9 * b + 1.3 * i + 0.37 * j * j);
            }
        }
    }
    return x;
}

}  // namespace mha::testing
