// Lesson 7 tests: the fast decoding step (src/decode/fast_decode_step.hpp) in
// float, every instruction set this CPU runs, against plain double arithmetic
// written here: lesson 1's reference attention over each group's keys and
// values, and lesson 4's multi-head attention with the K/V heads repeated.
#include <cmath>
#include <cstdint>
#include <cstddef>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xtensor.hpp>
#include <xtensor/xview.hpp>

#include "core/random.hpp"
#include "core/tensor.hpp"
#include "decode/decode_kernels.hpp"
#include "decode/fast_decode_step.hpp"
#include "fast/fast_multi_head_attention.hpp"
#include "reference/attention.hpp"
#include "reference/multi_head_attention.hpp"
#include "test_helpers.hpp"

namespace {

using mha::testing::expect_contains;
using mha::testing::matrices_near;
using mha::testing::thrown_message;

using FloatMatrix = xt::xtensor<float, 2>;

// Lesson 7's grouped-query layer with random weights, and nonzero biases (PyTorch's are zero at
// first), so that a test notices a bias left out.
mha::GroupedQueryAttention random_layer(std::size_t E, std::size_t H, std::size_t G, bool with_bias,
                                        mha::RandomGenerator& random) {
    mha::GroupedQueryAttention layer = mha::random_grouped_query_attention(E, H, G, with_bias, random);
    for (mha::Linear* projection : {&layer.query_projection, &layer.key_projection, &layer.value_projection,
                                    &layer.output_projection}) {
        for (double& b : projection->bias) {
            b = random.uniform(-0.5, 0.5);
        }
    }
    return layer;
}

// Values a float holds exactly, so that the double reference sees the very numbers the float code reads.
mha::Matrix random_matrix(std::size_t rows, std::size_t columns, mha::RandomGenerator& random, double spread) {
    mha::Matrix m = mha::Matrix::from_shape({rows, columns});
    for (double& x : m) {
        x = static_cast<double>(static_cast<float>(random.uniform(-spread, spread)));
    }
    return m;
}

FloatMatrix to_float(const mha::Matrix& m) { return xt::cast<float>(m); }
mha::Matrix to_double(const FloatMatrix& m) { return xt::cast<double>(m); }

// One batch entry's cached keys and values in double: (G, L, d_k) each.
struct EntryHistory {
    std::vector<mha::Matrix> keys;    // G × (L, d_k)
    std::vector<mha::Matrix> values;  // G × (L, d_k)
};

// Appends `history` (G heads of L rows) to entry b of the cache, position by position.
void fill(mha::FastKeyValueCache& cache, std::size_t b, const EntryHistory& history) {
    const std::size_t G = history.keys.size(), L = history.keys[0].shape(0), d_k = history.keys[0].shape(1);
    std::vector<float> keys(G * d_k), values(G * d_k);  // (G, d_k): one position
    for (std::size_t t = 0; t < L; ++t) {
        for (std::size_t g = 0; g < G; ++g) {
            for (std::size_t c = 0; c < d_k; ++c) {
                keys[g * d_k + c] = static_cast<float>(history.keys[g](t, c));
                values[g * d_k + c] = static_cast<float>(history.values[g](t, c));
            }
        }
        cache.append(b, keys.data(), values.data());
    }
}

// The expected step, in double with lesson 1's attention: query head i attends
// over the keys and values of K/V head ⌊i·G/H⌋ (the formula, written here again).
mha::Matrix expected_step(const mha::Matrix& queries, const EntryHistory& history) {
    const std::size_t H = queries.shape(0), d_k = queries.shape(1), G = history.keys.size();
    mha::Matrix expected = mha::Matrix::from_shape({H, d_k});  // (H, d_k)
    for (std::size_t i = 0; i < H; ++i) {
        const std::size_t g = i * G / H;
        const mha::Matrix q = xt::view(queries, xt::range(i, i + 1), xt::all());  // (1, d_k)
        const mha::Matrix out = mha::scaled_dot_product_attention(q, history.keys[g], history.values[g]).output;
        xt::view(expected, i, xt::all()) = xt::view(out, 0, xt::all());
    }
    return expected;
}

EntryHistory random_history(std::size_t G, std::size_t L, std::size_t d_k, mha::RandomGenerator& random) {
    EntryHistory history;
    for (std::size_t g = 0; g < G; ++g) {
        // Keys spread so that the softmax is far from uniform (scores of a few units).
        history.keys.push_back(random_matrix(L, d_k, random, 2.0));
        history.values.push_back(random_matrix(L, d_k, random, 1.0));
    }
    return history;
}

// ---- The attention step against lesson 1's attention in double ----

struct HeadCounts {
    std::size_t H, G;
};

class FastCachedAttention
    : public ::testing::TestWithParam<std::tuple<std::size_t, std::size_t, HeadCounts>> {};

TEST_P(FastCachedAttention, MatchesDoubleAttentionPerGroupForEveryInstructionSet) {
    const auto [L, d_k, heads] = GetParam();
    const std::size_t B = 2;
    mha::RandomGenerator random(1000 + L * 7 + d_k * 3 + heads.G);
    // Entry 0 holds L positions, entry 1 fewer: the entries are independent.
    const std::vector<std::size_t> lengths = {L, L / 2 + 1};
    std::vector<EntryHistory> histories;
    mha::FastKeyValueCache cache(B, heads.G, d_k, L + 3);
    for (std::size_t b = 0; b < B; ++b) {
        histories.push_back(random_history(heads.G, lengths[b], d_k, random));
        fill(cache, b, histories[b]);
        ASSERT_EQ(cache.length(b), lengths[b]);
    }
    for (const mha::DecodeKernels* kernels : mha::available_decode_kernels()) {
        SCOPED_TRACE(kernels->instruction_set);
        for (std::size_t b = 0; b < B; ++b) {
            const mha::Matrix queries = random_matrix(heads.H, d_k, random, 1.0);  // (H, d_k)
            const FloatMatrix output = mha::fast_cached_attention(cache, b, to_float(queries), *kernels);
            EXPECT_TRUE(matrices_near(to_double(output), expected_step(queries, histories[b]), 1e-5)) << "entry " << b;
        }
    }
}

std::string step_name(const ::testing::TestParamInfo<FastCachedAttention::ParamType>& info) {
    const auto [L, d_k, heads] = info.param;
    return "L" + std::to_string(L) + "_dk" + std::to_string(d_k) + "_H" + std::to_string(heads.H) + "_G" +
           std::to_string(heads.G);
}

INSTANTIATE_TEST_SUITE_P(Lesson07, FastCachedAttention,
                         ::testing::Combine(::testing::Values<std::size_t>(1, 7, 64, 1000, 4097),
                                            ::testing::Values<std::size_t>(8, 16, 64, 17),
                                            ::testing::Values(HeadCounts{8, 8}, HeadCounts{8, 4}, HeadCounts{8, 2},
                                                              HeadCounts{8, 1}, HeadCounts{6, 3})),
                         step_name);

// Odd head widths: tails in both passes, for every width below two AVX-512 registers.
TEST(FastCachedAttentionWidths, EveryHeadWidthFrom1To33) {
    mha::RandomGenerator random(77);
    for (std::size_t d_k = 1; d_k <= 33; ++d_k) {
        SCOPED_TRACE("d_k = " + std::to_string(d_k));
        mha::FastKeyValueCache cache(1, 2, d_k, 40);
        const EntryHistory history = random_history(2, 37, d_k, random);
        fill(cache, 0, history);
        const mha::Matrix queries = random_matrix(6, d_k, random, 1.0);  // (H, d_k), H = 6, G = 2
        for (const mha::DecodeKernels* kernels : mha::available_decode_kernels()) {
            SCOPED_TRACE(kernels->instruction_set);
            const FloatMatrix output = mha::fast_cached_attention(cache, 0, to_float(queries), *kernels);
            EXPECT_TRUE(matrices_near(to_double(output), expected_step(queries, history), 1e-5));
        }
    }
}

// ---- The instruction sets ----

TEST(DecodeKernels, OneTablePerInstructionSetOfLesson5AndTheDefaultIsLesson5sChoice) {
    const std::vector<const mha::SimdKernels*> simd = mha::available_simd_kernels();
    const std::vector<const mha::DecodeKernels*> decode = mha::available_decode_kernels();
    ASSERT_EQ(decode.size(), simd.size());
    for (std::size_t i = 0; i < simd.size(); ++i) {
        EXPECT_EQ(std::string(decode[i]->instruction_set), simd[i]->instruction_set);
        EXPECT_EQ(decode[i]->width, simd[i]->width);
    }
    EXPECT_EQ(std::string(decode.back()->instruction_set), "scalar");
    EXPECT_EQ(std::string(mha::decode_kernels().instruction_set), mha::simd_instruction_set());
}

TEST(DecodeKernels, EveryInstructionSetGivesTheSameOutputs) {
    mha::RandomGenerator random(5);
    const std::size_t L = 333, d_k = 64, H = 8, G = 2;
    mha::FastKeyValueCache cache(1, G, d_k, L);
    fill(cache, 0, random_history(G, L, d_k, random));
    const FloatMatrix queries = to_float(random_matrix(H, d_k, random, 1.0));
    const FloatMatrix scalar = mha::fast_cached_attention(cache, 0, queries, mha::scalar_decode_kernel_table());
    for (const mha::DecodeKernels* kernels : mha::available_decode_kernels()) {
        SCOPED_TRACE(kernels->instruction_set);
        // The same sums in another order: equal to a few float roundings.
        EXPECT_TRUE(matrices_near(to_double(mha::fast_cached_attention(cache, 0, queries, *kernels)),
                                  to_double(scalar), 2e-6));
    }
}

TEST(DecodeKernels, ExtremeScoresGiveOneHotWeightsNotNaN) {
    // Scores of ±1000: exp overflows unless the maximum is subtracted first.
    const std::size_t d_k = 16, L = 20;
    mha::FastKeyValueCache cache(1, 1, d_k, L);
    EntryHistory history{{mha::Matrix(xt::zeros<double>({L, d_k}))}, {mha::Matrix(xt::zeros<double>({L, d_k}))}};
    for (std::size_t t = 0; t < L; ++t) {
        history.keys[0](t, 0) = t == 13 ? 250.0 : -250.0;  // q · k / sqrt(16) = ±1000 with q = (16, 0, ...)
        history.values[0](t, 1) = static_cast<double>(t);
    }
    fill(cache, 0, history);
    FloatMatrix queries = xt::zeros<float>({std::size_t{2}, d_k});
    queries(0, 0) = 16.0f;   // picks position 13 alone
    queries(1, 0) = -16.0f;  // every position but 13 ties: their mean, (190 - 13) / 19
    for (const mha::DecodeKernels* kernels : mha::available_decode_kernels()) {
        SCOPED_TRACE(kernels->instruction_set);
        const FloatMatrix output = mha::fast_cached_attention(cache, 0, queries, *kernels);
        EXPECT_NEAR(output(0, 1), 13.0f, 1e-5);
        EXPECT_NEAR(output(1, 1), (190.0 - 13.0) / 19.0, 1e-5);
    }
}

// ---- The cache ----

TEST(FastKeyValueCache, AppendingPastTheCapacityThrowsAndChangesNothing) {
    mha::FastKeyValueCache cache(2, 1, 4, 3);
    const std::vector<float> row = {1, 2, 3, 4};
    for (int t = 0; t < 3; ++t) {
        cache.append(1, row.data(), row.data());
    }
    expect_contains(thrown_message([&] { cache.append(1, row.data(), row.data()); }),
                    {"FastKeyValueCache::append", "batch entry 1 already holds 3 positions", "capacity 3"});
    EXPECT_EQ(cache.length(1), 3u);
    EXPECT_EQ(cache.length(0), 0u);
    cache.append(0, row.data(), row.data());  // the other entry still has room
    cache.truncate(1, 1);                     // and the full one has again after a truncation
    cache.append(1, row.data(), row.data());
    EXPECT_EQ(cache.length(1), 2u);
}

TEST(FastKeyValueCache, RefusesBadSizesAndEntries) {
    expect_contains(thrown_message([] { mha::FastKeyValueCache(1, 0, 64, 10); }),
                    {"FastKeyValueCache", "kv_heads 0", "at least 1"});
    expect_contains(thrown_message([] { mha::FastKeyValueCache(1, 1, 64, 0); }), {"capacity 0"});
    expect_contains(thrown_message([] { mha::FastKeyValueCache(std::size_t{1} << 30, 8, 64, std::size_t{1} << 20); }),
                    {"too large"});
    mha::FastKeyValueCache cache(2, 1, 4, 3);
    const std::vector<float> row = {1, 2, 3, 4};
    expect_contains(thrown_message([&] { cache.append(2, row.data(), row.data()); }),
                    {"batch entry 2 is not below the batch size 2"});
    expect_contains(thrown_message([&] { cache.truncate(0, 1); }), {"length 1 is more than the 0 positions"});
}

TEST(FastKeyValueCache, EveryBlockStartsOnA64ByteBoundary) {
    mha::FastKeyValueCache cache(3, 4, 5, 7);  // 35 floats per block: rounded up to 48
    for (std::size_t b = 0; b < 3; ++b) {
        for (std::size_t g = 0; g < 4; ++g) {
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(cache.keys(b, g)) % 64, 0u);
            EXPECT_EQ(reinterpret_cast<std::uintptr_t>(cache.values(b, g)) % 64, 0u);
        }
    }
    EXPECT_EQ(cache.bytes_per_position(), 2u * 4u * 5u * 4u);
}

TEST(FastCachedAttentionErrors, RefusesWhatDoesNotFit) {
    mha::FastKeyValueCache cache(1, 3, 8, 4);
    expect_contains(thrown_message([&] { mha::fast_cached_attention(cache, 0, FloatMatrix(xt::zeros<float>({6, 8}))); }),
                    {"fast_cached_attention", "batch entry 0 of the cache is empty"});
    const std::vector<float> row(3 * 8, 0.5f);
    cache.append(0, row.data(), row.data());
    expect_contains(thrown_message([&] { mha::fast_cached_attention(cache, 0, FloatMatrix(xt::zeros<float>({8, 8}))); }),
                    {"num_heads 8 is not a positive multiple of the cache's 3 K/V heads"});
    expect_contains(thrown_message([&] { mha::fast_cached_attention(cache, 0, FloatMatrix(xt::zeros<float>({6, 7}))); }),
                    {"queries is (6, 7)", "head_dim 8"});
    expect_contains(thrown_message([&] { mha::fast_cached_attention(cache, 1, FloatMatrix(xt::zeros<float>({6, 8}))); }),
                    {"batch entry 1 is not below the batch size 1"});
}

// ---- One layer: cache against recompute against lesson 4 ----

class FastDecodeLayerSteps : public ::testing::TestWithParam<HeadCounts> {};

TEST_P(FastDecodeLayerSteps, EveryStepEqualsTheLastRowOfTheCausalForwardOfItsPrefix) {
    const HeadCounts heads = GetParam();
    const std::size_t E = 4 * heads.H, B = 2, T = 9;  // d_k = 4
    mha::RandomGenerator random(31 + heads.G);
    const mha::GroupedQueryAttention weights = random_layer(E, heads.H, heads.G, true, random);
    const mha::MultiHeadAttention repeated = mha::repeat_key_value_heads(weights);
    const mha::FastMultiHeadAttention recompute(repeated);
    mha::Tensor3 tokens = mha::Tensor3::from_shape({B, T, E});  // (B, T, E)
    for (double& x : tokens) {
        x = static_cast<double>(static_cast<float>(random.uniform(-1.0, 1.0)));
    }
    for (const mha::DecodeKernels* kernels : mha::available_decode_kernels()) {
        SCOPED_TRACE(kernels->instruction_set);
        mha::FastDecodeLayer layer(weights, B, T, *kernels);
        for (std::size_t t = 0; t < T; ++t) {
            const mha::Tensor3 prefix = xt::view(tokens, xt::all(), xt::range(0, t + 1), xt::all());  // (B, t+1, E)
            const mha::Matrix new_tokens = xt::view(tokens, xt::all(), t, xt::all());                 // (B, E)
            const FloatMatrix step = layer.step(to_float(new_tokens));                                 // (B, E)
            // Lesson 4 in double, the K/V heads repeated, causal: the independent answer.
            mha::AttentionMasks causal;
            causal.causal = true;
            const mha::Tensor3 reference = repeated.forward(prefix, prefix, prefix, causal).output;  // (B, t+1, E)
            const mha::Matrix expected = xt::view(reference, xt::all(), t, xt::all());               // (B, E)
            EXPECT_TRUE(matrices_near(to_double(step), expected, 1e-5)) << "step " << t;
            // Lesson 5's fast causal forward over the whole prefix: the recompute path.
            const FloatMatrix recomputed = mha::fast_recompute_last_token(recompute, xt::cast<float>(prefix));
            EXPECT_TRUE(matrices_near(to_double(step), to_double(recomputed), 1e-5)) << "step " << t;
        }
        EXPECT_EQ(layer.cache().length(0), T);
        expect_contains(thrown_message([&] { layer.step(FloatMatrix(xt::zeros<float>({B, E}))); }),
                        {"FastDecodeLayer::step", "already holds 9 tokens"});
    }
}

INSTANTIATE_TEST_SUITE_P(Lesson07, FastDecodeLayerSteps,
                         ::testing::Values(HeadCounts{8, 8}, HeadCounts{8, 4}, HeadCounts{8, 2}, HeadCounts{8, 1},
                                           HeadCounts{6, 3}),
                         [](const ::testing::TestParamInfo<HeadCounts>& info) {
                             return "H" + std::to_string(info.param.H) + "_G" + std::to_string(info.param.G);
                         });

TEST(FastDecodeLayerErrors, RefusesBadWeightsAndTokens) {
    mha::RandomGenerator random(3);
    expect_contains(thrown_message([&] { random_layer(32, 8, 3, true, random); }),
                    {"num_kv_heads 3 does not divide num_heads 8"});
    mha::GroupedQueryAttention weights = random_layer(32, 8, 2, true, random);
    weights.key_projection.weight = xt::zeros<double>({16, 32});
    expect_contains(thrown_message([&] { mha::FastDecodeLayer(weights, 1, 4); }),
                    {"the key projection's weight is (16, 32)", "(G·d_k, E) = (8, 32)"});
    weights = random_layer(32, 8, 2, true, random);
    mha::FastDecodeLayer layer(weights, 2, 4);
    expect_contains(thrown_message([&] { layer.step(FloatMatrix(xt::zeros<float>({1, 32}))); }),
                    {"tokens is (1, 32)", "expected (2, 32)"});
    EXPECT_EQ(layer.cache().length(0), 0u);
}

}  // namespace
