// Lesson 3 tests: H heads, each with its own W_q, W_k, W_v of shape (d_k, d_model).
// Checked on a hand-computed case, on properties (shapes, independence of the
// heads, one head = lesson 2), with masks, and on bad input.
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "reference/attention_heads.hpp"
#include "reference/mask.hpp"
#include "core/random.hpp"
#include "reference/self_attention.hpp"
#include "test_helpers.hpp"

namespace {

using mha::testing::expect_contains;

using mha::AttentionHeads;
using mha::BoolMatrix;
using mha::Linear;
using mha::Matrix;
using mha::RandomGenerator;
using mha::SelfAttention;
using mha::Vector;
using mha::testing::matrices_near;
using mha::testing::varied;
using mha::testing::thrown_message;

// The largest |a - b| over two matrices of the same shape.
double max_difference(const Matrix& a, const Matrix& b) {
    return xt::amax(xt::abs(a - b))();
}

// A projection (2, 4) without bias that copies input columns first and first + 1.
Linear copy_columns(std::size_t first) {
    Linear layer{xt::zeros<double>({2, 4}), Vector(xt::zeros<double>({0}))};
    layer.weight(0, first) = 1.0;
    layer.weight(1, first + 1) = 1.0;
    return layer;
}

// ---- A case worked out on paper ----

TEST(AttentionHeads, EachHeadAttendsWithinItsOwnSubspace) {
    // d_model = 4, H = 2, d_k = 2. Head 0 projects onto columns 0-1, head 1 onto
    // columns 2-3 (Q = K = V inside each head). Token 0 lives in head 0's
    // subspace, token 1 in head 1's, so the two heads see different sentences.
    AttentionHeads heads;
    heads.heads.push_back(SelfAttention{copy_columns(0), copy_columns(0), copy_columns(0)});
    heads.heads.push_back(SelfAttention{copy_columns(2), copy_columns(2), copy_columns(2)});
    const Matrix X = {{1, 0, 0, 0}, {0, 0, 0, 2}};  // (L = 2, d_model = 4)
    const auto result = heads.forward(X);

    // Head 0: Q = K = V = {{1, 0}, {0, 0}}. Query 0 scores (1, 0) / sqrt(2);
    // query 1 is zero and scores both keys 0, so it splits its weight evenly.
    const double a = 1.0 / (1.0 + std::exp(-1.0 / std::sqrt(2.0)));  // 0.6698
    EXPECT_TRUE(matrices_near(result.weights[0], Matrix{{a, 1 - a}, {0.5, 0.5}}, 1e-15));
    EXPECT_TRUE(matrices_near(result.outputs[0], Matrix{{a, 0}, {0.5, 0}}, 1e-15));
    // Head 1: Q = K = V = {{0, 0}, {0, 2}}. Now query 0 is the zero one, and
    // query 1 scores (0, 4) / sqrt(2) = (0, 2·sqrt(2)).
    const double b = 1.0 / (1.0 + std::exp(-2.0 * std::sqrt(2.0)));  // 0.9442
    EXPECT_TRUE(matrices_near(result.weights[1], Matrix{{0.5, 0.5}, {1 - b, b}}, 1e-15));
    EXPECT_TRUE(matrices_near(result.outputs[1], Matrix{{0, 1}, {0, 2 * b}}, 1e-15));
}

// ---- Properties ----

TEST(AttentionHeads, EveryHeadHasProjectionsOfDkByDModelAndGivesLByDkAndLByL) {
    RandomGenerator random(3);
    const AttentionHeads heads = mha::random_attention_heads(12, 3, true, random);  // d_k = 4
    ASSERT_EQ(heads.heads.size(), 3u);
    for (const SelfAttention& head : heads.heads) {
        for (const Linear* projection : {&head.query_projection, &head.key_projection, &head.value_projection}) {
            EXPECT_EQ(mha::shape_string(projection->weight), "(4, 12)");
            EXPECT_EQ(mha::shape_string(projection->bias), "(4)");
            EXPECT_EQ(xt::amax(xt::abs(projection->bias))(), 0.0);  // zero-initialised
        }
    }
    EXPECT_EQ(mha::shape_string(mha::random_attention_heads(12, 3, false, random).heads[2].value_projection.bias),
              "(0)");

    const auto result = heads.forward(varied(5, 12, 0.4));  // L = 5
    ASSERT_EQ(result.outputs.size(), 3u);
    ASSERT_EQ(result.weights.size(), 3u);
    for (std::size_t h = 0; h < 3; ++h) {
        EXPECT_EQ(mha::shape_string(result.outputs[h]), "(5, 4)") << "head " << h;  // (L, d_k)
        EXPECT_EQ(mha::shape_string(result.weights[h]), "(5, 5)") << "head " << h;  // (L, L)
        for (std::size_t i = 0; i < 5; ++i) {
            EXPECT_NEAR(xt::sum(xt::row(result.weights[h], i))(), 1.0, 1e-14) << "head " << h << ", row " << i;
        }
    }
}

TEST(AttentionHeads, ChangingOneHeadsWeightsLeavesTheOtherHeadsBitForBit) {
    RandomGenerator random(11);
    const AttentionHeads heads = mha::random_attention_heads(12, 3, true, random);
    const Matrix X = varied(5, 12, 1.3);
    const auto before = heads.forward(X);

    AttentionHeads changed = heads;
    changed.heads[1].query_projection.weight(0, 0) += 0.5;  // head 1's W_q and W_v only
    changed.heads[1].value_projection.weight(1, 3) -= 0.5;
    const auto after = changed.forward(X);

    for (const std::size_t h : {0, 2}) {
        EXPECT_TRUE(matrices_near(after.outputs[h], before.outputs[h], 0.0)) << "head " << h;
        EXPECT_TRUE(matrices_near(after.weights[h], before.weights[h], 0.0)) << "head " << h;
    }
    EXPECT_GT(max_difference(after.weights[1], before.weights[1]), 1e-3);
    EXPECT_GT(max_difference(after.outputs[1], before.outputs[1]), 1e-3);
}

TEST(AttentionHeads, OneHeadIsLessonTwosSelfAttention) {
    RandomGenerator random(5);
    SelfAttention head = mha::random_self_attention(8, 8, 8, true, random);
    for (Linear* projection : {&head.query_projection, &head.key_projection, &head.value_projection}) {
        for (double& b : projection->bias) {
            b = random.uniform(-0.5, 0.5);  // non-zero biases, so that they are exercised too
        }
    }
    AttentionHeads one;
    one.heads.push_back(head);
    const Matrix X = varied(6, 8, 2.1);

    const auto heads_result = one.forward(X);
    const auto lesson_two = head.forward(X);
    ASSERT_EQ(heads_result.outputs.size(), 1u);
    EXPECT_TRUE(matrices_near(heads_result.outputs[0], lesson_two.output, 0.0));
    EXPECT_TRUE(matrices_near(heads_result.weights[0], lesson_two.weights, 0.0));

    const BoolMatrix causal = mha::causal_mask(6, 6);
    EXPECT_TRUE(matrices_near(one.forward(X, causal).outputs[0], head.forward(X, causal).output, 0.0));

    // random_attention_heads with H = 1 makes one full-width head: d_k = d_model.
    EXPECT_EQ(mha::shape_string(mha::random_attention_heads(8, 1, false, random).heads[0].key_projection.weight),
              "(8, 8)");
}

TEST(AttentionHeads, TheSameSeedGivesTheSameHeadsAndTheHeadsDifferFromEachOther) {
    RandomGenerator first(42), second(42);
    const AttentionHeads a = mha::random_attention_heads(8, 2, false, first);
    const AttentionHeads b = mha::random_attention_heads(8, 2, false, second);
    const Matrix X = varied(4, 8, 0.9);
    const auto ra = a.forward(X), rb = b.forward(X);
    for (std::size_t h = 0; h < 2; ++h) {
        EXPECT_TRUE(matrices_near(ra.weights[h], rb.weights[h], 0.0)) << "head " << h;
    }
    // Each head draws its own projections, so the two heads look at the sentence differently.
    EXPECT_GT(max_difference(a.heads[0].query_projection.weight, a.heads[1].query_projection.weight), 1e-3);
    EXPECT_GT(max_difference(ra.weights[0], ra.weights[1]), 1e-3);
}

// ---- Masks ----

TEST(AttentionHeadsMask, CausalMaskHidesTheFutureInEveryHead) {
    RandomGenerator random(8);
    AttentionHeads heads = mha::random_attention_heads(6, 3, true, random);  // d_k = 2
    for (SelfAttention& head : heads.heads) {
        for (double& b : head.value_projection.bias) {
            b = random.uniform(-1.0, 1.0);
        }
    }
    const Matrix X = varied(4, 6, 0.2);
    const auto masked = heads.forward(X, mha::causal_mask(4, 4));
    const auto unmasked = heads.forward(X);
    ASSERT_EQ(masked.weights.size(), 3u);
    for (std::size_t h = 0; h < 3; ++h) {
        const Matrix& w = masked.weights[h];
        for (std::size_t i = 0; i < 4; ++i) {
            for (std::size_t j = i + 1; j < 4; ++j) {
                EXPECT_EQ(w(i, j), 0.0) << "head " << h << ": query " << i << " saw future key " << j;
            }
        }
        // Query 0 sees only itself, so its output is its own value v_0 = x_0 W_vᵀ + b_v.
        EXPECT_EQ(w(0, 0), 1.0) << "head " << h;
        const Linear& W_v = heads.heads[h].value_projection;
        for (std::size_t p = 0; p < 2; ++p) {
            double v = W_v.bias(p);
            for (std::size_t c = 0; c < 6; ++c) {
                v += X(0, c) * W_v.weight(p, c);
            }
            EXPECT_NEAR(masked.outputs[h](0, p), v, 1e-15) << "head " << h;
        }
        // The last query already saw everything: the mask changes nothing there.
        for (std::size_t p = 0; p < 2; ++p) {
            EXPECT_NEAR(masked.outputs[h](3, p), unmasked.outputs[h](3, p), 1e-15) << "head " << h;
        }
    }
}

TEST(AttentionHeadsErrors, MaskOfTheWrongShapeOrNoHeads) {
    RandomGenerator random(1);
    const AttentionHeads heads = mha::random_attention_heads(6, 2, false, random);
    const Matrix X = varied(4, 6, 0.0);
    const BoolMatrix too_wide = xt::zeros<bool>({4, 5});
    expect_contains(thrown_message([&] { heads.forward(X, too_wide); }),
                    {"AttentionHeads::forward", "mask is (4, 5)", "X is (4, 6)", "(L, L)"});
    const BoolMatrix too_small = xt::zeros<bool>({3, 3});
    expect_contains(thrown_message([&] { heads.forward(X, too_small); }), {"mask is (3, 3)"});

    const AttentionHeads none;
    expect_contains(thrown_message([&] { none.forward(X); }), {"no heads"});
    expect_contains(thrown_message([&] { none.forward(X, mha::causal_mask(4, 4)); }), {"no heads"});
}

TEST(AttentionHeadsErrors, DModelNotDivisibleByTheNumberOfHeads) {
    RandomGenerator random(0);
    const std::string message = thrown_message([&] { mha::random_attention_heads(6, 4, false, random); });
    expect_contains(message, {"random_attention_heads", "6", "4 heads", "multiple of the number of heads"});
    expect_contains(thrown_message([&] { mha::random_attention_heads(6, 0, false, random); }),
                    {"random_attention_heads", "0 heads"});
}

}  // namespace

// ---- attend_each_head: the step every multi-head form shares ----

namespace {

TEST(AttendEachHead, HeadHAttendsWithItsOwnColumnsAndItsOwnMask) {
    const std::size_t L = 3, S = 4, H = 2, d_k = 3;
    const Matrix Q = varied(L, H * d_k, 0.1), K = varied(S, H * d_k, 0.2), V = varied(S, H * d_k, 0.3);
    // Head 0 may not see key 1; head 1 sees everything but query 2 may not see key 0.
    Matrix mask0 = xt::zeros<double>({L, S}), mask1 = xt::zeros<double>({L, S});
    xt::view(mask0, xt::all(), 1) = -std::numeric_limits<double>::infinity();
    mask1(2, 0) = -std::numeric_limits<double>::infinity();
    const mha::HeadsResult result = mha::attend_each_head(Q, K, V, H, {mask0, mask1});
    ASSERT_EQ(result.outputs.size(), H);
    const Matrix masks[] = {mask0, mask1};
    for (std::size_t h = 0; h < H; ++h) {
        // Lesson 1's attention on the head's own d_k columns, cut here by hand.
        const std::size_t first = h * d_k, last = (h + 1) * d_k;
        const Matrix Q_h = xt::view(Q, xt::all(), xt::range(first, last));
        const Matrix K_h = xt::view(K, xt::all(), xt::range(first, last));
        const Matrix V_h = xt::view(V, xt::all(), xt::range(first, last));
        const auto expected = mha::scaled_dot_product_attention(Q_h, K_h, V_h, masks[h]);
        EXPECT_TRUE(matrices_near(result.weights[h], expected.weights, 0.0)) << "head " << h;
        EXPECT_TRUE(matrices_near(result.outputs[h], expected.output, 0.0)) << "head " << h;
    }
    EXPECT_EQ(result.weights[0](0, 1), 0.0);  // the masks really reached their heads
    EXPECT_EQ(result.weights[1](2, 0), 0.0);
    EXPECT_GT(result.weights[1](0, 1), 0.0);
}

TEST(AttendEachHead, MasksMustBeOnePerHead) {
    const Matrix X = varied(2, 4, 0.0);
    const Matrix mask = xt::zeros<double>({2, 2});
    expect_contains(thrown_message([&] { mha::attend_each_head(X, X, X, 2, {mask}); }),
                    {"attend_each_head", "1 masks for 2 heads"});
    expect_contains(thrown_message([&] { mha::attend_each_head(X, X, X, 3); }), {"4 columns", "3 heads"});
}

}  // namespace
