// Lesson 6 tests: the backward pass of scaled dot-product attention and of
// the whole multi-head module, against central differences, with every mask.
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "core/random.hpp"
#include "gradient_check.hpp"
#include "reference/attention.hpp"
#include "reference/mask.hpp"
#include "reference/multi_head_attention.hpp"
#include "test_helpers.hpp"
#include "train/attention_backward.hpp"
#include "train/multi_head_attention_backward.hpp"

namespace {

using mha::Matrix;
using mha::Tensor3;
using mha::testing::dot_all;
using mha::testing::expect_contains;
using mha::testing::gradients_agree;
using mha::testing::numerical_gradient;
using mha::testing::thrown_message;
using mha::testing::varied;

constexpr double minus_infinity = -std::numeric_limits<double>::infinity();

// ---- One head ----

// Checks dQ, dK and dV of attention(Q, K, V, mask) against central differences of Σ dO ⊙ O.
void check_attention(const Matrix& Q, const Matrix& K, const Matrix& V, const Matrix& mask) {
    const Matrix grad_output = varied(Q.shape(0), V.shape(1), 4.2);  // dL/dO
    const mha::AttentionResult forward = mha::scaled_dot_product_attention(Q, K, V, mask);
    const mha::AttentionGradients g = mha::attention_backward(Q, K, V, forward.weights, grad_output);
    const auto loss = [&](const Matrix& q, const Matrix& k, const Matrix& v) {
        return dot_all(grad_output, mha::scaled_dot_product_attention(q, k, v, mask).output);
    };
    EXPECT_TRUE(gradients_agree(g.query, numerical_gradient<Matrix>(Q, [&](const Matrix& x) { return loss(x, K, V); })))
        << "dQ";
    EXPECT_TRUE(gradients_agree(g.key, numerical_gradient<Matrix>(K, [&](const Matrix& x) { return loss(Q, x, V); })))
        << "dK";
    EXPECT_TRUE(gradients_agree(g.value, numerical_gradient<Matrix>(V, [&](const Matrix& x) { return loss(Q, K, x); })))
        << "dV";
}

TEST(AttentionBackward, ByHandWithOneKey) {
    // One key: its weight is 1 whatever the scores, so O = V and no gradient reaches Q or K.
    const Matrix Q = {{0.3, -0.2}, {1.0, 2.0}}, K = {{0.5, 0.5}}, V = {{2.0, 3.0, 4.0}};
    const Matrix grad_output = {{1.0, 0.0, 0.0}, {0.0, 1.0, 1.0}};
    const mha::AttentionResult forward = mha::scaled_dot_product_attention(Q, K, V);
    const mha::AttentionGradients g = mha::attention_backward(Q, K, V, forward.weights, grad_output);
    EXPECT_EQ(g.value, (Matrix{{1.0, 1.0, 1.0}}));  // dV = Pᵀ dO: the column sums of dO
    EXPECT_EQ(g.query, (Matrix{{0.0, 0.0}, {0.0, 0.0}}));
    EXPECT_EQ(g.key, (Matrix{{0.0, 0.0}}));
}

TEST(AttentionBackward, MatchesCentralDifferencesWithoutMask) {
    check_attention(varied(3, 4, 0.1), varied(5, 4, 0.2), varied(5, 2, 0.3), xt::zeros<double>({3, 5}));
}

TEST(AttentionBackward, MatchesCentralDifferencesUnderACausalMask) {
    check_attention(varied(4, 3, 0.4), varied(4, 3, 0.5), varied(4, 3, 0.6), mha::additive_mask(mha::causal_mask(4, 4)));
}

TEST(AttentionBackward, MatchesCentralDifferencesUnderAFloatMaskWithAFullyMaskedQuery) {
    Matrix mask = varied(3, 4, 0.8);  // finite values tilt the scores
    mask(0, 1) = minus_infinity;
    for (std::size_t j = 0; j < 4; ++j) {
        mask(2, j) = minus_infinity;  // query 2 sees nothing: zero output, zero gradient
    }
    check_attention(varied(3, 2, 0.7), varied(4, 2, 0.9), varied(4, 3, 1.0), mask);
    const Matrix Q = varied(3, 2, 0.7), K = varied(4, 2, 0.9), V = varied(4, 3, 1.0);
    const mha::AttentionResult forward = mha::scaled_dot_product_attention(Q, K, V, mask);
    const mha::AttentionGradients g = mha::attention_backward(Q, K, V, forward.weights, varied(3, 3, 4.2));
    EXPECT_EQ(g.query(2, 0), 0.0);
    EXPECT_EQ(g.query(2, 1), 0.0);
}

TEST(AttentionBackward, WrongShapesAreNamed) {
    const Matrix Q = varied(3, 2, 0), K = varied(4, 2, 0), V = varied(4, 3, 0);
    expect_contains(thrown_message([&] { mha::attention_backward(Q, K, V, varied(3, 4, 0), varied(3, 2, 0)); }),
                    {"attention_backward", "grad_output (3, 2)", "(L, d_v)"});
    expect_contains(thrown_message([&] { mha::attention_backward(Q, K, V, varied(4, 3, 0), varied(3, 3, 0)); }),
                    {"the weights (4, 3)"});
}

// ---- The whole module ----

Tensor3 random_tensor(mha::RandomGenerator& random, std::size_t a, std::size_t b, std::size_t c) {
    Tensor3 t = xt::zeros<double>({a, b, c});
    for (double& x : t) {
        x = random.uniform(-1.0, 1.0);
    }
    return t;
}

// Checks every gradient of multi_head_attention_backward against central
// differences of the loss Σ dY ⊙ output, with the query, key and value as
// three separate inputs.
void check_module(std::size_t B, std::size_t L, std::size_t S, std::size_t E, std::size_t H, std::size_t kdim,
                  std::size_t vdim, bool bias, const mha::AttentionMasks& masks) {
    mha::RandomGenerator random(17);
    const mha::MultiHeadAttention module = mha::random_multi_head_attention(E, H, bias, random, kdim, vdim);
    const Tensor3 query = random_tensor(random, B, L, E), key = random_tensor(random, B, S, kdim),
                  value = random_tensor(random, B, S, vdim), grad_output = random_tensor(random, B, L, E);
    const auto loss = [&](const mha::MultiHeadAttention& m, const Tensor3& q, const Tensor3& k, const Tensor3& v) {
        return dot_all(grad_output, m.forward(q, k, v, masks).output);
    };
    const mha::MultiHeadAttentionGradients g =
        mha::multi_head_attention_backward(module, query, key, value, masks, grad_output);

    EXPECT_TRUE(gradients_agree(g.query, numerical_gradient<Tensor3>(query, [&](const Tensor3& x) {
                                    return loss(module, x, key, value);
                                }))) << "dquery";
    EXPECT_TRUE(gradients_agree(g.key, numerical_gradient<Tensor3>(key, [&](const Tensor3& x) {
                                    return loss(module, query, x, value);
                                }))) << "dkey";
    EXPECT_TRUE(gradients_agree(g.value, numerical_gradient<Tensor3>(value, [&](const Tensor3& x) {
                                    return loss(module, query, key, x);
                                }))) << "dvalue";
    // Every parameter: nudge it inside a copy of the module.
    const std::pair<mha::Linear mha::MultiHeadAttention::*, const char*> layers[] = {
        {&mha::MultiHeadAttention::query_projection, "W_q"},
        {&mha::MultiHeadAttention::key_projection, "W_k"},
        {&mha::MultiHeadAttention::value_projection, "W_v"},
        {&mha::MultiHeadAttention::output_projection, "W_o"}};
    for (const auto& [layer, name] : layers) {
        EXPECT_TRUE(gradients_agree((g.parameters.*layer).weight,
                                    numerical_gradient<Matrix>((module.*layer).weight, [&](const Matrix& w) {
                                        mha::MultiHeadAttention changed = module;
                                        (changed.*layer).weight = w;
                                        return loss(changed, query, key, value);
                                    }))) << name;
        if (bias) {
            EXPECT_TRUE(gradients_agree((g.parameters.*layer).bias,
                                        numerical_gradient<mha::Vector>((module.*layer).bias, [&](const mha::Vector& b) {
                                            mha::MultiHeadAttention changed = module;
                                            (changed.*layer).bias = b;
                                            return loss(changed, query, key, value);
                                        }))) << name << "'s bias";
        } else {
            EXPECT_EQ((g.parameters.*layer).bias.size(), 0u) << name;
        }
    }
}

TEST(MultiHeadAttentionBackward, MatchesCentralDifferencesWithoutMasks) {
    check_module(2, 3, 4, 4, 2, 4, 4, true, {});
}

TEST(MultiHeadAttentionBackward, TheKeyBiasGetsNoGradient) {
    // b_k adds q·b_k to every score of query q's row: the same shift for every key, which the softmax ignores.
    mha::RandomGenerator random(5);
    const mha::MultiHeadAttention module = mha::random_multi_head_attention(4, 2, true, random);
    const Tensor3 x = random_tensor(random, 2, 3, 4), grad_output = random_tensor(random, 2, 3, 4);
    const mha::MultiHeadAttentionGradients g = mha::multi_head_attention_backward(module, x, x, x, {}, grad_output);
    for (const double d : g.parameters.key_projection.bias) {
        EXPECT_NEAR(d, 0.0, 1e-14);
    }
    EXPECT_GT(xt::amax(xt::abs(g.parameters.value_projection.bias))(), 1e-3);  // while b_v's is not zero
}

TEST(MultiHeadAttentionBackward, MatchesCentralDifferencesUnderCausalAndPaddingMasks) {
    mha::AttentionMasks masks;
    masks.causal = true;
    mha::BoolMatrix padding = xt::zeros<bool>({2, 4});  // (B, S)
    padding(1, 2) = true;
    masks.key_padding_mask = mha::KeyPaddingMask(padding);
    check_module(2, 4, 4, 4, 2, 4, 4, true, masks);
}

TEST(MultiHeadAttentionBackward, MatchesCentralDifferencesUnderABoolMaskThatHidesEverythingFromOneQuery) {
    mha::BoolMatrix mask = xt::zeros<bool>({3, 4});  // (L, S)
    mask(0, 3) = true;
    xt::view(mask, 2, xt::all()) = true;  // query 2 sees nothing
    mha::AttentionMasks masks;
    masks.attention_mask = mha::AttentionMask(mask);
    check_module(2, 3, 4, 6, 3, 6, 6, true, masks);
}

TEST(MultiHeadAttentionBackward, MatchesCentralDifferencesUnderAFloatMaskPerHead) {
    Tensor3 mask = xt::zeros<double>({4, 3, 3});  // (B·H, L, S)
    for (std::size_t i = 0; i < mask.size(); ++i) {
        mask.data()[i] = std::sin(0.37 * static_cast<double>(i));  // a different tilt for every entry and head
    }
    mask(1, 0, 2) = minus_infinity;
    mha::AttentionMasks masks;
    masks.attention_mask = mha::AttentionMask(mask);
    check_module(2, 3, 3, 4, 2, 4, 4, true, masks);
}

TEST(MultiHeadAttentionBackward, MatchesCentralDifferencesForCrossAttentionWithOtherWidthsAndNoBias) {
    check_module(1, 2, 5, 4, 2, 3, 5, false, {});
}

TEST(MultiHeadAttentionBackward, GradOutputMustHaveTheOutputsShape) {
    mha::RandomGenerator random(3);
    const mha::MultiHeadAttention module = mha::random_multi_head_attention(4, 2, true, random);
    const Tensor3 x = random_tensor(random, 1, 3, 4);
    expect_contains(thrown_message([&] {
                        mha::multi_head_attention_backward(module, x, x, x, {}, random_tensor(random, 1, 2, 4));
                    }),
                    {"multi_head_attention_backward", "grad_output is (1, 2, 4)", "(1, 3, 4)"});
    expect_contains(thrown_message([&] {
                        mha::multi_head_attention_backward(module, x, random_tensor(random, 1, 3, 5), x, {}, x);
                    }),
                    {"multi_head_attention_backward", "kdim"});
}

}  // namespace
