// Lesson 1 tests: causal and additive masks.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/mask.hpp"

namespace {

TEST(CausalMask, ForbidsExactlyTheFuture) {
    const mha::BoolMatrix expected = {{false, true, true}, {false, false, true}, {false, false, false}};
    EXPECT_EQ(mha::causal_mask(3, 3), expected);
}

TEST(CausalMask, RectangularIsAlignedTopLeftLikePyTorch) {
    // torch.ones(2, 4, dtype=torch.bool).triu(diagonal=1)
    const mha::BoolMatrix expected = {{false, true, true, true}, {false, false, true, true}};
    EXPECT_EQ(mha::causal_mask(2, 4), expected);
    // More queries than keys: the last query sees every key.
    const mha::BoolMatrix tall = {{false, true}, {false, false}, {false, false}};
    EXPECT_EQ(mha::causal_mask(3, 2), tall);
}

TEST(AdditiveMask, TrueBecomesMinusInfinityFalseBecomesZero) {
    const mha::BoolMatrix mask = {{true, false}, {false, true}};
    const mha::Matrix additive = mha::additive_mask(mask);
    const double infinity = std::numeric_limits<double>::infinity();
    ASSERT_EQ(additive.shape(0), 2u);
    ASSERT_EQ(additive.shape(1), 2u);
    EXPECT_EQ(additive(0, 0), -infinity);
    EXPECT_EQ(additive(0, 1), 0.0);
    EXPECT_EQ(additive(1, 0), 0.0);
    EXPECT_EQ(additive(1, 1), -infinity);
}

}  // namespace

TEST(FloatMaskValues, FiniteAndMinusInfinityOnly) {
    const double infinity = std::numeric_limits<double>::infinity();
    EXPECT_TRUE(mha::is_finite_or_minus_infinity(0.0));
    EXPECT_TRUE(mha::is_finite_or_minus_infinity(-1e308));
    EXPECT_TRUE(mha::is_finite_or_minus_infinity(-infinity));
    EXPECT_FALSE(mha::is_finite_or_minus_infinity(infinity));
    EXPECT_FALSE(mha::is_finite_or_minus_infinity(std::nan("")));
}

TEST(FloatMaskValues, TheMessageSaysWhereTheBadValueIs) {
    const double infinity = std::numeric_limits<double>::infinity();
    mha::Matrix mask = xt::zeros<double>({2, 3});
    mask(1, 0) = -infinity;  // allowed
    EXPECT_NO_THROW(mha::check_float_mask("test", mask));
    mask(1, 2) = infinity;
    std::string message;
    try {
        mha::check_float_mask("test", mask);
    } catch (const std::invalid_argument& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("test: float mask (2, 3): the mask holds inf at row 1, column 2"), std::string::npos)
        << message;
    // A 3-D mask: entry (1, 0, 2) of (2, 2, 3) is flat index 1·6 + 0·3 + 2 = 8.
    mha::Tensor3 masks = xt::zeros<double>({2, 2, 3});
    masks.data()[8] = std::nan("");
    try {
        mha::check_float_mask("test", masks);
        message.clear();
    } catch (const std::invalid_argument& error) {
        message = error.what();
    }
    EXPECT_NE(message.find("float mask (2, 2, 3): the mask holds nan at (1, 0, 2)"), std::string::npos) << message;
}

TEST(ShapeString, PrintsShapesAsPyTorchDoes) {
    EXPECT_EQ(mha::shape_string(std::vector<std::size_t>{10, 64}), "(10, 64)");
    EXPECT_EQ(mha::shape_string(std::vector<std::size_t>{7}), "(7)");
    EXPECT_EQ(mha::shape_string(std::vector<std::size_t>{}), "()");
    EXPECT_EQ(mha::shape_string(mha::Tensor3(xt::zeros<double>({2, 0, 5}))), "(2, 0, 5)");
}
