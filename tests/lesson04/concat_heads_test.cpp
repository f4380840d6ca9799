// Lesson 4 tests: concat_heads, the inverse of lesson 3's split_heads. Every
// expected matrix is written out by hand.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/attention_heads.hpp"
#include "test_helpers.hpp"

namespace {

using mha::testing::expect_contains;

using mha::Matrix;
using mha::concat_heads;
using mha::split_heads;
using mha::testing::matrices_near;
using mha::testing::thrown_message;

// (L = 2, 6): entry (i, j) = 10·i + j, so every number says where it came from.
const Matrix projected = {{0, 1, 2, 3, 4, 5}, {10, 11, 12, 13, 14, 15}};

TEST(ConcatHeads, UndoesSplitHeadsAndTheOtherWayRound) {
    for (const std::size_t H : {1, 2, 3, 6}) {
        EXPECT_TRUE(matrices_near(concat_heads(split_heads(projected, H)), projected, 0.0)) << "H = " << H;
    }
    // Three heads of (L = 2, d_k = 2), side by side: (2, 6), then cut apart again.
    const std::vector<Matrix> heads = {{{1, 2}, {3, 4}}, {{5, 6}, {7, 8}}, {{9, 10}, {11, 12}}};
    const Matrix side_by_side = concat_heads(heads);
    EXPECT_TRUE(matrices_near(side_by_side, Matrix{{1, 2, 5, 6, 9, 10}, {3, 4, 7, 8, 11, 12}}, 0.0));
    const auto again = split_heads(side_by_side, 3);
    ASSERT_EQ(again.size(), 3u);
    for (std::size_t h = 0; h < 3; ++h) {
        EXPECT_TRUE(matrices_near(again[h], heads[h], 0.0)) << "head " << h;
    }
}

TEST(ConcatHeadsErrors, NoHeadsOrHeadsOfDifferentShapes) {
    expect_contains(thrown_message([] { concat_heads({}); }), {"concat_heads", "no heads"});
    const std::vector<Matrix> narrower = {Matrix{{1, 2, 3}, {4, 5, 6}, {7, 8, 9}}, Matrix{{1, 2}, {3, 4}, {5, 6}}};
    expect_contains(thrown_message([&] { concat_heads(narrower); }),
                    {"concat_heads", "head 1 is (3, 2)", "head 0 is (3, 3)"});
    const std::vector<Matrix> shorter = {Matrix{{1, 2}, {3, 4}}, Matrix{{1, 2}, {3, 4}}, Matrix{{1, 2}}};
    expect_contains(thrown_message([&] { concat_heads(shorter); }), {"head 2 is (1, 2)", "head 0 is (2, 2)"});
}

}  // namespace
