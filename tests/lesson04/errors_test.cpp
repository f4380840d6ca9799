// Lesson 4 tests: every way MultiHeadAttention::check() and forward() refuse
// their input. Each must throw std::invalid_argument with a message that names
// what is wrong and gives the shapes, so that a user can fix the call.
#include <cmath>
#include <cstddef>
#include <initializer_list>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "reference/multi_head_attention.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

using mha::MultiHeadAttention;
using mha::Tensor3;
using mha::testing::thrown_message;

// E = 8, H = 2, kdim = 6, vdim = 4, with biases.
MultiHeadAttention module_8_2() {
    mha::RandomGenerator random(7);
    return mha::random_multi_head_attention(8, 2, true, random, 6, 4);
}

Tensor3 zeros(std::size_t a, std::size_t b, std::size_t c) { return xt::zeros<double>({a, b, c}); }

void expect_message_contains(const std::string& message, std::initializer_list<const char*> parts) {
    EXPECT_FALSE(message.empty());
    for (const char* part : parts) {
        EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
}

// A forward pass with B = 2, L = 3, S = 5 and the module above, given masks.
std::string forward_message(const mha::AttentionMasks& masks) {
    const MultiHeadAttention module = module_8_2();
    return thrown_message([&] { module.forward(zeros(2, 3, 8), zeros(2, 5, 6), zeros(2, 5, 4), masks); });
}

// ---- check(): the parameters must fit together ----

TEST(MultiHeadAttentionCheck, EmbedDimNotDivisibleByNumHeads) {
    MultiHeadAttention module = module_8_2();
    module.num_heads = 3;
    expect_message_contains(thrown_message([&] { module.check(); }),
                            {"MultiHeadAttention", "embed_dim 8", "num_heads 3"});
    module.num_heads = 0;
    expect_message_contains(thrown_message([&] { module.check(); }), {"num_heads 0"});
    // forward checks first, before touching the inputs.
    module.num_heads = 3;
    expect_message_contains(thrown_message([&] { module.forward(zeros(1, 2, 8), zeros(1, 2, 6), zeros(1, 2, 4)); }),
                            {"embed_dim 8", "num_heads 3"});
    // And random_multi_head_attention refuses to build such a module.
    mha::RandomGenerator random(1);
    expect_message_contains(thrown_message([&] { mha::random_multi_head_attention(10, 4, true, random); }),
                            {"random_multi_head_attention", "embed_dim 10", "num_heads 4"});
}

TEST(MultiHeadAttentionCheck, ProjectionsOfTheWrongShape) {
    MultiHeadAttention module = module_8_2();
    module.key_projection.weight = xt::zeros<double>({6, 6});  // must have E = 8 rows
    expect_message_contains(thrown_message([&] { module.check(); }), {"key projection", "(6, 6)", "8 rows"});

    module = module_8_2();
    module.output_projection.weight = xt::zeros<double>({8, 5});
    expect_message_contains(thrown_message([&] { module.check(); }), {"output projection", "(8, 5)", "(8, 8)"});

    module = module_8_2();
    module.query_projection.weight = xt::zeros<double>({8, 3});  // queries must be E wide
    expect_message_contains(thrown_message([&] { module.check(); }), {"query projection", "(8, 3)", "(8, 8)"});
}

TEST(MultiHeadAttentionCheck, BiasesOnSomeProjectionsOnly) {
    MultiHeadAttention module = module_8_2();
    module.value_projection.bias = xt::zeros<double>({std::size_t{0}});
    expect_message_contains(thrown_message([&] { module.check(); }), {"value projection has no bias"});

    module = module_8_2();
    module.output_projection.bias = xt::zeros<double>({std::size_t{3}});
    expect_message_contains(thrown_message([&] { module.check(); }), {"output projection's bias is (3)", "(8)"});
}

// ---- forward(): the inputs must fit the module and each other ----

TEST(MultiHeadAttentionForward, QueryWidthDiffersFromEmbedDim) {
    const MultiHeadAttention module = module_8_2();
    expect_message_contains(
        thrown_message([&] { module.forward(zeros(2, 3, 7), zeros(2, 5, 6), zeros(2, 5, 4)); }),
        {"MultiHeadAttention::forward", "query is (2, 3, 7)", "embed_dim is 8"});
}

TEST(MultiHeadAttentionForward, KeyOrValueBatchOrLengthDiffers) {
    const MultiHeadAttention module = module_8_2();
    // Key batch 3, query batch 2.
    expect_message_contains(
        thrown_message([&] { module.forward(zeros(2, 3, 8), zeros(3, 5, 6), zeros(2, 5, 4)); }),
        {"query is (2, 3, 8)", "key (3, 5, 6)", "value (2, 5, 4)", "same B and S"});
    // Value batch 1.
    expect_message_contains(
        thrown_message([&] { module.forward(zeros(2, 3, 8), zeros(2, 5, 6), zeros(1, 5, 4)); }),
        {"value (1, 5, 4)", "same B and S"});
    // Five keys but six values.
    expect_message_contains(
        thrown_message([&] { module.forward(zeros(2, 3, 8), zeros(2, 5, 6), zeros(2, 6, 4)); }),
        {"key (2, 5, 6)", "value (2, 6, 4)", "same B and S"});
}

TEST(MultiHeadAttentionForward, KeyOrValueWidthDiffersFromKdimOrVdim) {
    const MultiHeadAttention module = module_8_2();
    expect_message_contains(
        thrown_message([&] { module.forward(zeros(2, 3, 8), zeros(2, 5, 8), zeros(2, 5, 4)); }),
        {"key is (2, 5, 8)", "kdim is 6", "vdim 4"});
    expect_message_contains(
        thrown_message([&] { module.forward(zeros(2, 3, 8), zeros(2, 5, 6), zeros(2, 5, 6)); }),
        {"value (2, 5, 6)", "kdim is 6", "vdim 4"});
}

TEST(MultiHeadAttentionForward, AttnMaskOfTheWrong2DShape) {
    mha::AttentionMasks masks;
    masks.attention_mask = mha::BoolMatrix(xt::zeros<bool>({5, 3}));  // transposed: (S, L)
    expect_message_contains(forward_message(masks),
                            {"attn_mask is (5, 3)", "(L, S) = (3, 5)", "(B·H, L, S) = (4, 3, 5)"});
    masks.attention_mask = mha::Matrix(xt::zeros<double>({3, 4}));  // one key short
    expect_message_contains(forward_message(masks), {"attn_mask is (3, 4)", "(L, S) = (3, 5)"});
}

TEST(MultiHeadAttentionForward, AttnMaskWithTheWrong3DFirstDimension) {
    mha::AttentionMasks masks;
    // B = 2 (one mask per entry, as some libraries take it) instead of B·H = 4.
    masks.attention_mask = mha::BoolTensor3(xt::zeros<bool>({2, 3, 5}));
    expect_message_contains(forward_message(masks), {"attn_mask is (2, 3, 5)", "(B·H, L, S) = (4, 3, 5)"});
    masks.attention_mask = Tensor3(xt::zeros<double>({4, 3, 6}));  // right B·H, wrong S
    expect_message_contains(forward_message(masks), {"attn_mask is (4, 3, 6)", "(B·H, L, S) = (4, 3, 5)"});
    // A 3-D mask of one (L, S) slice is not broadcast over B·H = 4, as PyTorch refuses it too.
    masks.attention_mask = mha::BoolTensor3(xt::zeros<bool>({1, 3, 5}));
    expect_message_contains(forward_message(masks), {"attn_mask is (1, 3, 5)", "(B·H, L, S) = (4, 3, 5)"});
}

TEST(MultiHeadAttentionForward, KeyPaddingMaskOfTheWrongShape) {
    mha::AttentionMasks masks;
    masks.key_padding_mask = mha::BoolMatrix(xt::zeros<bool>({2, 3}));  // (B, L) instead of (B, S)
    expect_message_contains(forward_message(masks), {"key_padding_mask is (2, 3)", "(B, S) = (2, 5)"});
    masks.key_padding_mask = mha::Matrix(xt::zeros<double>({5, 2}));  // transposed
    expect_message_contains(forward_message(masks), {"key_padding_mask is (5, 2)", "(B, S) = (2, 5)"});
}

TEST(MultiHeadAttentionForward, NaNOrPlusInfinityInAFloatMask) {
    // The masks refuse such values as they are made, before any forward pass:
    // NaN would turn every score it touches into NaN.
    mha::Matrix mask = xt::zeros<double>({3, 5});
    mask(1, 2) = std::nan("");
    expect_message_contains(thrown_message([&] { mha::AttentionMask{mask}; }),
                            {"AttentionMask", "float mask (3, 5)", "nan", "finite values and -infinity only"});
    mask(1, 2) = std::numeric_limits<double>::infinity();
    expect_message_contains(thrown_message([&] { mha::AttentionMask{mask}; }), {"float mask (3, 5)", "inf"});

    Tensor3 per_head = xt::zeros<double>({4, 3, 5});
    per_head(3, 2, 4) = std::nan("");
    expect_message_contains(thrown_message([&] { mha::AttentionMask{per_head}; }), {"float mask (4, 3, 5)", "nan"});

    mha::Matrix padding = xt::zeros<double>({2, 5});
    padding(0, 4) = std::nan("");
    expect_message_contains(thrown_message([&] { mha::KeyPaddingMask{padding}; }),
                            {"KeyPaddingMask", "float mask (2, 5)", "nan"});

    // -infinity is what a float mask is for: accepted.
    padding(0, 4) = -std::numeric_limits<double>::infinity();
    EXPECT_NO_THROW(mha::KeyPaddingMask{padding});
}

TEST(MultiHeadAttentionForward, NaNInAnInputNamesWhere) {
    const MultiHeadAttention module = module_8_2();
    Tensor3 query = zeros(2, 3, 8);
    query(1, 2, 0) = std::nan("");
    // The query projection carries the NaN into Q; lesson 1's check finds it there.
    expect_message_contains(
        thrown_message([&] { module.forward(query, zeros(2, 5, 6), zeros(2, 5, 4)); }), {"Q (3, 4)", "nan", "row 2"});
}

}  // namespace
