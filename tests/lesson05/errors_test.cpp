// Lesson 5 tests: the fast module refuses what the reference refuses, with
// messages that name the input and its shape, and refuses bad options.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "fast/fast_multi_head_attention.hpp"
#include "reference/multi_head_attention.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

using mha::FastAttentionOptions;
using mha::FastMultiHeadAttention;
using mha::FastVersion;
using mha::testing::expect_contains;
using mha::testing::thrown_message;

using FloatTensor = xt::xtensor<float, 3>;

FloatTensor zeros(std::size_t B, std::size_t rows, std::size_t columns) { return xt::zeros<float>({B, rows, columns}); }

class FastAttentionErrors : public ::testing::Test {
protected:
    mha::RandomGenerator random{5};
    mha::MultiHeadAttention reference = mha::random_multi_head_attention(8, 2, true, random);  // E = 8, H = 2
    FastMultiHeadAttention fast{reference};
    FloatTensor x = zeros(2, 3, 8);  // (B, L, E) = (2, 3, 8)

    std::string message(const FloatTensor& q, const FloatTensor& k, const FloatTensor& v,
                        const mha::AttentionMasks& masks = {}, const FastAttentionOptions& options = {}) {
        return thrown_message([&] { fast.forward(q, k, v, masks, options); });
    }
};

TEST_F(FastAttentionErrors, RefusesZeroOrTooManyThreads) {
    FastAttentionOptions options;
    options.threads = 0;
    expect_contains(message(x, x, x, {}, options), {"FastMultiHeadAttention::forward", "threads is 0"});
    options.threads = 100000;
    expect_contains(message(x, x, x, {}, options), {"threads is 100000", "from 1 to 1024"});
    options.version = FastVersion::blas;  // checked whatever the version
    options.threads = 0;
    expect_contains(message(x, x, x, {}, options), {"threads is 0"});
}

TEST_F(FastAttentionErrors, RefusesAnUnknownVersion) {
    FastAttentionOptions options;
    options.version = static_cast<FastVersion>(7);
    expect_contains(message(x, x, x, {}, options), {"unknown version 7", "v1-blas", "v5-threaded"});
}

TEST_F(FastAttentionErrors, RefusesShapesThatDoNotFit) {
    expect_contains(message(zeros(2, 3, 5), x, x), {"query is (2, 3, 5)", "embed_dim is 8"});
    expect_contains(message(x, zeros(1, 3, 8), x), {"key (1, 3, 8)", "same B and S"});
    expect_contains(message(x, x, zeros(2, 4, 8)), {"value (2, 4, 8)", "same B and S"});
    expect_contains(message(x, zeros(2, 3, 6), zeros(2, 3, 6)), {"key is (2, 3, 6)", "kdim is 8"});
    expect_contains(message(x, zeros(2, 0, 8), zeros(2, 0, 8)), {"at least one key"});
}

TEST_F(FastAttentionErrors, RefusesMasksOfTheWrongShape) {
    mha::AttentionMasks masks;
    masks.attention_mask = mha::BoolMatrix(xt::zeros<bool>({3, 4}));
    expect_contains(message(x, x, x, masks), {"attn_mask is (3, 4)", "(L, S) = (3, 3)", "(B·H, L, S) = (4, 3, 3)"});
    masks.attention_mask = mha::BoolTensor3(xt::zeros<bool>({3, 3, 3}));
    expect_contains(message(x, x, x, masks), {"attn_mask is (3, 3, 3)"});
    masks.attention_mask.reset();
    masks.key_padding_mask = mha::BoolMatrix(xt::zeros<bool>({1, 3}));
    expect_contains(message(x, x, x, masks), {"key_padding_mask is (1, 3)", "(B, S) = (2, 3)"});
}

TEST_F(FastAttentionErrors, RefusesNaNAndInfinity) {
    FloatTensor bad = x;
    bad(1, 2, 4) = std::numeric_limits<float>::quiet_NaN();
    expect_contains(message(bad, x, x), {"query (2, 3, 8) holds nan at (1, 2, 4)", "finite"});
    bad(1, 2, 4) = std::numeric_limits<float>::infinity();
    expect_contains(message(x, x, bad), {"value (2, 3, 8) holds inf at (1, 2, 4)"});
}

TEST_F(FastAttentionErrors, EveryVersionChecks) {
    for (const int version : {1, 2, 3, 4, 5}) {
        FastAttentionOptions options;
        options.version = static_cast<FastVersion>(version);
        EXPECT_THROW(fast.forward(zeros(2, 3, 5), x, x, {}, options), std::invalid_argument) << version;
    }
}

TEST(FastAttentionConstruction, RefusesAModuleThatDoesNotCheck) {
    mha::RandomGenerator random(1);
    mha::MultiHeadAttention broken = mha::random_multi_head_attention(8, 2, true, random);
    broken.num_heads = 3;  // 3 does not divide 8
    expect_contains(thrown_message([&] { FastMultiHeadAttention fast(broken); }),
                    {"embed_dim 8 is not divisible by num_heads 3"});
}

}  // namespace
