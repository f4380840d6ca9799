// Lesson 4 tests: concatenating the heads, the output projection, and the
// complete MultiHeadAttention, checked against numbers worked out in the test
// itself (PyTorch's numbers are in golden_test.cpp).
#include <cmath>
#include <cstddef>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "reference/attention.hpp"
#include "reference/attention_heads.hpp"
#include "reference/mask.hpp"
#include "reference/multi_head_attention.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

using mha::Matrix;
using mha::MultiHeadAttention;
using mha::Tensor3;
using mha::Tensor4;
using mha::testing::matrices_near;
using mha::testing::varied;

// A batch (B, rows, columns) of varied matrices.
Tensor3 varied_batch(std::size_t batch, std::size_t rows, std::size_t columns, double seed) {
    Tensor3 t = xt::zeros<double>({batch, rows, columns});
    for (std::size_t b = 0; b < batch; ++b) {
        xt::view(t, b, xt::all(), xt::all()) = varied(rows, columns, seed + 10.0 * b);
    }
    return t;
}

// Entry b of a batch, as a matrix.
Matrix entry(const Tensor3& t, std::size_t b) { return xt::view(t, b, xt::all(), xt::all()); }

// The weights of entry b, head h, (L, S).
Matrix head_weights(const Tensor4& w, std::size_t b, std::size_t h) { return xt::view(w, b, h, xt::all(), xt::all()); }

// A linear layer with the given weight and bias.
mha::Linear linear(const Matrix& weight, const mha::Vector& bias) { return mha::Linear{weight, bias}; }

// Multi-head attention whose Q, K and V projections are the identity (E, E)
// with zero biases, so that Q = K = V = the input; W_o and b_o are given.
MultiHeadAttention identity_projections(std::size_t E, std::size_t H, const Matrix& W_o, const mha::Vector& b_o) {
    const Matrix identity = xt::eye<double>(E);
    const mha::Vector zero = xt::zeros<double>({E});
    MultiHeadAttention module;
    module.num_heads = H;
    module.query_projection = linear(identity, zero);
    module.key_projection = linear(identity, zero);
    module.value_projection = linear(identity, zero);
    module.output_projection = linear(W_o, b_o);
    return module;
}

// y = x W_oᵀ + b_o for one row vector, written out as a loop.
std::vector<double> output_layer_by_hand(const std::vector<double>& x, const Matrix& W_o, const mha::Vector& b_o) {
    std::vector<double> y(W_o.shape(0));
    for (std::size_t o = 0; o < W_o.shape(0); ++o) {
        y[o] = b_o(o);
        for (std::size_t c = 0; c < W_o.shape(1); ++c) {
            y[o] += W_o(o, c) * x[c];  // row o of W_o dotted with x
        }
    }
    return y;
}

// ---- concat_heads: the inverse of split_heads ----

TEST(ConcatHeads, PutsHeadsSideBySideInOrder) {
    const std::vector<Matrix> heads = {{{1, 2}, {3, 4}, {5, 6}},      // head 0 (L=3, d_k=2)
                                       {{7, 8}, {9, 10}, {11, 12}}};  // head 1 (L=3, d_k=2)
    const Matrix expected = {{1, 2, 7, 8}, {3, 4, 9, 10}, {5, 6, 11, 12}};  // (L, H·d_k) = (3, 4)
    EXPECT_TRUE(matrices_near(mha::concat_heads(heads), expected, 0.0));
}

TEST(ConcatHeads, IsTheInverseOfSplitHeads) {
    const Matrix projected = varied(5, 12, 0.3);  // (L, E) = (5, 12)
    for (const std::size_t H : {1, 2, 3, 4, 6, 12}) {
        const std::vector<Matrix> heads = mha::split_heads(projected, H);  // H x (5, 12 / H)
        ASSERT_EQ(heads.size(), H);
        EXPECT_TRUE(matrices_near(mha::concat_heads(heads), projected, 0.0)) << "H = " << H;
        const std::vector<Matrix> again = mha::split_heads(mha::concat_heads(heads), H);
        for (std::size_t h = 0; h < H; ++h) {
            EXPECT_TRUE(matrices_near(again[h], heads[h], 0.0)) << "H = " << H << ", head " << h;
        }
    }
}

TEST(ConcatHeads, RejectsNoHeadsAndHeadsOfDifferentShapes) {
    EXPECT_NE(mha::testing::thrown_message([] { mha::concat_heads({}); }).find("no heads"), std::string::npos);
    const std::string message =
        mha::testing::thrown_message([] { mha::concat_heads({varied(3, 2, 0), varied(3, 4, 0)}); });
    EXPECT_NE(message.find("head 1 is (3, 4) but head 0 is (3, 2)"), std::string::npos) << message;
}

// ---- The complete module against lesson 1's attention, by hand ----

TEST(MultiHeadAttention, OneHeadWithIdentityProjectionsIsLesson1AttentionThenTheOutputLayer) {
    // With W_q = W_k = W_v = I and H = 1, the one head is lesson 1's attention
    // on Q = K = V = X; the module then applies y = x W_oᵀ + b_o to every row.
    const std::size_t E = 3, L = 4;
    const Matrix W_o = {{0.5, -1.0, 2.0}, {0.0, 1.5, -0.5}, {1.0, 1.0, 1.0}};  // (E, E)
    const mha::Vector b_o = {0.1, -0.2, 0.3};                                     // (E)
    const MultiHeadAttention module = identity_projections(E, 1, W_o, b_o);
    const Tensor3 X = varied_batch(1, L, E, 0.7);  // (B=1, L, E)

    const auto result = module.forward(X, X, X);
    const auto lesson1 = mha::scaled_dot_product_attention(entry(X, 0), entry(X, 0), entry(X, 0));  // (L, E)
    for (std::size_t i = 0; i < L; ++i) {
        const std::vector<double> row = {lesson1.output(i, 0), lesson1.output(i, 1), lesson1.output(i, 2)};
        const std::vector<double> expected = output_layer_by_hand(row, W_o, b_o);
        for (std::size_t o = 0; o < E; ++o) {
            EXPECT_NEAR(result.output(0, i, o), expected[o], 1e-14) << "row " << i << ", column " << o;
        }
    }
    EXPECT_TRUE(matrices_near(head_weights(result.weights, 0, 0), lesson1.weights, 1e-15));
}

TEST(MultiHeadAttention, TwoHeadsAttendOnTheirOwnColumnsAndWoMixesThem) {
    // H = 2, E = 4, identity projections: head 0 is lesson 1's attention on
    // columns 0-1 of X, head 1 on columns 2-3. Concatenated, they make an
    // (L, 4) matrix that W_o turns into the output.
    const std::size_t E = 4, L = 3;
    const Matrix W_o = varied(E, E, 2.2);
    const mha::Vector b_o = {1.0, 2.0, 3.0, 4.0};
    const MultiHeadAttention module = identity_projections(E, 2, W_o, b_o);
    const Tensor3 X = varied_batch(1, L, E, 1.9);
    const Matrix x = entry(X, 0);  // (L, E)

    const Matrix left = xt::view(x, xt::all(), xt::range(0, 2));   // head 0's columns (L, 2)
    const Matrix right = xt::view(x, xt::all(), xt::range(2, 4));  // head 1's columns (L, 2)
    const auto head0 = mha::scaled_dot_product_attention(left, left, left);
    const auto head1 = mha::scaled_dot_product_attention(right, right, right);

    const auto result = module.forward(X, X, X);
    for (std::size_t i = 0; i < L; ++i) {
        // Concat(head_0, head_1): row i is head 0's output row, then head 1's.
        const std::vector<double> concatenated = {head0.output(i, 0), head0.output(i, 1), head1.output(i, 0),
                                                  head1.output(i, 1)};
        const std::vector<double> expected = output_layer_by_hand(concatenated, W_o, b_o);
        for (std::size_t o = 0; o < E; ++o) {
            EXPECT_NEAR(result.output(0, i, o), expected[o], 1e-14) << "row " << i << ", column " << o;
        }
    }
    EXPECT_TRUE(matrices_near(head_weights(result.weights, 0, 0), head0.weights, 1e-15));
    EXPECT_TRUE(matrices_near(head_weights(result.weights, 0, 1), head1.weights, 1e-15));
}

TEST(MultiHeadAttention, WithoutTheOutputLayerTheHeadsStaySideBySide) {
    // W_o = I and b_o = 0: the output is exactly the concatenated heads, so
    // columns 0-1 depend only on head 0. Changing columns 2-3 of the input
    // (head 1's) leaves columns 0-1 of the output untouched: nothing mixes.
    const std::size_t E = 4, L = 3;
    const MultiHeadAttention module = identity_projections(E, 2, xt::eye<double>(E), xt::zeros<double>({E}));
    const Tensor3 X = varied_batch(1, L, E, 0.4);
    Tensor3 changed = X;
    xt::view(changed, 0, xt::all(), xt::range(2, 4)) *= -3.0;
    const auto before = module.forward(X, X, X).output;
    const auto after = module.forward(changed, changed, changed).output;
    for (std::size_t i = 0; i < L; ++i) {
        EXPECT_EQ(after(0, i, 0), before(0, i, 0));
        EXPECT_EQ(after(0, i, 1), before(0, i, 1));
        EXPECT_NE(after(0, i, 2), before(0, i, 2));
    }
    // A W_o that mixes the heads makes every output column depend on both.
    const MultiHeadAttention mixing = identity_projections(E, 2, varied(E, E, 0.8), xt::zeros<double>({E}));
    EXPECT_NE(mixing.forward(changed, changed, changed).output(0, 0, 0), mixing.forward(X, X, X).output(0, 0, 0));
}

TEST(MultiHeadAttention, EveryBatchEntryIsComputedOnItsOwn) {
    mha::RandomGenerator random(11);
    const MultiHeadAttention module = mha::random_multi_head_attention(8, 2, true, random);
    const Tensor3 batch = varied_batch(3, 4, 8, 0.2);  // (B=3, L=4, E=8)
    const auto together = module.forward(batch, batch, batch);
    for (std::size_t b = 0; b < 3; ++b) {
        const Tensor3 alone = xt::view(batch, xt::range(b, b + 1), xt::all(), xt::all());  // (1, 4, 8)
        const auto single = module.forward(alone, alone, alone);
        EXPECT_TRUE(matrices_near(entry(together.output, b), entry(single.output, 0), 0.0)) << "entry " << b;
    }
}

TEST(MultiHeadAttention, CrossAttentionShapesFollowLSAndKdimVdim) {
    mha::RandomGenerator random(5);
    const MultiHeadAttention module = mha::random_multi_head_attention(12, 3, true, random, 7, 5);
    const auto result =
        module.forward(varied_batch(2, 4, 12, 0.1), varied_batch(2, 9, 7, 0.2), varied_batch(2, 9, 5, 0.3));
    EXPECT_EQ(mha::shape_string(result.output), "(2, 4, 12)");    // (B, L, E)
    EXPECT_EQ(mha::shape_string(result.weights), "(2, 3, 4, 9)");  // (B, H, L, S)
}

// ---- Biases ----

TEST(MultiHeadAttentionBias, ZeroInputsGiveWoTimesBvPlusBo) {
    // All inputs zero: Q = b_q, every key is b_k and every value b_v. Every key
    // is the same, so each head spreads its weight evenly (1/S each) and returns
    // the average of identical value rows: its slice of b_v. Concatenated, the
    // heads give b_v itself, so each output row is W_o b_v + b_o.
    mha::RandomGenerator random(3);
    MultiHeadAttention module = mha::random_multi_head_attention(4, 2, true, random);
    module.query_projection.bias = {0.3, -0.1, 0.2, 0.5};
    module.key_projection.bias = {-0.4, 0.6, 0.1, 0.0};
    module.value_projection.bias = {1.0, -2.0, 0.5, 3.0};
    module.output_projection.bias = {0.25, 0.5, -0.75, 1.0};
    const Tensor3 zeros = xt::zeros<double>({1, 3, 4});  // (B=1, L=S=3, E=4)

    const auto result = module.forward(zeros, zeros, zeros);
    const std::vector<double> b_v = {1.0, -2.0, 0.5, 3.0};
    const std::vector<double> expected =
        output_layer_by_hand(b_v, module.output_projection.weight, module.output_projection.bias);
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t o = 0; o < 4; ++o) {
            EXPECT_NEAR(result.output(0, i, o), expected[o], 1e-15);
        }
        for (std::size_t j = 0; j < 3; ++j) {
            EXPECT_NEAR(result.weights(0, 1, i, j), 1.0 / 3.0, 1e-15);
        }
    }
}

TEST(MultiHeadAttentionBias, WithoutBiasZeroInputsGiveExactlyZero) {
    mha::RandomGenerator random(3);
    const MultiHeadAttention module = mha::random_multi_head_attention(4, 2, false, random);
    EXPECT_FALSE(module.query_projection.has_bias());
    EXPECT_FALSE(module.output_projection.has_bias());
    const Tensor3 zeros = xt::zeros<double>({2, 3, 4});
    const auto result = module.forward(zeros, zeros, zeros);
    for (const double y : result.output) {
        EXPECT_EQ(y, 0.0);
    }
}

TEST(MultiHeadAttentionBias, NoBiasEqualsAllBiasesZero) {
    mha::RandomGenerator random(8);
    const MultiHeadAttention without = mha::random_multi_head_attention(6, 3, false, random);
    MultiHeadAttention zero_biases = without;
    for (mha::Linear* projection : {&zero_biases.query_projection, &zero_biases.key_projection,
                                    &zero_biases.value_projection, &zero_biases.output_projection}) {
        projection->bias = xt::zeros<double>({std::size_t{6}});
    }
    const Tensor3 X = varied_batch(2, 5, 6, 1.3);
    EXPECT_EQ(without.forward(X, X, X).output, zero_biases.forward(X, X, X).output);
}

// ---- Masks ----

TEST(MultiHeadAttentionMask, QueryWithEveryKeyMaskedGetsZeroWeightsAndTheOutputBias) {
    // PyTorch returns NaN here. We return zero weights, so the concatenated
    // heads are a zero row and the output row is W_o · 0 + b_o = b_o, exactly.
    mha::RandomGenerator random(21);
    MultiHeadAttention module = mha::random_multi_head_attention(8, 4, true, random);
    module.output_projection.bias = {0.5, -1.0, 1.5, -2.0, 2.5, -3.0, 3.5, -4.0};
    const Tensor3 X = varied_batch(2, 4, 8, 0.6);  // (B=2, L=S=4, E=8)

    // Through attn_mask: query 2 may look at nothing.
    mha::BoolMatrix mask = xt::zeros<bool>({4, 4});
    xt::row(mask, 2) = true;
    mha::AttentionMasks masks;
    masks.attention_mask = mask;
    const auto masked = module.forward(X, X, X, masks);
    const auto unmasked = module.forward(X, X, X);
    for (std::size_t b = 0; b < 2; ++b) {
        for (std::size_t h = 0; h < 4; ++h) {
            for (std::size_t j = 0; j < 4; ++j) {
                EXPECT_EQ(masked.weights(b, h, 2, j), 0.0) << "entry " << b << ", head " << h << ", key " << j;
            }
        }
        for (std::size_t o = 0; o < 8; ++o) {
            EXPECT_EQ(masked.output(b, 2, o), module.output_projection.bias(o)) << "entry " << b << ", column " << o;
            for (const std::size_t i : {0, 1, 3}) {  // the other queries are untouched
                EXPECT_EQ(masked.output(b, i, o), unmasked.output(b, i, o));
            }
        }
    }

    // Through key_padding_mask: every key of entry 1 is padding, so every one
    // of its queries gets the bias; entry 0 is unaffected.
    mha::BoolMatrix padding = xt::zeros<bool>({2, 4});
    xt::row(padding, 1) = true;
    mha::AttentionMasks padding_masks;
    padding_masks.key_padding_mask = padding;
    const auto padded = module.forward(X, X, X, padding_masks);
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t o = 0; o < 8; ++o) {
            EXPECT_EQ(padded.output(1, i, o), module.output_projection.bias(o));
            EXPECT_EQ(padded.output(0, i, o), unmasked.output(0, i, o));
        }
        for (std::size_t h = 0; h < 4; ++h) {
            for (std::size_t j = 0; j < 4; ++j) {
                EXPECT_EQ(padded.weights(1, h, i, j), 0.0);
            }
        }
    }
}

TEST(MultiHeadAttentionMask, PaddingKeysGetZeroWeightInEveryHead) {
    mha::RandomGenerator random(4);
    const MultiHeadAttention module = mha::random_multi_head_attention(8, 2, true, random);
    const Tensor3 X = varied_batch(2, 5, 8, 0.9);
    const mha::BoolMatrix padding = {{false, false, false, false, false}, {false, false, false, true, true}};
    mha::AttentionMasks masks;
    masks.key_padding_mask = padding;
    const auto result = module.forward(X, X, X, masks);
    for (std::size_t h = 0; h < 2; ++h) {
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_EQ(result.weights(1, h, i, 3), 0.0);
            EXPECT_EQ(result.weights(1, h, i, 4), 0.0);
            EXPECT_GT(result.weights(0, h, i, 4), 0.0);
            EXPECT_NEAR(result.weights(1, h, i, 0) + result.weights(1, h, i, 1) + result.weights(1, h, i, 2), 1.0,
                        1e-15);
        }
    }
}

TEST(MultiHeadAttentionMask, CausalFlagEqualsTheCausalMaskAsAttnMask) {
    mha::RandomGenerator random(9);
    const MultiHeadAttention module = mha::random_multi_head_attention(8, 2, true, random);
    const Tensor3 X = varied_batch(2, 5, 8, 0.5);
    mha::AttentionMasks flag, explicit_mask;
    flag.causal = true;
    explicit_mask.attention_mask = mha::causal_mask(5, 5);
    const auto with_flag = module.forward(X, X, X, flag);
    const auto with_mask = module.forward(X, X, X, explicit_mask);
    EXPECT_EQ(with_flag.output, with_mask.output);
    EXPECT_EQ(with_flag.weights, with_mask.weights);
    EXPECT_EQ(with_flag.weights(1, 1, 0, 1), 0.0);  // query 0 never sees key 1
    EXPECT_EQ(with_flag.weights(1, 1, 0, 0), 1.0);  // it sees only itself
}

TEST(MultiHeadAttentionMask, BooleanMaskEqualsItsAdditiveFormIn2DAnd3D) {
    mha::RandomGenerator random(10);
    const MultiHeadAttention module = mha::random_multi_head_attention(6, 2, true, random);
    const Tensor3 query = varied_batch(2, 3, 6, 0.1), memory = varied_batch(2, 4, 6, 0.2);
    const mha::BoolMatrix mask = {{false, true, false, false}, {true, false, false, true}, {false, false, true, false}};
    mha::BoolTensor3 per_head = xt::zeros<bool>({4, 3, 4});  // (B·H, L, S): the same mask four times
    for (std::size_t n = 0; n < 4; ++n) {
        xt::view(per_head, n, xt::all(), xt::all()) = mask;
    }
    const auto run = [&](const mha::AttentionMask& attention_mask) {
        mha::AttentionMasks masks;
        masks.attention_mask = attention_mask;
        return module.forward(query, memory, memory, masks);
    };
    const auto reference = run(mask);
    for (const auto& other : {run(mha::additive_mask(mask)), run(per_head)}) {
        EXPECT_EQ(other.output, reference.output);
        EXPECT_EQ(other.weights, reference.weights);
    }
}

TEST(MultiHeadAttentionMask, PerHeadMaskIndexIsBTimesHPlusH) {
    // A (B·H, L, S) mask that forbids one pair for entry 1, head 2 only:
    // index 1 · 3 + 2 = 5. No other entry or head may be affected.
    const std::size_t B = 2, H = 3, L = 3, S = 4;
    mha::RandomGenerator random(12);
    const MultiHeadAttention module = mha::random_multi_head_attention(6, H, true, random);
    const Tensor3 X = varied_batch(B, L, 6, 0.3), Y = varied_batch(B, S, 6, 0.7);
    mha::BoolTensor3 mask = xt::zeros<bool>({B * H, L, S});
    mask(1 * H + 2, 0, 3) = true;
    mha::AttentionMasks masks;
    masks.attention_mask = mask;
    const auto masked = module.forward(X, Y, Y, masks);
    const auto unmasked = module.forward(X, Y, Y);
    EXPECT_EQ(masked.weights(1, 2, 0, 3), 0.0);
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t h = 0; h < H; ++h) {
            if (b == 1 && h == 2) continue;
            EXPECT_TRUE(matrices_near(head_weights(masked.weights, b, h), head_weights(unmasked.weights, b, h), 0.0))
                << "entry " << b << ", head " << h;
        }
    }
    EXPECT_TRUE(matrices_near(entry(masked.output, 0), entry(unmasked.output, 0), 0.0));
}

// ---- average_over_heads ----

TEST(AverageOverHeads, IsTheMeanOverTheHeadAxis) {
    Tensor4 weights = xt::zeros<double>({2, 2, 1, 3});  // (B=2, H=2, L=1, S=3)
    const double head_rows[2][2][3] = {{{0.2, 0.3, 0.5}, {0.6, 0.4, 0.0}},   // entry 0: heads 0 and 1
                                       {{1.0, 0.0, 0.0}, {0.0, 0.5, 0.5}}};  // entry 1
    for (std::size_t b = 0; b < 2; ++b)
        for (std::size_t h = 0; h < 2; ++h)
            for (std::size_t j = 0; j < 3; ++j) weights(b, h, 0, j) = head_rows[b][h][j];
    const Tensor3 average = mha::average_over_heads(weights);  // (B, L, S)
    ASSERT_EQ(mha::shape_string(average), "(2, 1, 3)");
    const double expected[2][3] = {{0.4, 0.35, 0.25}, {0.5, 0.25, 0.25}};
    for (std::size_t b = 0; b < 2; ++b) {
        for (std::size_t j = 0; j < 3; ++j) {
            EXPECT_NEAR(average(b, 0, j), expected[b][j], 1e-16) << "entry " << b << ", key " << j;
        }
    }
    // The rows of an average of probability distributions still sum to 1.
    EXPECT_NEAR(average(0, 0, 0) + average(0, 0, 1) + average(0, 0, 2), 1.0, 1e-15);
}

TEST(AverageOverHeads, OfAForwardPassMatchesAHandMean) {
    mha::RandomGenerator random(6);
    const MultiHeadAttention module = mha::random_multi_head_attention(8, 4, true, random);
    const Tensor3 X = varied_batch(1, 3, 8, 2.0);
    const Tensor4 weights = module.forward(X, X, X).weights;  // (1, 4, 3, 3)
    const Tensor3 average = mha::average_over_heads(weights);
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            const double sum = weights(0, 0, i, j) + weights(0, 1, i, j) + weights(0, 2, i, j) + weights(0, 3, i, j);
            const double mean = sum / 4;
            EXPECT_NEAR(average(0, i, j), mean, 1e-16);
        }
    }
}

TEST(AverageOverHeads, RejectsWeightsWithoutHeads) {
    const Tensor4 no_heads = xt::zeros<double>({1, 0, 2, 2});
    const std::string message = mha::testing::thrown_message([&] { mha::average_over_heads(no_heads); });
    EXPECT_NE(message.find("(1, 0, 2, 2)"), std::string::npos) << message;
}

// ---- random_multi_head_attention ----

TEST(RandomMultiHeadAttention, SameSeedGivesTheSameModuleAndOutput) {
    mha::RandomGenerator first(42), second(42), other(43);
    const MultiHeadAttention a = mha::random_multi_head_attention(8, 2, true, first);
    const MultiHeadAttention b = mha::random_multi_head_attention(8, 2, true, second);
    const MultiHeadAttention c = mha::random_multi_head_attention(8, 2, true, other);
    EXPECT_EQ(a.query_projection.weight, b.query_projection.weight);
    EXPECT_EQ(a.value_projection.weight, b.value_projection.weight);
    EXPECT_EQ(a.output_projection.weight, b.output_projection.weight);
    EXPECT_NE(a.query_projection.weight, c.query_projection.weight);
    const Tensor3 X = varied_batch(1, 4, 8, 0.0);
    EXPECT_EQ(a.forward(X, X, X).output, b.forward(X, X, X).output);
}

TEST(RandomMultiHeadAttention, ShapesAndInitialisationFollowPyTorch) {
    mha::RandomGenerator random(1);
    const MultiHeadAttention module = mha::random_multi_head_attention(16, 4, true, random, 6, 10);
    EXPECT_EQ(module.embed_dim(), 16u);
    EXPECT_EQ(module.head_dim(), 4u);
    EXPECT_EQ(module.kdim(), 6u);
    EXPECT_EQ(module.vdim(), 10u);
    EXPECT_EQ(mha::shape_string(module.key_projection.weight), "(16, 6)");
    EXPECT_EQ(mha::shape_string(module.value_projection.weight), "(16, 10)");
    // PyTorch starts every bias at zero; out_proj's weights lie in [-1/sqrt(E), 1/sqrt(E)].
    for (const double b : module.output_projection.bias) EXPECT_EQ(b, 0.0);
    for (const double w : module.output_projection.weight) EXPECT_LE(std::abs(w), 0.25);
    // Xavier-uniform for the packed (3E, E) projection: |w| <= sqrt(6 / (E + 3E)).
    mha::RandomGenerator packed_random(1);
    const MultiHeadAttention packed = mha::random_multi_head_attention(16, 4, true, packed_random);
    for (const double w : packed.key_projection.weight) EXPECT_LE(std::abs(w), std::sqrt(6.0 / 64.0));
    EXPECT_NO_THROW(packed.check());
}

}  // namespace
