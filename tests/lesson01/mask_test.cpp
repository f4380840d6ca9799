// Lesson 1 tests: causal and additive masks.
#include <limits>

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
