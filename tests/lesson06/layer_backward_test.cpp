// Lesson 6 tests: the backward passes of the pieces, the linear layer, the
// softmax and the cross-entropy, each checked by hand on a tiny case and by
// central differences on random ones.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "reference/linear.hpp"
#include "reference/softmax.hpp"
#include "test_helpers.hpp"
#include "train/cross_entropy.hpp"
#include "train/linear_backward.hpp"
#include "train/softmax_backward.hpp"

namespace {

using mha::Linear;
using mha::Matrix;
using mha::Vector;
using mha::testing::dot_all;
using mha::testing::expect_contains;
using mha::testing::gradients_agree;
using mha::testing::numerical_gradient;
using mha::testing::thrown_message;
using mha::testing::varied;

constexpr double minus_infinity = -std::numeric_limits<double>::infinity();

// ---- Linear ----

TEST(LinearBackward, ByHandOnOneRow) {
    // y = x Wᵀ + b with W = [[1, 2], [3, 4], [5, 6]] (3 outputs, 2 inputs), x = [[7, 8]].
    const Linear layer{Matrix{{1.0, 2.0}, {3.0, 4.0}, {5.0, 6.0}}, Vector{0.5, -0.5, 1.0}};
    const Matrix x = {{7.0, 8.0}};
    const Matrix grad_output = {{1.0, 0.0, -1.0}};  // dL/dy
    const mha::LinearGradients g = mha::linear_backward(layer, x, grad_output);
    // dx = dY W = 1·[1, 2] − 1·[5, 6] = [−4, −4]
    EXPECT_EQ(g.input, (Matrix{{-4.0, -4.0}}));
    // dW(o, i) = dY(o) · x(i)
    EXPECT_EQ(g.weight, (Matrix{{7.0, 8.0}, {0.0, 0.0}, {-7.0, -8.0}}));
    EXPECT_EQ(g.bias, (Vector{1.0, 0.0, -1.0}));
}

TEST(LinearBackward, MatchesCentralDifferencesWithAndWithoutBias) {
    for (const bool with_bias : {true, false}) {
        SCOPED_TRACE(with_bias ? "with bias" : "without bias");
        Linear layer{varied(5, 4, 0.3), with_bias ? Vector(xt::view(varied(1, 5, 0.9), 0, xt::all()))
                                                   : Vector(xt::zeros<double>({0}))};
        const Matrix x = varied(3, 4, 1.1);
        const Matrix grad_output = varied(3, 5, 2.3);  // dL/dy: the loss is Σ dY ⊙ y
        const mha::LinearGradients g = mha::linear_backward(layer, x, grad_output);
        EXPECT_TRUE(gradients_agree(g.input, numerical_gradient<Matrix>(x, [&](const Matrix& nudged) {
                                        return dot_all(grad_output, layer.forward(nudged));
                                    })));
        EXPECT_TRUE(gradients_agree(g.weight, numerical_gradient<Matrix>(layer.weight, [&](const Matrix& nudged) {
                                        Linear changed = layer;
                                        changed.weight = nudged;
                                        return dot_all(grad_output, changed.forward(x));
                                    })));
        if (with_bias) {
            EXPECT_TRUE(gradients_agree(g.bias, numerical_gradient<Vector>(layer.bias, [&](const Vector& nudged) {
                                            Linear changed = layer;
                                            changed.bias = nudged;
                                            return dot_all(grad_output, changed.forward(x));
                                        })));
        } else {
            EXPECT_EQ(g.bias.size(), 0u);
        }
    }
}

TEST(LinearBackward, WrongShapesAreNamed) {
    const Linear layer{varied(5, 4, 0.3), Vector(xt::zeros<double>({0}))};
    expect_contains(thrown_message([&] { mha::linear_backward(layer, varied(3, 2, 0), varied(3, 5, 0)); }),
                    {"linear_backward", "(5, 4)", "x is (3, 2)"});
    expect_contains(thrown_message([&] { mha::linear_backward(layer, varied(3, 4, 0), varied(2, 5, 0)); }),
                    {"grad_output (2, 5)"});
}

// ---- Softmax ----

TEST(SoftmaxBackward, ByHandOnTwoEqualWeights) {
    // P = [0.5, 0.5], dP = [1, 0]: the weighted average is 0.5, so dS = [0.5·0.5, 0.5·(−0.5)].
    const Matrix grad = mha::softmax_backward(Matrix{{0.5, 0.5}}, Matrix{{1.0, 0.0}});
    EXPECT_EQ(grad, (Matrix{{0.25, -0.25}}));
    // A push on every entry alike changes nothing: the weights still sum to 1.
    const Matrix uniform = mha::softmax_backward(Matrix{{0.2, 0.3, 0.5}}, Matrix{{2.0, 2.0, 2.0}});
    for (const double g : uniform) {
        EXPECT_NEAR(g, 0.0, 1e-15);
    }
}

TEST(SoftmaxBackward, MatchesCentralDifferencesWithMaskedEntriesAndAFullyMaskedRow) {
    Matrix scores = varied(4, 5, 0.7) * 3.0;  // (L, S)
    scores(1, 2) = minus_infinity;            // one masked entry
    scores(1, 4) = minus_infinity;
    for (std::size_t j = 0; j < 5; ++j) {
        scores(3, j) = minus_infinity;  // a query that may see nothing
    }
    const Matrix weights = mha::softmax(scores);
    const Matrix grad_weights = varied(4, 5, 1.9);
    const Matrix grad = mha::softmax_backward(weights, grad_weights);
    // Central differences on the finite scores only: a masked score stays -inf, nudged or not.
    const Matrix numerical = numerical_gradient<Matrix>(scores, [&](const Matrix& nudged) {
        Matrix finite_only = nudged;
        for (std::size_t i = 0; i < scores.size(); ++i) {
            if (std::isinf(scores.data()[i])) {
                finite_only.data()[i] = minus_infinity;
            }
        }
        return dot_all(grad_weights, mha::softmax(finite_only));
    });
    EXPECT_TRUE(gradients_agree(grad, numerical));
    EXPECT_EQ(grad(1, 2), 0.0);  // masked entries and the fully masked row get exactly nothing
    for (std::size_t j = 0; j < 5; ++j) {
        EXPECT_EQ(grad(3, j), 0.0);
    }
}

TEST(SoftmaxBackward, ShapesMustMatch) {
    expect_contains(thrown_message([] { mha::softmax_backward(varied(2, 3, 0), varied(3, 2, 0)); }),
                    {"softmax_backward", "(2, 3)", "(3, 2)"});
}

// ---- Cross-entropy ----

TEST(CrossEntropy, ByHandOnTwoClasses) {
    // Equal logits: p = [1/2, 1/2], loss = log 2, and the gradient is p − one-hot(0) = [−1/2, 1/2].
    const mha::CrossEntropyResult result = mha::cross_entropy(Matrix{{0.0, 0.0}}, {0}, {true});
    EXPECT_NEAR(result.loss, std::log(2.0), 1e-15);
    EXPECT_NEAR(result.grad_logits(0, 0), -0.5, 1e-15);
    EXPECT_NEAR(result.grad_logits(0, 1), 0.5, 1e-15);
}

TEST(CrossEntropy, AveragesOverCountedRowsOnlyAndMatchesCentralDifferences) {
    const Matrix logits = varied(5, 4, 0.2) * 4.0;
    const std::vector<std::size_t> targets = {3, 0, 99, 2, 1};  // row 2 is not counted: its target is never read
    const std::vector<bool> counted = {true, true, false, true, false};
    const mha::CrossEntropyResult result = mha::cross_entropy(logits, targets, counted);
    // The loss by hand: the mean of −log softmax(row)[target] over rows 0, 1 and 3.
    double expected = 0.0;
    for (const std::size_t i : {0, 1, 3}) {
        double sum = 0.0;
        for (std::size_t j = 0; j < 4; ++j) {
            sum += std::exp(logits(i, j));
        }
        expected += (std::log(sum) - logits(i, targets[i])) / 3.0;
    }
    EXPECT_NEAR(result.loss, expected, 1e-14);
    EXPECT_TRUE(gradients_agree(result.grad_logits, numerical_gradient<Matrix>(logits, [&](const Matrix& nudged) {
                                    return mha::cross_entropy(nudged, targets, counted).loss;
                                })));
    for (std::size_t j = 0; j < 4; ++j) {
        EXPECT_EQ(result.grad_logits(2, j), 0.0);
        EXPECT_EQ(result.grad_logits(4, j), 0.0);
    }
}

TEST(CrossEntropy, StableForHugeLogitsAndRefusesBadTargets) {
    const mha::CrossEntropyResult huge = mha::cross_entropy(Matrix{{1000.0, 0.0}}, {1}, {true});
    EXPECT_NEAR(huge.loss, 1000.0, 1e-9);  // −log(e^0 / (e^1000 + e^0)), no overflow
    expect_contains(thrown_message([] { mha::cross_entropy(varied(2, 3, 0), {0, 3}, {true, true}); }),
                    {"cross_entropy", "row 1 is 3", "only 3 classes"});
    expect_contains(thrown_message([] { mha::cross_entropy(varied(2, 3, 0), {0}, {true, true}); }),
                    {"(2, 3)", "1 targets"});
}

}  // namespace
