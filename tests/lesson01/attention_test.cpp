// Lesson 1 tests: scaled dot-product attention, checked against hand-computed
// numbers, against properties that must hold for any input, and on bad input.
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "reference/attention.hpp"
#include "reference/mask.hpp"
#include "reference/matmul.hpp"
#include "test_helpers.hpp"

namespace {

using mha::BoolMatrix;
using mha::Matrix;
using mha::scaled_dot_product_attention;
using mha::testing::matrices_near;
using mha::testing::varied;
using mha::testing::thrown_message;
constexpr double infinity = std::numeric_limits<double>::infinity();

// ---- Hand-computed cases ----

TEST(Matmul, HandComputedProducts) {
    const Matrix A = {{1, 2, 3}, {4, 5, 6}};        // (2, 3)
    const Matrix B = {{7, 8}, {9, 10}, {11, 12}};   // (3, 2)
    const Matrix AB = {{58, 64}, {139, 154}};       // 1*7+2*9+3*11 = 58, ...
    EXPECT_TRUE(matrices_near(mha::matmul(A, B), AB, 0.0));
    const Matrix C = {{1, 0, 1}, {0, 1, 0}};        // (2, 3)
    const Matrix ACt = {{4, 2}, {10, 5}};           // rows of A dotted with rows of C
    EXPECT_TRUE(matrices_near(mha::matmul_transposed(A, C), ACt, 0.0));
}

TEST(Attention, HandComputedTwoKeys) {
    // One query (1, 0) against keys (1, 0) and (0, 1), d_k = 2:
    // scores = (1, 0) / sqrt(2); weight 0 = 1 / (1 + exp(-1/sqrt(2))) = 0.66976...
    const Matrix Q = {{1.0, 0.0}};
    const Matrix K = {{1.0, 0.0}, {0.0, 1.0}};
    const Matrix V = {{1.0, 2.0}, {3.0, 4.0}};
    const auto result = scaled_dot_product_attention(Q, K, V);
    const Matrix weights = {{0.6697615493266569, 0.3302384506733431}};
    const Matrix output = {{1.6604769013466862, 2.6604769013466862}};  // 0.6698 * (1, 2) + 0.3302 * (3, 4)
    EXPECT_TRUE(matrices_near(result.weights, weights, 1e-15));
    EXPECT_TRUE(matrices_near(result.output, output, 1e-15));
}

TEST(Attention, ScoresAreDividedBySquareRootOfDk) {
    // q.k = 8 with d_k = 4: the scaled score is 8 / sqrt(4) = 4, so the weights are
    // e^4 / (e^4 + 1) and 1 / (e^4 + 1). Dividing by d_k, or not at all, gives other numbers.
    const Matrix Q = {{2.0, 2.0, 2.0, 2.0}};
    const Matrix K = {{1.0, 1.0, 1.0, 1.0}, {0.0, 0.0, 0.0, 0.0}};
    const Matrix V = {{1.0}, {0.0}};
    const auto result = scaled_dot_product_attention(Q, K, V);
    const Matrix weights = {{0.9820137900379085, 0.01798620996209155}};
    EXPECT_TRUE(matrices_near(result.weights, weights, 1e-15));
    EXPECT_NEAR(result.output(0, 0), 0.9820137900379085, 1e-15);
}

TEST(Attention, SingleKeyTakesAllTheWeight) {
    const Matrix Q = {{0.5, -2.0}, {3.0, 1.0}};  // (L=2, d_k=2)
    const Matrix K = {{1.0, 1.0}};               // (S=1, d_k=2)
    const Matrix V = {{7.0, -1.0, 2.0}};         // (S=1, d_v=3)
    const auto result = scaled_dot_product_attention(Q, K, V);
    EXPECT_TRUE(matrices_near(result.weights, Matrix{{1.0}, {1.0}}, 0.0));
    EXPECT_TRUE(matrices_near(result.output, Matrix{{7.0, -1.0, 2.0}, {7.0, -1.0, 2.0}}, 0.0));
}

// ---- Properties that hold for any input ----

TEST(Attention, ShapesFollowLSAndDv) {
    const auto result = scaled_dot_product_attention(varied(3, 5, 0.1), varied(7, 5, 0.2), varied(7, 2, 0.3));
    EXPECT_EQ(result.output.shape(0), 3u);   // L
    EXPECT_EQ(result.output.shape(1), 2u);   // d_v
    EXPECT_EQ(result.weights.shape(0), 3u);  // L
    EXPECT_EQ(result.weights.shape(1), 7u);  // S
}

TEST(Attention, WeightRowsSumToOneAndOutputIsWeightedAverageOfValues) {
    const Matrix Q = varied(4, 6, 1.0), K = varied(9, 6, 2.0), V = varied(9, 3, 3.0);
    const auto result = scaled_dot_product_attention(Q, K, V);
    for (std::size_t i = 0; i < 4; ++i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < 9; ++j) {
            EXPECT_GT(result.weights(i, j), 0.0);
            sum += result.weights(i, j);
        }
        EXPECT_NEAR(sum, 1.0, 1e-14) << "row " << i;
        // Each output entry lies between the smallest and largest value in its column.
        for (std::size_t c = 0; c < 3; ++c) {
            EXPECT_GE(result.output(i, c), xt::amin(xt::view(V, xt::all(), c))() - 1e-12);
            EXPECT_LE(result.output(i, c), xt::amax(xt::view(V, xt::all(), c))() + 1e-12);
        }
    }
}

TEST(Attention, PermutingKeysAndValuesTogetherLeavesOutputUnchanged) {
    const Matrix Q = varied(3, 4, 0.5), K = varied(5, 4, 1.5), V = varied(5, 2, 2.5);
    const std::size_t order[] = {3, 0, 4, 2, 1};
    Matrix K_permuted = K, V_permuted = V;
    for (std::size_t j = 0; j < 5; ++j) {
        xt::row(K_permuted, j) = xt::row(K, order[j]);
        xt::row(V_permuted, j) = xt::row(V, order[j]);
    }
    const auto original = scaled_dot_product_attention(Q, K, V);
    const auto permuted = scaled_dot_product_attention(Q, K_permuted, V_permuted);
    EXPECT_TRUE(matrices_near(permuted.output, original.output, 1e-14));
    for (std::size_t j = 0; j < 5; ++j) {  // the weights move with their keys
        for (std::size_t i = 0; i < 3; ++i) {
            EXPECT_NEAR(permuted.weights(i, j), original.weights(i, order[j]), 1e-15);
        }
    }
}

TEST(Attention, IdenticalKeysGiveUniformWeightsAndTheMeanValue) {
    const Matrix Q = varied(2, 3, 4.0);
    const Matrix K = {{0.3, -0.2, 0.9}, {0.3, -0.2, 0.9}, {0.3, -0.2, 0.9}, {0.3, -0.2, 0.9}};
    const Matrix V = {{1.0, 0.0}, {2.0, 0.0}, {3.0, 0.0}, {6.0, 4.0}};
    const auto result = scaled_dot_product_attention(Q, K, V);
    EXPECT_TRUE(matrices_near(result.weights, Matrix{{0.25, 0.25, 0.25, 0.25}, {0.25, 0.25, 0.25, 0.25}}, 1e-15));
    EXPECT_TRUE(matrices_near(result.output, Matrix{{3.0, 1.0}, {3.0, 1.0}}, 1e-15));
}

TEST(Attention, ExtremeScoresStayFinite) {
    // Scores of about +-1e4: the first key takes all the weight, nothing overflows.
    const Matrix Q = {{100.0, 0.0}};
    const Matrix K = {{100.0, 0.0}, {-100.0, 0.0}};
    const Matrix V = {{1.0, 2.0}, {3.0, 4.0}};
    const auto result = scaled_dot_product_attention(Q, K, V);
    EXPECT_TRUE(matrices_near(result.weights, Matrix{{1.0, 0.0}}, 0.0));
    EXPECT_TRUE(matrices_near(result.output, Matrix{{1.0, 2.0}}, 0.0));
}

// ---- Masks ----

TEST(AttentionMask, MaskedKeysGetZeroWeightAndTheRestRenormalise) {
    // All scores equal (Q is zero), so unmasked keys share the weight equally.
    const Matrix Q = xt::zeros<double>({2, 3});
    const Matrix K = varied(4, 3, 0.7), V = {{1.0}, {10.0}, {100.0}, {1000.0}};
    const BoolMatrix mask = {{true, false, false, true}, {false, false, false, true}};
    const auto result = scaled_dot_product_attention(Q, K, V, mask);
    EXPECT_TRUE(matrices_near(result.weights, Matrix{{0.0, 0.5, 0.5, 0.0}, {1.0 / 3, 1.0 / 3, 1.0 / 3, 0.0}}, 1e-15));
    EXPECT_TRUE(matrices_near(result.output, Matrix{{55.0}, {37.0}}, 1e-14));
}

TEST(AttentionMask, BooleanMaskEqualsItsAdditiveForm) {
    const Matrix Q = varied(5, 4, 0.2), K = varied(6, 4, 0.4), V = varied(6, 3, 0.6);
    BoolMatrix mask = xt::zeros<bool>({5, 6});
    mask(0, 1) = mask(2, 0) = mask(2, 5) = mask(4, 3) = true;
    const auto with_bool = scaled_dot_product_attention(Q, K, V, mask);
    const auto with_float = scaled_dot_product_attention(Q, K, V, mha::additive_mask(mask));
    EXPECT_TRUE(matrices_near(with_bool.output, with_float.output, 0.0));
    EXPECT_TRUE(matrices_near(with_bool.weights, with_float.weights, 0.0));
    EXPECT_EQ(with_bool.weights(2, 5), 0.0);
}

TEST(AttentionMask, AdditiveFloatMaskTiltsTheScores) {
    // Adding ln 2 to key 0's score doubles its unnormalised weight: 2 : 1 : 1.
    const Matrix Q = xt::zeros<double>({1, 2});
    const Matrix K = varied(3, 2, 0.9), V = {{4.0}, {0.0}, {8.0}};
    const Matrix mask = {{std::log(2.0), 0.0, 0.0}};
    const auto result = scaled_dot_product_attention(Q, K, V, mask);
    EXPECT_TRUE(matrices_near(result.weights, Matrix{{0.5, 0.25, 0.25}}, 1e-15));
    EXPECT_TRUE(matrices_near(result.output, Matrix{{4.0}}, 1e-14));
}

TEST(AttentionMask, CausalMaskMakesFirstOutputTheFirstValue) {
    const Matrix X = varied(4, 3, 1.1);
    const auto result = scaled_dot_product_attention(X, X, X, mha::causal_mask(4, 4));
    EXPECT_TRUE(matrices_near(xt::eval(xt::view(result.output, xt::range(0, 1), xt::all())),
                              xt::eval(xt::view(X, xt::range(0, 1), xt::all())), 0.0));
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = i + 1; j < 4; ++j) {
            EXPECT_EQ(result.weights(i, j), 0.0) << "query " << i << " saw future key " << j;
        }
    }
}

TEST(AttentionMask, FullyMaskedRowGivesZeroWeightsAndZeroOutput) {
    // PyTorch returns NaN for a query that may look at nothing; we return zeros,
    // and the other rows are untouched.
    const Matrix Q = varied(3, 2, 0.3), K = varied(4, 2, 0.8), V = varied(4, 2, 1.3);
    BoolMatrix mask = xt::zeros<bool>({3, 4});
    xt::row(mask, 1) = true;
    const auto masked = scaled_dot_product_attention(Q, K, V, mask);
    const auto unmasked = scaled_dot_product_attention(Q, K, V);
    for (std::size_t j = 0; j < 4; ++j) {
        EXPECT_EQ(masked.weights(1, j), 0.0);
    }
    EXPECT_EQ(masked.output(1, 0), 0.0);
    EXPECT_EQ(masked.output(1, 1), 0.0);
    for (const std::size_t i : {0, 2}) {
        for (std::size_t c = 0; c < 2; ++c) {
            EXPECT_EQ(masked.output(i, c), unmasked.output(i, c));
        }
    }
    // The same through a float mask whose row is all -infinity.
    Matrix float_mask = xt::zeros<double>({3, 4});
    xt::row(float_mask, 1) = -infinity;
    const auto float_masked = scaled_dot_product_attention(Q, K, V, float_mask);
    EXPECT_TRUE(matrices_near(float_masked.output, masked.output, 0.0));
}

TEST(Attention, NoQueriesGiveAnEmptyOutput) {
    const auto result = scaled_dot_product_attention(xt::zeros<double>({0, 3}), varied(2, 3, 0.0), varied(2, 5, 0.0));
    EXPECT_EQ(result.output.shape(0), 0u);
    EXPECT_EQ(result.output.shape(1), 5u);
    EXPECT_EQ(result.weights.shape(1), 2u);
}

// ---- Bad input: a clear std::invalid_argument that names the function and the shapes ----

void expect_message_contains(const std::string& message, std::initializer_list<const char*> parts) {
    EXPECT_NE(message.find("scaled_dot_product_attention"), std::string::npos) << message;
    for (const char* part : parts) {
        EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
}

TEST(AttentionErrors, QueryAndKeyWidthsDiffer) {
    const auto message = thrown_message(
        [] { scaled_dot_product_attention(varied(10, 64, 0), varied(12, 32, 0), varied(12, 8, 0)); });
    expect_message_contains(message, {"(10, 64)", "(12, 32)", "d_k"});
}

TEST(AttentionErrors, KeyAndValueLengthsDiffer) {
    const auto message =
        thrown_message([] { scaled_dot_product_attention(varied(2, 4, 0), varied(5, 4, 0), varied(6, 4, 0)); });
    expect_message_contains(message, {"(5, 4)", "(6, 4)"});
}

TEST(AttentionErrors, EmptyDimensions) {
    expect_message_contains(thrown_message([] {
                                scaled_dot_product_attention(xt::zeros<double>({2, 0}), xt::zeros<double>({3, 0}),
                                                             varied(3, 2, 0));
                            }),
                            {"d_k must be at least 1"});
    expect_message_contains(thrown_message([] {
                                scaled_dot_product_attention(varied(2, 3, 0), xt::zeros<double>({0, 3}),
                                                             xt::zeros<double>({0, 2}));
                            }),
                            {"at least one key"});
}

TEST(AttentionErrors, MaskOfTheWrongShape) {
    const Matrix Q = varied(3, 4, 0), K = varied(5, 4, 0), V = varied(5, 2, 0);
    const BoolMatrix transposed_mask = xt::zeros<bool>({5, 3});
    expect_message_contains(thrown_message([&] { scaled_dot_product_attention(Q, K, V, transposed_mask); }),
                            {"mask is (5, 3)", "(L, S) = (3, 5)"});
    const Matrix wrong_float_mask = xt::zeros<double>({3, 4});
    expect_message_contains(thrown_message([&] { scaled_dot_product_attention(Q, K, V, wrong_float_mask); }),
                            {"mask is (3, 4)"});
}

TEST(AttentionErrors, NonFiniteInputsAndMasks) {
    Matrix Q = varied(2, 2, 0), K = varied(2, 2, 0), V = varied(2, 2, 0);
    Q(1, 0) = std::nan("");
    expect_message_contains(thrown_message([&] { scaled_dot_product_attention(Q, K, V); }),
                            {"Q (2, 2)", "row 1, column 0"});
    Q(1, 0) = 0.0;
    V(0, 1) = infinity;
    expect_message_contains(thrown_message([&] { scaled_dot_product_attention(Q, K, V); }), {"V (2, 2)"});
    V(0, 1) = 0.0;
    const Matrix nan_mask = {{0.0, std::nan("")}, {0.0, 0.0}};
    expect_message_contains(thrown_message([&] { scaled_dot_product_attention(Q, K, V, nan_mask); }),
                            {"mask holds", "row 0, column 1"});
    const Matrix plus_infinity_mask = {{0.0, 0.0}, {infinity, 0.0}};
    expect_message_contains(thrown_message([&] { scaled_dot_product_attention(Q, K, V, plus_infinity_mask); }),
                            {"mask holds", "row 1, column 0"});
}

TEST(MatmulErrors, MismatchedShapesNameBoth) {
    const auto message = thrown_message([] { mha::matmul(varied(2, 3, 0), varied(4, 5, 0)); });
    EXPECT_NE(message.find("matmul: A is (2, 3) and B is (4, 5)"), std::string::npos) << message;
    const auto transposed = thrown_message([] { mha::matmul_transposed(varied(2, 3, 0), varied(4, 5, 0)); });
    EXPECT_NE(transposed.find("matmul_transposed: A is (2, 3) and B is (4, 5)"), std::string::npos) << transposed;
}

}  // namespace
