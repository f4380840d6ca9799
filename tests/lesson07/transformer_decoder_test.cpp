// Lesson 7 tests: lesson 6's transformer decoded token by token. Every step's
// logits and weights equal transformer_forward on the whole prefix; greedy
// generation picks the argmax of transformer_forward at every step; a
// non-causal model, a bad id and too long a prompt are refused.
#include <algorithm>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "decode/transformer_decoder.hpp"
#include "decoding_helpers.hpp"
#include "test_helpers.hpp"

namespace {

using mha::AttentionOnlyTransformer;
using mha::Matrix;
using mha::TokenBatch;
using mha::testing::expect_contains;
using mha::testing::max_difference;
using mha::testing::thrown_message;

// V, max length, d_model, layers, heads, B
class DecoderModels : public ::testing::TestWithParam<std::tuple<int, int, int, int, int, int>> {};

TEST_P(DecoderModels, EveryStepEqualsTransformerForwardOnThePrefix) {
    const auto [V, max_length, d_model, layers, heads, B] = GetParam();
    mha::RandomGenerator random(static_cast<std::uint64_t>(V + 10 * layers + 100 * heads + 1000 * B));
    const AttentionOnlyTransformer model =
        mha::random_attention_only_transformer(V, max_length, d_model, layers, heads, true, random);
    TokenBatch tokens(B);
    for (auto& row : tokens) {
        for (int i = 0; i < max_length; ++i) row.push_back(static_cast<std::size_t>(random.uniform(0, V)) % V);
    }
    const mha::TransformerActivations full = mha::transformer_forward(model, tokens);  // logits (B, L, V)
    mha::TransformerDecoder decoder(model, B);
    for (std::size_t t = 0; t < static_cast<std::size_t>(max_length); ++t) {
        std::vector<std::size_t> column;
        for (const auto& row : tokens) column.push_back(row[t]);
        const mha::TokenStep step = decoder.step(column);
        const Matrix expected_logits = xt::view(full.logits, xt::all(), t, xt::all());  // (B, V)
        EXPECT_LE(max_difference(step.logits, expected_logits), 1e-12) << "step " << t;
        ASSERT_EQ(step.weights.size(), static_cast<std::size_t>(layers));
        for (std::size_t l = 0; l < step.weights.size(); ++l) {
            const mha::Tensor3 expected = xt::view(full.weights[l], xt::all(), xt::all(), t, xt::range(0, t + 1));
            EXPECT_LE(max_difference(step.weights[l], expected), 1e-12) << "step " << t << ", layer " << l;
        }
    }
    EXPECT_EQ(decoder.length(), static_cast<std::size_t>(max_length));
    EXPECT_EQ(decoder.caches().size(), static_cast<std::size_t>(layers));
    expect_contains(thrown_message([&] { decoder.step(std::vector<std::size_t>(B, 0)); }),
                    {"TransformerDecoder::step", "all that the position embedding covers"});
}

INSTANTIATE_TEST_SUITE_P(Sizes, DecoderModels,
                         ::testing::Values(std::tuple{7, 6, 4, 1, 1, 1}, std::tuple{7, 6, 4, 2, 2, 3},
                                           std::tuple{16, 16, 24, 2, 2, 2}, std::tuple{11, 9, 12, 3, 4, 1}));

// The argmax of a row of logits, the first on a tie.
std::size_t argmax(const Matrix& logits, std::size_t row) {
    std::size_t best = 0;
    for (std::size_t j = 1; j < logits.shape(1); ++j) {
        if (logits(row, j) > logits(row, best)) best = j;
    }
    return best;
}

TEST(GreedyGeneration, EachTokenIsTheArgmaxOfTransformerForwardOnTheSequenceSoFar) {
    for (const std::uint64_t seed : {1u, 2u, 3u}) {
        mha::RandomGenerator random(seed);
        const AttentionOnlyTransformer model = mha::random_attention_only_transformer(9, 12, 8, 2, 2, true, random);
        const std::vector<std::size_t> prompt = {3, 1, 4, 1, 5};
        std::vector<std::size_t> streamed;
        const mha::Generation generation =
            mha::generate_greedy(model, prompt, 8, [&](std::size_t token) { streamed.push_back(token); });
        ASSERT_EQ(generation.tokens.size(), 8u);
        EXPECT_EQ(streamed, generation.tokens);
        std::vector<std::size_t> sequence = prompt;
        for (std::size_t n = 0; n < generation.tokens.size(); ++n) {
            const mha::TransformerActivations full = mha::transformer_forward(model, {sequence});
            const Matrix logits = xt::view(full.logits, 0, xt::all(), xt::all());  // (length, V)
            const std::size_t last = sequence.size() - 1;
            EXPECT_EQ(generation.tokens[n], argmax(logits, last)) << "seed " << seed << ", token " << n;
            const Matrix expected_row = xt::view(logits, xt::range(last, last + 1), xt::all());
            const Matrix actual_row = xt::view(generation.logits, xt::range(n, n + 1), xt::all());
            EXPECT_LE(max_difference(actual_row, expected_row), 1e-12);
            sequence.push_back(generation.tokens[n]);
        }
        // The last step's weights: the query at the last position fed (prompt + 7 tokens − 1 = index 11).
        const mha::TransformerActivations full = mha::transformer_forward(
            model, {std::vector<std::size_t>(sequence.begin(), sequence.end() - 1)});
        ASSERT_EQ(generation.last_weights.size(), 2u);
        for (std::size_t l = 0; l < 2; ++l) {
            for (std::size_t h = 0; h < 2; ++h) {
                const mha::Vector expected = xt::view(full.weights[l], 0, h, 11, xt::all());
                EXPECT_LE(max_difference(generation.last_weights[l][h], expected), 1e-12);
            }
        }
    }
}

TEST(GreedyGenerationErrors, RefusesWhatCannotBeDecoded) {
    mha::RandomGenerator random(9);
    const AttentionOnlyTransformer model = mha::random_attention_only_transformer(5, 6, 4, 1, 2, true, random);
    expect_contains(thrown_message([&] { mha::generate_greedy(model, {}, 2); }), {"the prompt is empty"});
    expect_contains(thrown_message([&] { mha::generate_greedy(model, {1, 5}, 2); }),
                    {"token 1 is id 5", "ids 0 to 4"});
    expect_contains(thrown_message([&] { mha::generate_greedy(model, {1, 2, 3}, 5); }),
                    {"the prompt has 3 tokens and 5 more", "covers only 6 positions"});
    expect_contains(thrown_message([&] { mha::generate_greedy(model, {1}, 0); }), {"max_new_tokens is 0"});
    EXPECT_EQ(mha::generate_greedy(model, {1, 2, 3}, 4).tokens.size(), 4u);  // 3 + 4 − 1 = 6 fits
    const AttentionOnlyTransformer bidirectional =
        mha::random_attention_only_transformer(5, 6, 4, 1, 2, false, random);
    expect_contains(thrown_message([&] { mha::generate_greedy(bidirectional, {1}, 1); }),
                    {"TransformerDecoder", "the model is not causal"});
    mha::TransformerDecoder decoder(model, 2);
    expect_contains(thrown_message([&] { decoder.step({1}); }), {"got 1 ids", "B = 2"});
}

}  // namespace
