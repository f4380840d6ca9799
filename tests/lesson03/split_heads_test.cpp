// Lesson 3 tests: cutting a projected matrix into heads (split_heads). Every
// expected matrix is written out by hand: head h must get exactly the columns
// [h·d_k, (h+1)·d_k). Its inverse, concat_heads, is lesson 4's and tested there.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/attention_heads.hpp"
#include "test_helpers.hpp"

namespace {

using mha::testing::expect_contains;

using mha::Matrix;
using mha::split_heads;
using mha::testing::matrices_near;
using mha::testing::thrown_message;

// (L = 2, 6): entry (i, j) = 10·i + j, so every number says where it came from.
const Matrix projected = {{0, 1, 2, 3, 4, 5}, {10, 11, 12, 13, 14, 15}};

TEST(SplitHeads, EachHeadGetsABlockOfAdjacentColumns) {
    const auto two = split_heads(projected, 2);  // d_k = 3
    ASSERT_EQ(two.size(), 2u);
    EXPECT_TRUE(matrices_near(two[0], Matrix{{0, 1, 2}, {10, 11, 12}}, 0.0));
    EXPECT_TRUE(matrices_near(two[1], Matrix{{3, 4, 5}, {13, 14, 15}}, 0.0));

    const auto three = split_heads(projected, 3);  // d_k = 2
    ASSERT_EQ(three.size(), 3u);
    EXPECT_TRUE(matrices_near(three[0], Matrix{{0, 1}, {10, 11}}, 0.0));
    EXPECT_TRUE(matrices_near(three[1], Matrix{{2, 3}, {12, 13}}, 0.0));
    EXPECT_TRUE(matrices_near(three[2], Matrix{{4, 5}, {14, 15}}, 0.0));
}

TEST(SplitHeads, OneHeadIsTheWholeMatrixAndAsManyHeadsAsColumnsGivesSingleColumns) {
    const auto one = split_heads(projected, 1);
    ASSERT_EQ(one.size(), 1u);
    EXPECT_TRUE(matrices_near(one[0], projected, 0.0));

    const auto six = split_heads(projected, 6);  // d_k = 1
    ASSERT_EQ(six.size(), 6u);
    for (std::size_t h = 0; h < 6; ++h) {
        const double top = static_cast<double>(h);
        EXPECT_TRUE(matrices_near(six[h], Matrix{{top}, {10 + top}}, 0.0)) << "head " << h;
    }
}

TEST(SplitHeadsErrors, ZeroHeadsOrHeadsThatDoNotDivideTheWidth) {
    const std::string zero = thrown_message([] { split_heads(projected, 0); });
    expect_contains(zero, {"split_heads", "6 columns", "0 heads"});
    const std::string four = thrown_message([] { split_heads(projected, 4); });
    expect_contains(four, {"split_heads", "6 columns", "4 heads", "multiple"});
}

}  // namespace
