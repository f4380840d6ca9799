// Lesson 2 tests: one self-attention head with learned projections, checked
// against a hand-computed case, against the formula written out with loops in
// the test, against the symmetry attention has (and positions break), and on bad input.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/mask.hpp"
#include "reference/positional_encoding.hpp"
#include "core/random.hpp"
#include "reference/self_attention.hpp"
#include "test_helpers.hpp"

namespace {

using mha::Linear;
using mha::Matrix;
using mha::SelfAttention;
using mha::Vector;
using mha::testing::matrices_near;
using mha::testing::varied;
using mha::testing::thrown_message;

Vector varied_vector(std::size_t size, double seed) {
    Vector v = xt::zeros<double>({size});
    for (std::size_t i = 0; i < size; ++i) {
        v(i) = std::cos(seed + 2.3 * i);
    }
    return v;
}

Linear layer(const Matrix& weight, const Vector& bias) {
    Linear result;
    result.weight = weight;
    result.bias = bias;
    return result;
}

// Rows of m reordered: row i of the result is row order[i] of m.
Matrix permute_rows(const Matrix& m, const std::vector<std::size_t>& order) {
    Matrix result = m;
    for (std::size_t i = 0; i < order.size(); ++i) {
        for (std::size_t j = 0; j < m.shape(1); ++j) {
            result(i, j) = m(order[i], j);
        }
    }
    return result;
}

// ---- Hand-computed and formula cases ----

TEST(SelfAttention, HandComputedTokenLooksForItsNeighbour) {
    // Two tokens, d_model = 2, d_k = d_v = 1. W_q reads feature 0 and W_k feature 1,
    // so token 0 (1, 0) asks for what token 1 (0, 1) offers:
    //   Q = (1, 0)ᵀ, K = (0, 1)ᵀ, V = X (2, 3)ᵀ = (2, 3)ᵀ, scale 1 / sqrt(1) = 1
    //   scores = Q Kᵀ = [[0, 1], [0, 0]]
    //   weights row 0 = (1, e) / (1 + e), row 1 = (1/2, 1/2)
    //   output row 0 = (2 + 3e) / (1 + e), row 1 = 2.5
    SelfAttention head;
    head.query_projection = layer(Matrix{{1.0, 0.0}}, Vector(xt::zeros<double>({0})));
    head.key_projection = layer(Matrix{{0.0, 1.0}}, Vector(xt::zeros<double>({0})));
    head.value_projection = layer(Matrix{{2.0, 3.0}}, Vector(xt::zeros<double>({0})));
    const Matrix X = {{1.0, 0.0}, {0.0, 1.0}};
    const auto result = head.forward(X);
    const Matrix weights = {{0.2689414213699951, 0.7310585786300049}, {0.5, 0.5}};
    const Matrix output = {{2.7310585786300052}, {2.5}};
    EXPECT_TRUE(matrices_near(result.weights, weights, 1e-15));
    EXPECT_TRUE(matrices_near(result.output, output, 1e-15));
    // Token 0 puts most of its weight on token 1. Lesson 1's Q = K = V = X would
    // give it weights (1, e^(-1/sqrt 2)) / (1 + e^(-1/sqrt 2)): mostly itself.
    EXPECT_GT(result.weights(0, 1), result.weights(0, 0));
}

TEST(SelfAttention, ShapesFollowLDmodelDkDv) {
    mha::RandomGenerator random(1);
    const SelfAttention head = mha::random_self_attention(6, 4, 3, true, random);  // d_model 6, d_k 4, d_v 3
    EXPECT_EQ(mha::shape_string(head.query_projection.weight), "(4, 6)");  // (d_k, d_model)
    EXPECT_EQ(mha::shape_string(head.key_projection.weight), "(4, 6)");    // (d_k, d_model)
    EXPECT_EQ(mha::shape_string(head.value_projection.weight), "(3, 6)");  // (d_v, d_model)
    const auto result = head.forward(varied(5, 6, 0.3));                   // X (L = 5, d_model = 6)
    EXPECT_EQ(mha::shape_string(result.output), "(5, 3)");                  // (L, d_v)
    EXPECT_EQ(mha::shape_string(result.weights), "(5, 5)");                 // (L, L)
}

TEST(SelfAttention, EqualsTheFormulaWrittenOutWithLoops) {
    const std::size_t L = 4, d_model = 5, d_k = 3, d_v = 2;
    SelfAttention head;
    head.query_projection = layer(varied(d_k, d_model, 1.0), varied_vector(d_k, 0.1));
    head.key_projection = layer(varied(d_k, d_model, 2.0), varied_vector(d_k, 0.2));
    head.value_projection = layer(varied(d_v, d_model, 3.0), varied_vector(d_v, 0.3));
    const Matrix X = 1.5 * varied(L, d_model, 4.0);  // (L, d_model)

    // y(n, o) = sum_c x(n, c) W(o, c) + b(o), for each projection.
    const auto project = [&](const Linear& p, std::size_t out) {
        std::vector<std::vector<double>> y(L, std::vector<double>(out));
        for (std::size_t n = 0; n < L; ++n) {
            for (std::size_t o = 0; o < out; ++o) {
                y[n][o] = p.bias(o);
                for (std::size_t c = 0; c < d_model; ++c) {
                    y[n][o] += X(n, c) * p.weight(o, c);
                }
            }
        }
        return y;
    };
    const auto Q = project(head.query_projection, d_k);
    const auto K = project(head.key_projection, d_k);
    const auto V = project(head.value_projection, d_v);

    // weights(i, j) = exp(s_ij) / sum_j' exp(s_ij'), s_ij = q_i . k_j / sqrt(d_k); output = weights V.
    Matrix weights = xt::zeros<double>({L, L}), output = xt::zeros<double>({L, d_v});
    for (std::size_t i = 0; i < L; ++i) {
        double total = 0.0;
        for (std::size_t j = 0; j < L; ++j) {
            double dot = 0.0;
            for (std::size_t p = 0; p < d_k; ++p) {
                dot += Q[i][p] * K[j][p];
            }
            weights(i, j) = std::exp(dot / std::sqrt(static_cast<double>(d_k)));
            total += weights(i, j);
        }
        for (std::size_t j = 0; j < L; ++j) {
            weights(i, j) /= total;
            for (std::size_t c = 0; c < d_v; ++c) {
                output(i, c) += weights(i, j) * V[j][c];
            }
        }
    }

    const auto result = head.forward(X);
    EXPECT_TRUE(matrices_near(result.weights, weights, 1e-13));
    EXPECT_TRUE(matrices_near(result.output, output, 1e-13));
}

TEST(SelfAttention, SameSeedSameHead) {
    mha::RandomGenerator first(9), second(9);
    const SelfAttention a = mha::random_self_attention(8, 4, 4, true, first);
    const SelfAttention b = mha::random_self_attention(8, 4, 4, true, second);
    const Matrix X = varied(3, 8, 0.0);
    EXPECT_TRUE(matrices_near(a.forward(X).output, b.forward(X).output, 0.0));
    // The three projections are three separate draws, not one matrix used thrice.
    EXPECT_FALSE(matrices_near(a.query_projection.weight, a.key_projection.weight, 1e-3));
    EXPECT_THROW(mha::random_self_attention(0, 4, 4, true, first), std::invalid_argument);
}

// ---- Order: attention alone ignores it, positional encodings restore it ----

TEST(SelfAttention, PermutingTokensPermutesOutputRowsAndBothAxesOfWeights) {
    mha::RandomGenerator random(4);
    const SelfAttention head = mha::random_self_attention(8, 4, 5, true, random);
    const Matrix X = 2.0 * varied(6, 8, 0.5);  // (L = 6, d_model = 8), no positional encodings
    const std::vector<std::size_t> order = {5, 2, 0, 4, 1, 3};
    const auto original = head.forward(X);
    const auto permuted = head.forward(permute_rows(X, order));
    EXPECT_TRUE(matrices_near(permuted.output, permute_rows(original.output, order), 1e-14));
    for (std::size_t i = 0; i < 6; ++i) {
        for (std::size_t j = 0; j < 6; ++j) {
            EXPECT_NEAR(permuted.weights(i, j), original.weights(order[i], order[j]), 1e-15)
                << "(" << i << ", " << j << ")";
        }
    }
}

TEST(SelfAttention, PositionalEncodingsBreakThePermutationSymmetry) {
    mha::RandomGenerator random(4);
    const SelfAttention head = mha::random_self_attention(8, 4, 5, true, random);
    const Matrix E = 2.0 * varied(6, 8, 0.5);                        // token vectors (L, d_model)
    const Matrix P = mha::sinusoidal_positional_encoding(6, 8);      // (L, d_model)
    const std::vector<std::size_t> order = {5, 4, 3, 2, 1, 0};      // the sentence reversed
    const auto original = head.forward(E + P);
    const auto reversed = head.forward(permute_rows(E, order) + P);  // positions stay where they are
    const Matrix expected_if_order_did_not_matter = permute_rows(original.output, order);
    double largest_difference = 0.0;
    for (std::size_t i = 0; i < 6; ++i) {
        for (std::size_t c = 0; c < 5; ++c) {
            largest_difference =
                std::max(largest_difference, std::abs(reversed.output(i, c) - expected_if_order_did_not_matter(i, c)));
        }
    }
    EXPECT_GT(largest_difference, 1e-3);
}

// ---- Masks ----

TEST(SelfAttention, CausalMaskHidesTheFuture) {
    mha::RandomGenerator random(6);
    const SelfAttention head = mha::random_self_attention(4, 3, 2, true, random);
    const Matrix X = varied(5, 4, 1.2);
    const auto masked = head.forward(X, mha::causal_mask(5, 5));
    const auto unmasked = head.forward(X);
    for (std::size_t i = 0; i < 5; ++i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < 5; ++j) {
            if (j > i) {
                EXPECT_EQ(masked.weights(i, j), 0.0) << "query " << i << " saw future key " << j;
            }
            sum += masked.weights(i, j);
        }
        EXPECT_NEAR(sum, 1.0, 1e-14) << "row " << i;
    }
    // The first token sees only itself: its output is its own value row, X(0) W_vᵀ + b_v.
    for (std::size_t c = 0; c < 2; ++c) {
        double value = head.value_projection.bias(c);
        for (std::size_t f = 0; f < 4; ++f) {
            value += X(0, f) * head.value_projection.weight(c, f);
        }
        EXPECT_NEAR(masked.output(0, c), value, 1e-14);
        // The last token already saw everything: the mask changes nothing there.
        EXPECT_NEAR(masked.output(4, c), unmasked.output(4, c), 1e-14);
    }
    // The additive form of the same mask gives the same result.
    const auto additive = head.forward(X, mha::additive_mask(mha::causal_mask(5, 5)));
    EXPECT_TRUE(matrices_near(additive.output, masked.output, 0.0));
}

// ---- Bad input ----

TEST(SelfAttentionErrors, InputOfTheWrongWidthNamesTheShapes) {
    mha::RandomGenerator random(1);
    const SelfAttention head = mha::random_self_attention(6, 4, 4, true, random);
    const Matrix X = xt::zeros<double>({3, 5});  // d_model 5, the head wants 6
    const std::string message = thrown_message([&] { head.forward(X); });
    EXPECT_NE(message.find("(3, 5)"), std::string::npos) << message;
    EXPECT_NE(message.find("(4, 6)"), std::string::npos) << message;
    EXPECT_THROW(head.forward(X, mha::causal_mask(3, 3)), std::invalid_argument);
}

TEST(SelfAttentionErrors, MaskOfTheWrongShapeThrows) {
    mha::RandomGenerator random(1);
    const SelfAttention head = mha::random_self_attention(6, 4, 4, true, random);
    const std::string message = thrown_message([&] { head.forward(varied(3, 6, 0.0), mha::causal_mask(3, 4)); });
    EXPECT_NE(message.find("(3, 4)"), std::string::npos) << message;
}

}  // namespace
