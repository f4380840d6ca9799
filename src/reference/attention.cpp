// Lesson 1: scaled dot-product attention for one head.
#include "reference/attention.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/mask.hpp"
#include "reference/matmul.hpp"
#include "reference/softmax.hpp"

namespace mha {
namespace {

constexpr const char* function_name = "scaled_dot_product_attention";

[[noreturn]] void fail(const std::string& what) {
    throw std::invalid_argument(std::string(function_name) + ": " + what);
}

// The shapes must line up as Q (L, d_k), K (S, d_k), V (S, d_v).
void check_shapes(const Matrix& Q, const Matrix& K, const Matrix& V) {
    if (Q.shape(1) != K.shape(1)) {
        fail("Q is " + shape_string(Q) + " but K is " + shape_string(K) +
             ": queries and keys must have the same number of columns (d_k)");
    }
    if (K.shape(0) != V.shape(0)) {
        fail("K is " + shape_string(K) + " but V is " + shape_string(V) +
             ": there must be one value row per key row (S)");
    }
    if (Q.shape(1) == 0) {
        fail("Q is " + shape_string(Q) + " and K is " + shape_string(K) + ": d_k must be at least 1");
    }
    if (K.shape(0) == 0) {
        fail("K is " + shape_string(K) + " and V is " + shape_string(V) +
             ": there must be at least one key (S >= 1)");
    }
}

// NaN or infinity in an input would silently turn whole rows of the output into NaN.
void check_finite(const Matrix& tensor, const char* name) {
    for (std::size_t i = 0; i < tensor.shape(0); ++i) {
        for (std::size_t j = 0; j < tensor.shape(1); ++j) {
            if (!std::isfinite(tensor(i, j))) {
                fail(std::string(name) + " " + shape_string(tensor) + " holds " + std::to_string(tensor(i, j)) +
                     " at row " + std::to_string(i) + ", column " + std::to_string(j) +
                     "; inputs must be finite");
            }
        }
    }
}

template <class Mask>
void check_mask_shape(const Mask& mask, const Matrix& Q, const Matrix& K) {
    if (mask.shape(0) != Q.shape(0) || mask.shape(1) != K.shape(0)) {
        fail("the mask is " + shape_string(mask) + " but Q is " + shape_string(Q) + " and K is " +
             shape_string(K) + ": the mask must be (L, S) = (" + std::to_string(Q.shape(0)) + ", " +
             std::to_string(K.shape(0)) + ")");
    }
}

}  // namespace

AttentionResult scaled_dot_product_attention(const Matrix& Q, const Matrix& K, const Matrix& V,
                                             const Matrix& additive_mask) {
    check_shapes(Q, K, V);
    check_mask_shape(additive_mask, Q, K);
    check_finite(Q, "Q");
    check_finite(K, "K");
    check_finite(V, "V");
    check_float_mask(function_name, additive_mask);
    const std::size_t d_k = Q.shape(1);

    // EXERCISE scaled_dot_product_attention (lesson 1)
    // HINT: Three passes. Scores: matmul_transposed(Q, K) gives every query against every key, (L, S).
    // HINT: Multiply each score by 1 / sqrt(d_k) and add additive_mask(i, j); then softmax(scores) gives the weights.
    // HINT: The output is matmul(weights, V), (L, d_v); return {output, weights}.
    // [attention_passes]
    // Pass 1: compare every query with every key. scores(i, j) is large when
    // query i and key j point the same way. Dividing by sqrt(d_k) keeps the
    // scores at unit variance whatever d_k is, so softmax does not saturate.
    Matrix scores = matmul_transposed(Q, K);  // (L, S)
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_k));
    for (std::size_t i = 0; i < scores.shape(0); ++i) {
        for (std::size_t j = 0; j < scores.shape(1); ++j) {
            scores(i, j) = scores(i, j) * scale + additive_mask(i, j);  // -inf removes key j for query i
        }
    }

    // Pass 2: each row of scores becomes a probability distribution over the keys.
    Matrix weights = softmax(scores);  // (L, S)

    // Pass 3: each output row is the weighted average of the value rows. This
    // is the step that moves information between positions of the sequence.
    Matrix output = matmul(weights, V);  // (L, S) x (S, d_v) = (L, d_v)
    // [attention_passes]

    return {std::move(output), std::move(weights)};
    // END EXERCISE
}

AttentionResult scaled_dot_product_attention(const Matrix& Q, const Matrix& K, const Matrix& V,
                                             const BoolMatrix& mask) {
    check_shapes(Q, K, V);
    check_mask_shape(mask, Q, K);
    return scaled_dot_product_attention(Q, K, V, additive_mask(mask));
}

AttentionResult scaled_dot_product_attention(const Matrix& Q, const Matrix& K, const Matrix& V) {
    check_shapes(Q, K, V);
    const Matrix no_mask = xt::zeros<double>({Q.shape(0), K.shape(0)});  // (L, S), all keys allowed
    return scaled_dot_product_attention(Q, K, V, no_mask);
}

}  // namespace mha
