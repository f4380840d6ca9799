// Lesson 7 tests: the KV cache. Appending and attending checked by hand; every
// decoding step equals its row of the causal forward over the whole prefix, for
// several batch sizes, lengths and head counts; a full cache and shapes that do
// not fit are refused with messages that name the problem.
#include <algorithm>
#include <cmath>
#include <initializer_list>
#include <tuple>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "decode/key_value_cache.hpp"
#include "decoding_helpers.hpp"
#include "test_helpers.hpp"

namespace {

using mha::KeyValueCache;
using mha::Matrix;
using mha::Tensor3;
using mha::testing::expect_contains;
using mha::testing::max_difference;
using mha::testing::repeated_by_hand;
using mha::testing::thrown_message;
using mha::testing::varied_batch;

// (B, G, d_k) filled with the given numbers, row-major.
Tensor3 filled(std::size_t B, std::size_t G, std::size_t d_k, std::initializer_list<double> numbers) {
    Tensor3 t = xt::zeros<double>({B, G, d_k});
    std::copy(numbers.begin(), numbers.end(), t.begin());
    return t;
}

// ---- Append and attend, by hand ----

TEST(KeyValueCache, AppendWritesTheNextRowOfEveryHead) {
    KeyValueCache cache = mha::empty_key_value_cache(2, 2, 3, 2);  // B 2, G 2, capacity 3, d_k 2
    mha::append_to_cache(cache, filled(2, 2, 2, {1, 2, 3, 4, 5, 6, 7, 8}), filled(2, 2, 2, {-1, -2, -3, -4, -5, -6, -7, -8}));
    mha::append_to_cache(cache, filled(2, 2, 2, {9, 10, 11, 12, 13, 14, 15, 16}), filled(2, 2, 2, {0, 0, 0, 0, 0, 0, 0, 1}));
    EXPECT_EQ(cache.length, 2u);
    EXPECT_EQ(cache.keys(0, 0, 0, 0), 1.0);
    EXPECT_EQ(cache.keys(0, 1, 0, 1), 4.0);
    EXPECT_EQ(cache.keys(1, 0, 0, 0), 5.0);
    EXPECT_EQ(cache.keys(1, 1, 1, 1), 16.0);  // batch 1, head 1, position 1, component 1
    EXPECT_EQ(cache.keys(0, 1, 1, 0), 11.0);
    EXPECT_EQ(cache.values(1, 1, 0, 1), -8.0);
    EXPECT_EQ(cache.values(1, 1, 1, 1), 1.0);
    EXPECT_EQ(cache.keys(1, 1, 2, 1), 0.0);   // row 2 is still empty
}

TEST(KeyValueCache, AttendComputesSoftmaxOfScaledScoresByHand) {
    // One batch entry, G = 2 key/value heads, H = 4 query heads (heads 0, 1 read head 0; 2, 3 read head 1), d_k = 2.
    KeyValueCache cache = mha::empty_key_value_cache(1, 2, 4, 2);
    mha::append_to_cache(cache, filled(1, 2, 2, {1, 0, 1, 0}), filled(1, 2, 2, {1, 2, 10, 20}));
    mha::append_to_cache(cache, filled(1, 2, 2, {0, 1, 0, 1}), filled(1, 2, 2, {3, 4, 30, 40}));
    const double a = std::sqrt(2.0) * std::log(3.0);  // a score of ln 3 once divided by sqrt(d_k)
    const mha::CachedAttentionResult result = mha::attend_to_cache(cache, filled(1, 4, 2, {0, a, 0, 0, a, 0, 0, 0}));
    // Head 0: scores (0, ln 3) -> weights (1/4, 3/4); output 1/4 (1, 2) + 3/4 (3, 4) = (2.5, 3.5).
    EXPECT_NEAR(result.weights(0, 0, 0), 0.25, 1e-15);
    EXPECT_NEAR(result.weights(0, 0, 1), 0.75, 1e-15);
    EXPECT_NEAR(result.output(0, 0, 0), 2.5, 1e-14);
    EXPECT_NEAR(result.output(0, 0, 1), 3.5, 1e-14);
    // Head 1: a zero query, equal weights over head 0's values: (2, 3).
    EXPECT_NEAR(result.output(0, 1, 0), 2.0, 1e-14);
    EXPECT_NEAR(result.output(0, 1, 1), 3.0, 1e-14);
    // Head 2 reads key/value head 1: scores (ln 3, 0) -> (3/4, 1/4); 3/4 (10, 20) + 1/4 (30, 40) = (15, 25).
    EXPECT_NEAR(result.weights(0, 2, 0), 0.75, 1e-15);
    EXPECT_NEAR(result.output(0, 2, 0), 15.0, 1e-13);
    EXPECT_NEAR(result.output(0, 2, 1), 25.0, 1e-13);
    // Head 3: equal weights over head 1's values: (20, 30).
    EXPECT_NEAR(result.output(0, 3, 0), 20.0, 1e-13);
    EXPECT_NEAR(result.output(0, 3, 1), 30.0, 1e-13);
    EXPECT_EQ(result.weights.shape(2), 2u);  // only the filled rows are attended to
}

// ---- Every step equals the full causal forward ----

// B, L, E, H, G
class DecodeSteps : public ::testing::TestWithParam<std::tuple<int, int, int, int, int>> {};

TEST_P(DecodeSteps, EveryStepEqualsTheCausalForwardOverTheWholePrefix) {
    const auto [B, L, E, H, G] = GetParam();
    mha::RandomGenerator random(static_cast<std::uint64_t>(B * 1000 + L * 100 + H * 10 + G));
    mha::GroupedQueryAttention layer = mha::random_grouped_query_attention(E, H, G, true, random);
    for (mha::Linear* p : {&layer.query_projection, &layer.key_projection, &layer.value_projection,
                           &layer.output_projection}) {
        for (std::size_t i = 0; i < p->bias.size(); ++i) p->bias(i) = 0.1 * std::sin(2.0 + i);
    }
    const Tensor3 x = varied_batch(B, L, E, 0.7);                       // (B, L, E)
    const mha::MultiHeadAttentionResult full = layer.forward(x, true);  // (B, L, E), (B, H, L, L)
    KeyValueCache cache = mha::empty_key_value_cache(B, G, L, E / H);   // (B, G, L, d_k)
    for (std::size_t t = 0; t < static_cast<std::size_t>(L); ++t) {
        const Matrix x_t = xt::view(x, xt::all(), t, xt::all());  // (B, E)
        const mha::DecodeStepResult step = mha::decode_step(layer, cache, x_t);
        const Matrix expected_output = xt::view(full.output, xt::all(), t, xt::all());                            // (B, E)
        const Tensor3 expected_weights = xt::view(full.weights, xt::all(), xt::all(), t, xt::range(0, t + 1));  // (B, H, t+1)
        EXPECT_LE(max_difference(step.output, expected_output), 1e-12) << "step " << t;
        EXPECT_LE(max_difference(step.weights, expected_weights), 1e-12) << "step " << t;
        EXPECT_EQ(cache.length, t + 1);
    }
}

TEST_P(DecodeSteps, EveryStepEqualsLessonFourWithKeyValueHeadsRepeatedByHand) {
    const auto [B, L, E, H, G] = GetParam();
    mha::RandomGenerator random(static_cast<std::uint64_t>(7 + B + L + H + G));
    const mha::GroupedQueryAttention layer = mha::random_grouped_query_attention(E, H, G, false, random);
    const Tensor3 x = varied_batch(B, L, E, -0.4);
    mha::AttentionMasks causal;
    causal.causal = true;
    const mha::MultiHeadAttentionResult full = repeated_by_hand(layer).forward(x, x, x, causal);  // lesson 4
    KeyValueCache cache = mha::empty_key_value_cache(B, G, L, E / H);
    for (std::size_t t = 0; t < static_cast<std::size_t>(L); ++t) {
        const mha::DecodeStepResult step = mha::decode_step(layer, cache, xt::view(x, xt::all(), t, xt::all()));
        const Matrix expected = xt::view(full.output, xt::all(), t, xt::all());
        EXPECT_LE(max_difference(step.output, expected), 1e-12) << "step " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(BatchLengthHeads, DecodeSteps,
                         ::testing::Values(std::tuple{1, 1, 4, 2, 1}, std::tuple{1, 7, 8, 4, 4},
                                           std::tuple{2, 9, 16, 8, 2}, std::tuple{3, 5, 16, 8, 1},
                                           std::tuple{2, 12, 12, 6, 3}, std::tuple{4, 4, 8, 4, 2}));

TEST(KeyValueCache, HoldsGroupsNotHeads) {
    // The point of G < H: a cache for H = 8 and G = 2 is a quarter of multi-head attention's.
    const KeyValueCache grouped = mha::empty_key_value_cache(1, 2, 100, 16), full = mha::empty_key_value_cache(1, 8, 100, 16);
    EXPECT_EQ(grouped.keys.size() * 4, full.keys.size());
    EXPECT_EQ(grouped.keys.size(), 1u * 2u * 100u * 16u);
}

// ---- Errors ----

TEST(KeyValueCacheErrors, AFullCacheIsRefusedAndLeftUnchanged) {
    KeyValueCache cache = mha::empty_key_value_cache(1, 1, 2, 2);
    const Tensor3 k = filled(1, 1, 2, {1, 2});
    mha::append_to_cache(cache, k, k);
    mha::append_to_cache(cache, k, k);
    expect_contains(thrown_message([&] { mha::append_to_cache(cache, k, k); }),
                    {"append_to_cache", "the cache is full", "2 of 2 positions"});
    EXPECT_EQ(cache.length, 2u);
}

TEST(KeyValueCacheErrors, ShapesThatDoNotFitAreNamed) {
    KeyValueCache cache = mha::empty_key_value_cache(2, 2, 4, 3);
    const Tensor3 good = xt::zeros<double>({2, 2, 3}), wrong_heads = xt::zeros<double>({2, 4, 3});
    expect_contains(thrown_message([&] { mha::append_to_cache(cache, wrong_heads, good); }),
                    {"the new keys are (2, 4, 3)", "(B, G, d_k) = (2, 2, 3)"});
    expect_contains(thrown_message([&] { mha::append_to_cache(cache, good, xt::zeros<double>({1, 2, 3})); }),
                    {"the new values are (1, 2, 3)"});
    EXPECT_EQ(cache.length, 0u);
    expect_contains(thrown_message([&] { mha::attend_to_cache(cache, xt::zeros<double>({2, 4, 3})); }),
                    {"attend_to_cache", "the cache is empty"});
    mha::append_to_cache(cache, good, good);
    expect_contains(thrown_message([&] { mha::attend_to_cache(cache, xt::zeros<double>({2, 3, 3})); }),
                    {"num_kv_heads 2 does not divide num_heads 3"});
    expect_contains(thrown_message([&] { mha::attend_to_cache(cache, xt::zeros<double>({2, 4, 5})); }),
                    {"the queries are (2, 4, 5)", "d_k = 3"});
    expect_contains(thrown_message([] { mha::empty_key_value_cache(1, 0, 4, 3); }), {"num_kv_heads G is 0"});
}

TEST(KeyValueCacheErrors, DecodeStepRefusesACacheOfAnotherLayer) {
    mha::RandomGenerator random(4);
    const mha::GroupedQueryAttention layer = mha::random_grouped_query_attention(8, 4, 2, false, random);
    KeyValueCache cache = mha::empty_key_value_cache(1, 4, 5, 2);  // G = 4, but the layer has G = 2
    const Matrix x_t = xt::zeros<double>({1, 8});
    expect_contains(thrown_message([&] { mha::decode_step(layer, cache, x_t); }),
                    {"decode_step", "the cache is (1, 4, 5, 2)", "G = 2"});
    KeyValueCache right = mha::empty_key_value_cache(1, 2, 1, 2);
    expect_contains(thrown_message([&] { mha::decode_step(layer, right, xt::zeros<double>({1, 6})); }),
                    {"x_t is (1, 6)", "E = 8"});
    mha::decode_step(layer, right, x_t);
    expect_contains(thrown_message([&] { mha::decode_step(layer, right, x_t); }), {"the cache is full"});
}

}  // namespace
