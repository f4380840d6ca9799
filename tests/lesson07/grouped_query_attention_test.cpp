// Lesson 7 tests: grouped-query attention. The head mapping by hand; G = H is
// lesson 4's module; any G equals lesson 4's module with each key/value head
// repeated over its group (the repeat written in the test); errors name the problem.
#include <cmath>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>

#include "decode/grouped_query_attention.hpp"
#include "decoding_helpers.hpp"
#include "test_helpers.hpp"

namespace {

using mha::GroupedQueryAttention;
using mha::key_value_head_for;
using mha::Tensor3;
using mha::testing::expect_contains;
using mha::testing::max_difference;
using mha::testing::repeated_by_hand;
using mha::testing::thrown_message;
using mha::testing::varied_batch;

// ---- The head mapping, written out by hand ----

std::vector<std::size_t> mapping(std::size_t H, std::size_t G) {
    std::vector<std::size_t> heads;
    for (std::size_t h = 0; h < H; ++h) {
        heads.push_back(key_value_head_for(h, H, G));
    }
    return heads;
}

TEST(KeyValueHeadMapping, EightQueryHeads) {
    EXPECT_EQ(mapping(8, 8), (std::vector<std::size_t>{0, 1, 2, 3, 4, 5, 6, 7}));  // multi-head: its own
    EXPECT_EQ(mapping(8, 4), (std::vector<std::size_t>{0, 0, 1, 1, 2, 2, 3, 3}));  // pairs
    EXPECT_EQ(mapping(8, 2), (std::vector<std::size_t>{0, 0, 0, 0, 1, 1, 1, 1}));  // halves
    EXPECT_EQ(mapping(8, 1), (std::vector<std::size_t>{0, 0, 0, 0, 0, 0, 0, 0}));  // multi-query: all share one
}

TEST(KeyValueHeadMapping, SixQueryHeadsInThreeGroups) {
    EXPECT_EQ(mapping(6, 3), (std::vector<std::size_t>{0, 0, 1, 1, 2, 2}));
    EXPECT_EQ(mapping(6, 2), (std::vector<std::size_t>{0, 0, 0, 1, 1, 1}));
}

TEST(KeyValueHeadMappingErrors, NamesTheProblem) {
    expect_contains(thrown_message([] { key_value_head_for(0, 8, 0); }), {"key_value_head_for", "num_kv_heads is 0"});
    expect_contains(thrown_message([] { key_value_head_for(0, 8, 3); }),
                    {"num_kv_heads 3 does not divide num_heads 8"});
    expect_contains(thrown_message([] { key_value_head_for(8, 8, 2); }), {"query head 8 does not exist", "0 to 7"});
}

// ---- G = H is lesson 4 ----

TEST(GroupedQueryAttention, WithAsManyKeyValueHeadsAsHeadsIsLessonFour) {
    for (const bool causal : {false, true}) {
        for (const bool with_bias : {false, true}) {
            mha::RandomGenerator random(7);
            mha::MultiHeadAttention module = mha::random_multi_head_attention(12, 3, with_bias, random);
            if (with_bias) {  // PyTorch's biases start at zero; give them values so that they are tested
                for (mha::Linear* p : {&module.query_projection, &module.key_projection, &module.value_projection,
                                       &module.output_projection}) {
                    for (std::size_t i = 0; i < p->bias.size(); ++i) p->bias(i) = 0.1 * std::cos(3.0 * i);
                }
            }
            const Tensor3 x = varied_batch(2, 5, 12, 0.3);
            mha::AttentionMasks masks;
            masks.causal = causal;
            const mha::MultiHeadAttentionResult expected = module.forward(x, x, x, masks);
            const mha::MultiHeadAttentionResult actual = mha::grouped_from_multi_head(module).forward(x, causal);
            EXPECT_LE(max_difference(actual.output, expected.output), 1e-14) << "causal " << causal;
            EXPECT_LE(max_difference(actual.weights, expected.weights), 1e-14) << "causal " << causal;
        }
    }
}

// ---- Any G is lesson 4 with the key/value heads repeated ----

class GroupedQueryAttentionGroups : public ::testing::TestWithParam<std::tuple<int, int, int>> {};  // E, H, G

TEST_P(GroupedQueryAttentionGroups, EqualsMultiHeadAttentionWithKeyValueHeadsRepeatedByHand) {
    const auto [E, H, G] = GetParam();
    mha::RandomGenerator random(100 + static_cast<std::uint64_t>(E * 100 + H * 10 + G));
    GroupedQueryAttention grouped = mha::random_grouped_query_attention(E, H, G, true, random);
    for (mha::Linear* p : {&grouped.key_projection, &grouped.value_projection}) {
        for (std::size_t i = 0; i < p->bias.size(); ++i) p->bias(i) = 0.2 * std::sin(1.0 + i);
    }
    const mha::MultiHeadAttention full = repeated_by_hand(grouped);
    const Tensor3 x = varied_batch(3, 6, static_cast<std::size_t>(E), 1.1);
    for (const bool causal : {false, true}) {
        mha::AttentionMasks masks;
        masks.causal = causal;
        const mha::MultiHeadAttentionResult expected = full.forward(x, x, x, masks);
        const mha::MultiHeadAttentionResult actual = grouped.forward(x, causal);
        EXPECT_LE(max_difference(actual.output, expected.output), 1e-12);
        EXPECT_LE(max_difference(actual.weights, expected.weights), 1e-12);
    }
}

TEST_P(GroupedQueryAttentionGroups, RepeatKeyValueHeadsCopiesEachGroupsRows) {
    const auto [E, H, G] = GetParam();
    mha::RandomGenerator random(5);
    const GroupedQueryAttention grouped = mha::random_grouped_query_attention(E, H, G, true, random);
    const mha::MultiHeadAttention library = mha::repeat_key_value_heads(grouped);
    const mha::MultiHeadAttention by_hand = repeated_by_hand(grouped);
    EXPECT_EQ(library.num_heads, static_cast<std::size_t>(H));
    EXPECT_EQ(max_difference(library.key_projection.weight, by_hand.key_projection.weight), 0.0);
    EXPECT_EQ(max_difference(library.value_projection.weight, by_hand.value_projection.weight), 0.0);
    EXPECT_EQ(max_difference(library.key_projection.bias, by_hand.key_projection.bias), 0.0);
    EXPECT_EQ(max_difference(library.query_projection.weight, grouped.query_projection.weight), 0.0);
}

INSTANTIATE_TEST_SUITE_P(HeadsAndGroups, GroupedQueryAttentionGroups,
                         ::testing::Values(std::tuple{16, 8, 8}, std::tuple{16, 8, 4}, std::tuple{16, 8, 2},
                                           std::tuple{16, 8, 1}, std::tuple{12, 6, 3}, std::tuple{6, 2, 1}));

TEST(GroupedQueryAttention, MultiQueryHeadsWithTheSameQueriesAttendAlike) {
    // G = 1: every head reads the same keys. Give heads 0 and 1 the same query rows,
    // and their weights must be equal, though their outputs then go through W_o differently.
    mha::RandomGenerator random(3);
    GroupedQueryAttention grouped = mha::random_grouped_query_attention(8, 2, 1, false, random);
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 8; ++j) grouped.query_projection.weight(4 + i, j) = grouped.query_projection.weight(i, j);
    }
    const mha::MultiHeadAttentionResult result = grouped.forward(varied_batch(1, 5, 8, 2.0), true);
    const Tensor3 head0 = xt::view(result.weights, xt::all(), 0, xt::all(), xt::all());
    const Tensor3 head1 = xt::view(result.weights, xt::all(), 1, xt::all(), xt::all());
    EXPECT_EQ(max_difference(head0, head1), 0.0);
    EXPECT_EQ(result.weights(0, 0, 0, 1), 0.0);  // causal: position 0 never sees position 1
    EXPECT_NEAR(result.weights(0, 0, 0, 0), 1.0, 1e-15);
}

TEST(GroupedQueryAttention, RandomInitialisationHasTheShapesAndXavierBounds) {
    mha::RandomGenerator random(11);
    const GroupedQueryAttention grouped = mha::random_grouped_query_attention(16, 8, 2, true, random);
    EXPECT_EQ(grouped.key_projection.weight.shape(0), 4u);  // G·d_k = 2·2
    EXPECT_EQ(grouped.key_projection.weight.shape(1), 16u);
    EXPECT_EQ(grouped.value_projection.bias.size(), 4u);
    const double key_bound = std::sqrt(6.0 / (16 + 4)), query_bound = std::sqrt(6.0 / (16 + 16));
    EXPECT_LE(xt::amax(xt::abs(grouped.key_projection.weight))(), key_bound);
    EXPECT_GT(xt::amax(xt::abs(grouped.key_projection.weight))(), 0.5 * key_bound);
    EXPECT_LE(xt::amax(xt::abs(grouped.query_projection.weight))(), query_bound);
    EXPECT_LE(xt::amax(xt::abs(grouped.output_projection.weight))(), 1.0 / std::sqrt(16.0));
    EXPECT_EQ(xt::amax(xt::abs(grouped.key_projection.bias))(), 0.0);
}

// ---- Errors ----

TEST(GroupedQueryAttentionErrors, BadHeadCountsAreNamed) {
    mha::RandomGenerator random(1);
    expect_contains(thrown_message([&] { mha::random_grouped_query_attention(16, 8, 0, false, random); }),
                    {"num_kv_heads is 0"});
    expect_contains(thrown_message([&] { mha::random_grouped_query_attention(16, 8, 3, false, random); }),
                    {"num_kv_heads 3 does not divide num_heads 8"});
    GroupedQueryAttention grouped = mha::random_grouped_query_attention(16, 8, 2, false, random);
    grouped.num_kv_heads = 4;  // the weights are for G = 2
    expect_contains(thrown_message([&] { grouped.check(); }),
                    {"GroupedQueryAttention", "the key projection's weight is (4, 16)", "(8, 16)"});
    grouped.num_kv_heads = 5;
    expect_contains(thrown_message([&] { grouped.forward(varied_batch(1, 2, 16, 0.0), true); }),
                    {"num_kv_heads 5 does not divide num_heads 8"});
}

TEST(GroupedQueryAttentionErrors, WrongShapesAreNamed) {
    mha::RandomGenerator random(2);
    GroupedQueryAttention grouped = mha::random_grouped_query_attention(8, 4, 2, true, random);
    expect_contains(thrown_message([&] { grouped.forward(varied_batch(2, 3, 6, 0.0), false); }),
                    {"GroupedQueryAttention::forward", "x is (2, 3, 6)", "E = 8"});
    grouped.value_projection.bias = xt::zeros<double>({3});
    expect_contains(thrown_message([&] { grouped.check(); }), {"the value projection's bias is (3)", "(4)"});
    grouped.value_projection.bias = xt::zeros<double>({0});
    expect_contains(thrown_message([&] { grouped.check(); }), {"the value projection has no bias"});
}

}  // namespace
