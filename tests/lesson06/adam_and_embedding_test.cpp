// Lesson 6 tests: the embedding's backward pass and the Adam update, by hand
// and against the formula written out independently here.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "reference/embedding.hpp"
#include "test_helpers.hpp"
#include "train/adam.hpp"
#include "train/embedding_backward.hpp"

namespace {

using mha::Matrix;
using mha::testing::dot_all;
using mha::testing::expect_contains;
using mha::testing::gradients_agree;
using mha::testing::numerical_gradient;
using mha::testing::thrown_message;
using mha::testing::varied;

// ---- Embedding ----

TEST(EmbeddingBackward, RepeatedIdsAddUpAndUnseenIdsGetZero) {
    // ids 2, 0, 2: row 2 of the table was used twice, row 1 never.
    const Matrix grad_output = {{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}};
    const Matrix grad = mha::embedding_backward({2, 0, 2}, grad_output, 3);
    const Matrix expected = {{3.0, 4.0}, {0.0, 0.0}, {6.0, 8.0}};
    EXPECT_TRUE(mha::testing::matrices_near(grad, expected, 0.0));
}

TEST(EmbeddingBackward, AgreesWithCentralDifferences) {
    mha::RandomGenerator random(7);
    const mha::Embedding embedding = mha::random_embedding(5, 3, random);
    const std::vector<std::size_t> ids = {4, 1, 1, 0, 4, 4};
    const Matrix grad_output = varied(ids.size(), 3, 0.3);  // dL/dX for L = Σ dX ⊙ X
    const Matrix numerical = numerical_gradient<Matrix>(embedding.table, [&](const Matrix& table) {
        return dot_all(grad_output, mha::Embedding{table}.forward(ids));
    });
    EXPECT_TRUE(gradients_agree(mha::embedding_backward(ids, grad_output, 5), numerical));
}

TEST(EmbeddingBackward, RefusesAnIdOutsideTheTableAndAMissingRow) {
    expect_contains(thrown_message([] { mha::embedding_backward({0, 3}, Matrix{{1.0}, {2.0}}, 3); }),
                    {"embedding_backward", "id 3", "index 1", "3 rows"});
    expect_contains(thrown_message([] { mha::embedding_backward({0, 1}, Matrix{{1.0}}, 3); }),
                    {"embedding_backward", "(1, 1)", "2 ids"});
}

// ---- Adam ----

TEST(Adam, FirstStepMovesEveryEntryByTheLearningRateAgainstItsGradient) {
    // Step 1: m̂ = g and v̂ = g², so the update is lr · g / (|g| + ε) ≈ lr · sign(g),
    // whatever the gradient's size: Adam's hallmark.
    Matrix parameter = {{1.0, 1.0, 1.0}};
    const Matrix gradient = {{1e-3, -50.0, 0.0}};
    mha::AdamMoments moments{xt::zeros<double>({1, 3}), xt::zeros<double>({1, 3})};
    mha::AdamSettings settings;
    settings.learning_rate = 0.1;
    mha::adam_update(parameter, gradient, moments, 1, settings);
    EXPECT_NEAR(parameter(0, 0), 1.0 - 0.1 * 1e-3 / (1e-3 + 1e-8), 1e-15);
    EXPECT_NEAR(parameter(0, 1), 1.0 + 0.1 * 50.0 / (50.0 + 1e-8), 1e-15);
    EXPECT_EQ(parameter(0, 2), 1.0);  // no gradient, no move
    EXPECT_NEAR(moments.first(0, 1), -5.0, 1e-12);    // (1 − 0.9) · −50
    EXPECT_NEAR(moments.second(0, 1), 2.5, 1e-12);    // (1 − 0.999) · 2500
}

TEST(Adam, SecondStepByHand) {
    // g₁ = 2, g₂ = −1, lr 0.01, one entry, worked out on paper:
    //   m₁ = 0.2, v₁ = 0.004; m₂ = 0.9·0.2 − 0.1 = 0.08, v₂ = 0.999·0.004 + 0.001 = 0.004996
    //   m̂₂ = 0.08 / (1 − 0.81) = 0.42105263…, v̂₂ = 0.004996 / (1 − 0.998001) = 2.49924962…
    const double after_first = 5.0 - 0.01 * 2.0 / (2.0 + 1e-8);
    const double m_hat = 0.08 / 0.19, v_hat = 0.004996 / (1.0 - 0.999 * 0.999);
    const double expected = after_first - 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8);
    Matrix parameter = {{5.0}};
    mha::Adam adam({0.01});
    for (const double g : {2.0, -1.0}) {
        const Matrix gradient = {{g}};
        adam.step({&parameter}, {&gradient});
    }
    EXPECT_EQ(adam.steps(), 2u);
    EXPECT_NEAR(parameter(0, 0), expected, 1e-14);
}

TEST(Adam, RefusesMismatchedShapesAndStepZero) {
    Matrix parameter = xt::zeros<double>({2, 2});
    const Matrix gradient = xt::zeros<double>({2, 3});
    mha::AdamMoments moments{xt::zeros<double>({2, 2}), xt::zeros<double>({2, 2})};
    expect_contains(thrown_message([&] { mha::adam_update(parameter, gradient, moments, 1, {}); }),
                    {"adam_update", "(2, 2)", "(2, 3)", "same shape"});
    expect_contains(thrown_message([&] { mha::adam_update(parameter, parameter, moments, 0, {}); }),
                    {"adam_update", "step is 0"});
    mha::Adam adam({});
    expect_contains(thrown_message([&] { adam.step({&parameter}, {}); }), {"Adam::step", "1 parameters", "0 gradients"});
}

}  // namespace
