// Lesson 1 tests: the numerically stable softmax.
#include <cmath>
#include <limits>

#include <gtest/gtest.h>

#include "reference/softmax.hpp"
#include "test_helpers.hpp"

namespace {

using mha::Matrix;
using mha::testing::matrices_near;
using mha::testing::thrown_message;
constexpr double infinity = std::numeric_limits<double>::infinity();

TEST(Softmax, HandComputedRow) {
    // exp(0), exp(ln 2), exp(ln 3) = 1, 2, 3, so the weights are 1/6, 2/6, 3/6.
    const Matrix logits = {{0.0, std::log(2.0), std::log(3.0)}};
    const Matrix expected = {{1.0 / 6.0, 2.0 / 6.0, 3.0 / 6.0}};
    EXPECT_TRUE(matrices_near(mha::softmax(logits), expected, 1e-15));
}

TEST(Softmax, EachRowIsNormalisedOnItsOwn) {
    // Row 0: two equal logits share the weight. Row 1: exp(1)/(exp(1)+exp(0)).
    const Matrix logits = {{5.0, 5.0}, {1.0, 0.0}};
    const double e = std::exp(1.0);
    const Matrix expected = {{0.5, 0.5}, {e / (e + 1.0), 1.0 / (e + 1.0)}};
    EXPECT_TRUE(matrices_near(mha::softmax(logits), expected, 1e-15));
}

TEST(Softmax, ExtremeLogitsGiveFiniteCorrectWeights) {
    // A naive exp(1e4) overflows to infinity and exp(-1e4) underflows to 0, giving inf/inf or 0/0.
    const Matrix logits = {{1e4, -1e4}, {1e4, 1e4}, {-1e4, -1e4}, {-1e4, -1e4 + std::log(3.0)}};
    const Matrix expected = {{1.0, 0.0}, {0.5, 0.5}, {0.5, 0.5}, {0.25, 0.75}};
    const Matrix weights = mha::softmax(logits);
    EXPECT_TRUE(matrices_near(weights, expected, 1e-12));
    for (const double w : weights) {
        EXPECT_TRUE(std::isfinite(w));
    }
}

TEST(Softmax, ShiftingARowChangesNothing) {
    const Matrix logits = {{0.3, -1.2, 2.5, 0.0}};
    const Matrix shifted = logits + 1000.0;
    EXPECT_TRUE(matrices_near(mha::softmax(shifted), mha::softmax(logits), 1e-12));
}

TEST(Softmax, MinusInfinityGetsExactlyZeroWeight) {
    const Matrix logits = {{-infinity, 0.0, 0.0, -infinity}};
    const Matrix expected = {{0.0, 0.5, 0.5, 0.0}};
    const Matrix weights = mha::softmax(logits);
    EXPECT_EQ(weights(0, 0), 0.0);
    EXPECT_EQ(weights(0, 3), 0.0);
    EXPECT_TRUE(matrices_near(weights, expected, 1e-15));
}

TEST(Softmax, RowOfOnlyMinusInfinityGivesZerosNotNaN) {
    const Matrix logits = {{-infinity, -infinity}, {1.0, 1.0}};
    const Matrix expected = {{0.0, 0.0}, {0.5, 0.5}};
    EXPECT_TRUE(matrices_near(mha::softmax(logits), expected, 0.0));
}

TEST(Softmax, RowsSumToOne) {
    Matrix logits = xt::zeros<double>({5, 7});
    for (std::size_t i = 0; i < 5; ++i) {
        for (std::size_t j = 0; j < 7; ++j) {
            logits(i, j) = std::sin(3.0 * i + j) * 20.0;  // varied, some large
        }
    }
    const Matrix weights = mha::softmax(logits);
    for (std::size_t i = 0; i < 5; ++i) {
        double sum = 0.0;
        for (std::size_t j = 0; j < 7; ++j) {
            EXPECT_GE(weights(i, j), 0.0);
            sum += weights(i, j);
        }
        EXPECT_NEAR(sum, 1.0, 1e-14) << "row " << i;
    }
}

TEST(Softmax, RejectsNaNAndPlusInfinityNamingWhere) {
    const Matrix with_nan = {{0.0, 1.0, 2.0}, {0.0, 1.0, std::nan("")}};
    const std::string nan_message = thrown_message([&] { mha::softmax(with_nan); });
    EXPECT_NE(nan_message.find("softmax"), std::string::npos) << nan_message;
    EXPECT_NE(nan_message.find("row 1, column 2"), std::string::npos) << nan_message;
    EXPECT_NE(nan_message.find("NaN"), std::string::npos) << nan_message;

    const Matrix with_infinity = {{infinity, 0.0}};
    const std::string infinity_message = thrown_message([&] { mha::softmax(with_infinity); });
    EXPECT_NE(infinity_message.find("+infinity"), std::string::npos) << infinity_message;
}

}  // namespace
