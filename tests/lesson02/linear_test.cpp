// Lesson 2 tests: the linear layer y = x Wᵀ + b and its Xavier-uniform initialisation.
#include <algorithm>
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "reference/linear.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

using mha::testing::expect_contains;

using mha::Linear;
using mha::Matrix;
using mha::Vector;
using mha::testing::matrices_near;
using mha::testing::thrown_message;

// W has PyTorch's layout (out_features, in_features) = (2, 3): row o makes output feature o.
Linear hand_layer(bool with_bias) {
    Linear layer;
    layer.weight = Matrix{{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};  // (2, 3)
    layer.bias = with_bias ? Vector{10.0, 20.0} : Vector(xt::zeros<double>({0}));
    return layer;
}

// ---- Forward, by hand ----

TEST(Linear, HandComputedWithoutBias) {
    const Linear layer = hand_layer(false);
    EXPECT_EQ(layer.in_features(), 3u);
    EXPECT_EQ(layer.out_features(), 2u);
    EXPECT_FALSE(layer.has_bias());
    const Matrix x = {{1.0, 0.0, -1.0}, {2.0, 1.0, 0.0}};  // (N=2, in=3)
    // Row 0: (1*1 + 0*2 - 1*3, 1*4 + 0*5 - 1*6) = (-2, -2). Row 1: (2 + 2, 8 + 5) = (4, 13).
    const Matrix expected = {{-2.0, -2.0}, {4.0, 13.0}};  // (N=2, out=2)
    EXPECT_TRUE(matrices_near(layer.forward(x), expected, 0.0));
}

TEST(Linear, HandComputedWithBiasAddsItToEveryRow) {
    const Linear layer = hand_layer(true);
    EXPECT_TRUE(layer.has_bias());
    const Matrix x = {{1.0, 0.0, -1.0}, {2.0, 1.0, 0.0}, {0.0, 0.0, 0.0}};  // (3, 3)
    // The rows above plus (10, 20); a zero input gives the bias itself.
    const Matrix expected = {{8.0, 18.0}, {14.0, 33.0}, {10.0, 20.0}};
    EXPECT_TRUE(matrices_near(layer.forward(x), expected, 0.0));
}

TEST(Linear, WeightRowOMakesOutputFeatureO) {
    // A one-hot input row picks a column of W: input e_c gives output (W(0, c), W(1, c)).
    const Linear layer = hand_layer(false);
    const Matrix x = {{0.0, 1.0, 0.0}};
    EXPECT_TRUE(matrices_near(layer.forward(x), Matrix{{2.0, 5.0}}, 0.0));
}

// ---- Forward, bad shapes ----

TEST(LinearErrors, InputOfTheWrongWidthNamesBothShapes) {
    const Linear layer = hand_layer(true);
    const Matrix x = xt::zeros<double>({4, 2});  // 2 columns, the layer wants 3
    const std::string message = thrown_message([&] { layer.forward(x); });
    expect_contains(message, {"Linear::forward", "(4, 2)", "(2, 3)"});
}

TEST(LinearErrors, BiasOfTheWrongLengthNamesBothShapes) {
    Linear layer = hand_layer(true);
    layer.bias = Vector{1.0, 2.0, 3.0};  // (3), but out_features is 2
    const Matrix x = xt::zeros<double>({1, 3});
    const std::string message = thrown_message([&] { layer.forward(x); });
    expect_contains(message, {"Linear::forward", "(3)", "(2, 3)"});
}

// ---- Xavier-uniform initialisation ----

TEST(XavierUniform, ShapesFollowPyTorchLayoutAndBiasIsZero) {
    mha::RandomGenerator random(1);
    const Linear layer = mha::xavier_uniform_linear(5, 3, true, random);
    ASSERT_EQ(layer.weight.shape(0), 3u);  // out_features
    ASSERT_EQ(layer.weight.shape(1), 5u);  // in_features
    ASSERT_EQ(layer.bias.size(), 3u);
    for (const double b : layer.bias) {
        EXPECT_EQ(b, 0.0);
    }
    mha::RandomGenerator other(1);
    const Linear no_bias = mha::xavier_uniform_linear(5, 3, false, other);
    EXPECT_EQ(no_bias.bias.size(), 0u);
    EXPECT_FALSE(no_bias.has_bias());
}

TEST(XavierUniform, EveryWeightWithinTheGlorotLimit) {
    mha::RandomGenerator random(7);
    const std::size_t in = 30, out = 10;
    const Linear layer = mha::xavier_uniform_linear(in, out, false, random);
    const double limit = std::sqrt(6.0 / 40.0);  // sqrt(6 / (in + out)) = 0.3873
    double largest = 0.0;
    for (const double w : layer.weight) {
        EXPECT_LE(std::abs(w), limit);
        largest = std::max(largest, std::abs(w));
    }
    // 300 draws from [-a, a): the largest |w| is all but certainly above 0.9 a,
    // so the layer does not use a narrower range than it should.
    EXPECT_GT(largest, 0.9 * limit);
}

TEST(XavierUniform, SameSeedSameWeightsDifferentSeedDifferentWeights) {
    mha::RandomGenerator first(2024), second(2024), third(2025);
    const Linear a = mha::xavier_uniform_linear(8, 4, true, first);
    const Linear b = mha::xavier_uniform_linear(8, 4, true, second);
    const Linear c = mha::xavier_uniform_linear(8, 4, true, third);
    EXPECT_TRUE(matrices_near(a.weight, b.weight, 0.0));
    std::size_t equal = 0;
    for (std::size_t i = 0; i < a.weight.size(); ++i) {
        equal += a.weight.flat(i) == c.weight.flat(i);
    }
    EXPECT_EQ(equal, 0u) << "seeds 2024 and 2025 gave " << equal << " identical weights out of 32";
}

TEST(XavierUniform, SampleVarianceIsLimitSquaredOverThree) {
    // Uniform on [-a, a] has mean 0 and variance a² / 3. With in = out = 200,
    // a² = 6 / 400, so the variance is 0.005, i.e. 2 / (in + out): Glorot's target.
    mha::RandomGenerator random(3);
    const Linear layer = mha::xavier_uniform_linear(200, 200, false, random);
    const double n = static_cast<double>(layer.weight.size());  // 40000
    double sum = 0.0, sum_of_squares = 0.0;
    for (const double w : layer.weight) {
        sum += w;
        sum_of_squares += w * w;
    }
    const double mean = sum / n;
    const double variance = sum_of_squares / n - mean * mean;
    EXPECT_NEAR(mean, 0.0, 0.002);           // the standard error of the mean is 0.00035
    EXPECT_NEAR(variance, 0.005, 0.00015);   // the standard error of the variance is about 0.00002
}

TEST(XavierUniform, ZeroSizesThrow) {
    mha::RandomGenerator random(1);
    EXPECT_THROW(mha::xavier_uniform_linear(0, 3, true, random), std::invalid_argument);
    EXPECT_THROW(mha::xavier_uniform_linear(3, 0, true, random), std::invalid_argument);
}

}  // namespace
