// Lesson 3 tests: PyTorch's packed projection. One in_proj_weight of shape
// (3·d_model, d_model) holds W_q, W_k and W_v of every head; cutting it into
// row blocks must give separate heads that compute exactly the same thing.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "reference/packed_projection.hpp"
#include "reference/linear.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

using mha::testing::expect_contains;

using mha::AttentionHeads;
using mha::HeadsResult;
using mha::Linear;
using mha::Matrix;
using mha::RandomGenerator;
using mha::Vector;
using mha::testing::matrices_near;
using mha::testing::varied;
using mha::testing::thrown_message;

void expect_same_heads(const HeadsResult& actual, const HeadsResult& expected, double tolerance) {
    ASSERT_EQ(actual.outputs.size(), expected.outputs.size());
    ASSERT_EQ(actual.weights.size(), expected.weights.size());
    for (std::size_t h = 0; h < expected.outputs.size(); ++h) {
        EXPECT_TRUE(matrices_near(actual.outputs[h], expected.outputs[h], tolerance)) << "head " << h;
        EXPECT_TRUE(matrices_near(actual.weights[h], expected.weights[h], tolerance)) << "head " << h;
    }
}

// A random packed projection (3·d_model, d_model), with a random non-zero bias or none.
Linear random_packed(std::size_t d_model, bool with_bias, std::uint64_t seed) {
    RandomGenerator random(seed);
    Linear packed = mha::xavier_uniform_linear(d_model, 3 * d_model, with_bias, random);
    for (double& b : packed.bias) {
        b = random.uniform(-0.5, 0.5);
    }
    return packed;
}

TEST(HeadsFromPackedProjection, HeadWeightsAreTheRightRowBlocks) {
    // d_model = 6, H = 3, d_k = 2. Entry (r, c) of the packed weight is 100·r + c
    // and bias entry r is 1000 + r, so every number says which row it came from.
    Linear packed{xt::zeros<double>({18, 6}), Vector(xt::zeros<double>({18}))};
    for (std::size_t r = 0; r < 18; ++r) {
        for (std::size_t c = 0; c < 6; ++c) {
            packed.weight(r, c) = 100.0 * r + c;
        }
        packed.bias(r) = 1000.0 + r;
    }
    const AttentionHeads heads = mha::heads_from_packed_projection(packed, 3);
    ASSERT_EQ(heads.heads.size(), 3u);
    for (const auto& head : heads.heads) {
        EXPECT_EQ(mha::shape_string(head.query_projection.weight), "(2, 6)");
        EXPECT_EQ(mha::shape_string(head.value_projection.bias), "(2)");
    }
    // W_q of head h is packed row h·d_k + p; W_k adds d_model = 6; W_v adds 2·d_model = 12.
    EXPECT_EQ(heads.heads[0].query_projection.weight(1, 5), 105.0);  // row 0 + 0·2 + 1 = 1
    EXPECT_EQ(heads.heads[2].query_projection.weight(0, 0), 400.0);  // row 0 + 2·2 + 0 = 4
    EXPECT_EQ(heads.heads[1].key_projection.weight(0, 3), 803.0);    // row 6 + 1·2 + 0 = 8
    EXPECT_EQ(heads.heads[0].key_projection.weight(1, 1), 701.0);    // row 6 + 0·2 + 1 = 7
    EXPECT_EQ(heads.heads[2].value_projection.weight(1, 0), 1700.0);  // row 12 + 2·2 + 1 = 17
    EXPECT_EQ(heads.heads[1].value_projection.weight(0, 2), 1402.0);  // row 12 + 1·2 + 0 = 14
    EXPECT_EQ(heads.heads[1].query_projection.bias(0), 1002.0);
    EXPECT_EQ(heads.heads[2].key_projection.bias(1), 1011.0);
    EXPECT_EQ(heads.heads[2].value_projection.bias(1), 1017.0);

    // Without a bias, no head has one.
    packed.bias = xt::zeros<double>({0});
    EXPECT_FALSE(mha::heads_from_packed_projection(packed, 3).heads[1].key_projection.has_bias());
}

TEST(PackedHeads, SeparateHeadsCutFromThePackedMatrixGiveThePackedResultWithoutBias) {
    const Linear packed = random_packed(8, false, 21);
    const Matrix X = varied(5, 8, 0.3);  // (L = 5, d_model = 8)
    for (const std::size_t H : {1, 2, 4, 8}) {
        const HeadsResult packed_result = mha::packed_heads_forward(packed, H, X);
        ASSERT_EQ(packed_result.outputs.size(), H);
        EXPECT_EQ(mha::shape_string(packed_result.outputs[0]), "(5, " + std::to_string(8 / H) + ")");
        EXPECT_EQ(mha::shape_string(packed_result.weights[H - 1]), "(5, 5)");
        SCOPED_TRACE("H = " + std::to_string(H));
        expect_same_heads(mha::heads_from_packed_projection(packed, H).forward(X), packed_result, 1e-13);
    }
}

TEST(PackedHeads, SeparateHeadsCutFromThePackedMatrixGiveThePackedResultWithBias) {
    const Linear packed = random_packed(6, true, 22);
    ASSERT_NE(packed.bias(7), 0.0);
    const Matrix X = varied(4, 6, 1.7);
    for (const std::size_t H : {2, 3}) {
        SCOPED_TRACE("H = " + std::to_string(H));
        expect_same_heads(mha::heads_from_packed_projection(packed, H).forward(X),
                          mha::packed_heads_forward(packed, H, X), 1e-13);
    }
}

TEST(PackedHeads, SeparateProjectionsStackedIntoOneMatrixGiveTheSameHeads) {
    // The other direction: H separate heads, their weights stacked the way
    // PyTorch stores them, must equal one packed projection split into heads.
    const std::size_t d_model = 8, H = 4, d_k = 2;
    RandomGenerator random(23);
    mha::AttentionHeads heads = mha::random_attention_heads(d_model, H, true, random);
    Linear packed{xt::zeros<double>({3 * d_model, d_model}), Vector(xt::zeros<double>({3 * d_model}))};
    for (std::size_t h = 0; h < H; ++h) {
        Linear* projections[] = {&heads.heads[h].query_projection, &heads.heads[h].key_projection,
                                 &heads.heads[h].value_projection};
        for (std::size_t part = 0; part < 3; ++part) {  // 0: Q, 1: K, 2: V
            for (std::size_t p = 0; p < d_k; ++p) {
                const std::size_t row = part * d_model + h * d_k + p;
                projections[part]->bias(p) = random.uniform(-1.0, 1.0);
                packed.bias(row) = projections[part]->bias(p);
                for (std::size_t c = 0; c < d_model; ++c) {
                    packed.weight(row, c) = projections[part]->weight(p, c);
                }
            }
        }
    }
    const Matrix X = varied(6, d_model, 0.8);
    expect_same_heads(mha::packed_heads_forward(packed, H, X), heads.forward(X), 1e-13);
}

TEST(PackedHeadsForward, MatchesAttentionWrittenOutWithLoops) {
    // d_model = 4, H = 2, d_k = 2, L = 3: every step written as plain loops here.
    const std::size_t E = 4, H = 2, d_k = 2, L = 3;
    Linear packed{xt::zeros<double>({3 * E, E}), Vector(xt::zeros<double>({3 * E}))};
    for (std::size_t r = 0; r < 3 * E; ++r) {
        for (std::size_t c = 0; c < E; ++c) {
            packed.weight(r, c) = 0.8 * std::sin(0.3 + 0.7 * r + 1.1 * c);
        }
        packed.bias(r) = 0.1 * std::cos(static_cast<double>(r));
    }
    const Matrix X = varied(L, E, 0.5);

    // QKV = X Wᵀ + b: (L, 3E). Columns [0, E) are Q, [E, 2E) K, [2E, 3E) V.
    double QKV[L][3 * E];
    for (std::size_t i = 0; i < L; ++i) {
        for (std::size_t o = 0; o < 3 * E; ++o) {
            QKV[i][o] = packed.bias(o);
            for (std::size_t c = 0; c < E; ++c) {
                QKV[i][o] += X(i, c) * packed.weight(o, c);
            }
        }
    }
    const HeadsResult result = mha::packed_heads_forward(packed, H, X);
    ASSERT_EQ(result.outputs.size(), H);
    for (std::size_t h = 0; h < H; ++h) {
        Matrix weights = xt::zeros<double>({L, L}), output = xt::zeros<double>({L, d_k});
        for (std::size_t i = 0; i < L; ++i) {
            double exps[L], total = 0.0;
            for (std::size_t j = 0; j < L; ++j) {
                double score = 0.0;  // q_i · k_j over head h's columns
                for (std::size_t p = 0; p < d_k; ++p) {
                    score += QKV[i][h * d_k + p] * QKV[j][E + h * d_k + p];
                }
                exps[j] = std::exp(score / std::sqrt(static_cast<double>(d_k)));
                total += exps[j];
            }
            for (std::size_t j = 0; j < L; ++j) {
                weights(i, j) = exps[j] / total;
                for (std::size_t p = 0; p < d_k; ++p) {
                    output(i, p) += weights(i, j) * QKV[j][2 * E + h * d_k + p];
                }
            }
        }
        EXPECT_TRUE(matrices_near(result.weights[h], weights, 1e-14)) << "head " << h;
        EXPECT_TRUE(matrices_near(result.outputs[h], output, 1e-14)) << "head " << h;
    }
}

TEST(PackedHeadsErrors, WrongShapesAndHeadCounts) {
    const Matrix X = varied(3, 4, 0.0);
    const Linear two_blocks{varied(8, 4, 0.1), Vector(xt::zeros<double>({0}))};  // (2·d_model, d_model)
    expect_contains(thrown_message([&] { mha::heads_from_packed_projection(two_blocks, 2); }),
                    {"heads_from_packed_projection", "(8, 4)", "(3·d_model, d_model)"});
    expect_contains(thrown_message([&] { mha::packed_heads_forward(two_blocks, 2, X); }),
                    {"packed_heads_forward", "(8, 4)", "(3·d_model, d_model)"});

    const Linear short_bias{varied(12, 4, 0.2), Vector(xt::zeros<double>({5}))};
    expect_contains(thrown_message([&] { mha::heads_from_packed_projection(short_bias, 2); }),
                    {"(12, 4)", "bias (5)"});
    thrown_message([&] { mha::packed_heads_forward(short_bias, 2, X); });

    const Linear packed{varied(12, 4, 0.3), Vector(xt::zeros<double>({0}))};
    expect_contains(thrown_message([&] { mha::heads_from_packed_projection(packed, 3); }),
                    {"heads_from_packed_projection", "4 columns", "3 heads"});
    expect_contains(thrown_message([&] { mha::packed_heads_forward(packed, 3, X); }), {"4 columns", "3 heads"});
    thrown_message([&] { mha::packed_heads_forward(packed, 0, X); });
    // X must have d_model columns.
    thrown_message([&] { mha::packed_heads_forward(packed, 2, varied(3, 5, 0.0)); });
}

}  // namespace

// ---- The packed layout itself: split_packed_projection, stack_projections, the biases ----

namespace {

// A layer whose every entry says where it stands: weight(o, i) = 100·o + i, bias(o) = -o.
Linear numbered_layer(std::size_t out, std::size_t in, bool with_bias) {
    Linear layer;
    layer.weight = xt::zeros<double>({out, in});
    for (std::size_t o = 0; o < out; ++o) {
        for (std::size_t i = 0; i < in; ++i) {
            layer.weight(o, i) = 100.0 * static_cast<double>(o) + static_cast<double>(i);
        }
    }
    layer.bias = xt::zeros<double>({with_bias ? out : std::size_t{0}});
    for (std::size_t o = 0; o < layer.bias.size(); ++o) {
        layer.bias(o) = -static_cast<double>(o);
    }
    return layer;
}

TEST(PackedLayout, SplitTakesRowBlocksInTheOrderQueryKeyValue) {
    const std::size_t E = 4;
    const Linear packed = numbered_layer(3 * E, E, true);  // (12, 4), rows 0..11
    const mha::QueryKeyValueProjections parts = mha::split_packed_projection(packed);
    const Linear* blocks[] = {&parts.query, &parts.key, &parts.value};
    for (std::size_t part = 0; part < 3; ++part) {
        ASSERT_EQ(blocks[part]->weight.shape(0), E);
        ASSERT_EQ(blocks[part]->weight.shape(1), E);
        ASSERT_EQ(blocks[part]->bias.size(), E);
        for (std::size_t o = 0; o < E; ++o) {
            // Row o of part p is row p·E + o of the packed matrix: its entries start at 100·(p·E + o).
            EXPECT_EQ(blocks[part]->weight(o, 2), 100.0 * static_cast<double>(part * E + o) + 2.0);
            EXPECT_EQ(blocks[part]->bias(o), -static_cast<double>(part * E + o));
        }
    }
}

TEST(PackedLayout, StackIsTheInverseOfSplitWithAndWithoutBias) {
    for (const bool with_bias : {true, false}) {
        const Linear packed = numbered_layer(9, 3, with_bias);
        const Linear again = mha::stack_projections(mha::split_packed_projection(packed));
        EXPECT_EQ(again.weight, packed.weight);
        EXPECT_EQ(again.bias, packed.bias);
        EXPECT_EQ(mha::stack_biases(mha::split_packed_projection(packed)), packed.bias);
    }
}

TEST(PackedLayout, PackedBiasesGoToTheirLayersWhateverTheInputWidths) {
    // kdim = 5 and vdim = 2: the weights cannot be stacked, but PyTorch still packs the biases.
    mha::QueryKeyValueProjections parts{numbered_layer(3, 3, false), numbered_layer(3, 5, false),
                                        numbered_layer(3, 2, false)};
    const Vector packed_bias = {1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0};
    mha::set_packed_biases(parts, packed_bias);
    EXPECT_EQ(parts.query.bias, (Vector{1.0, 2.0, 3.0}));
    EXPECT_EQ(parts.key.bias, (Vector{4.0, 5.0, 6.0}));
    EXPECT_EQ(parts.value.bias, (Vector{7.0, 8.0, 9.0}));
    EXPECT_EQ(mha::stack_biases(parts), packed_bias);
    mha::set_packed_biases(parts, Vector(xt::zeros<double>({0})));
    EXPECT_FALSE(parts.key.has_bias());
}

TEST(PackedLayout, WrongShapesAreNamed) {
    expect_contains(thrown_message([] { mha::split_packed_projection(numbered_layer(8, 4, false)); }),
                    {"split_packed_projection", "(8, 4)", "(3·d_model, d_model)"});
    const mha::QueryKeyValueProjections uneven{numbered_layer(3, 3, true), numbered_layer(3, 5, true),
                                               numbered_layer(3, 3, true)};
    expect_contains(thrown_message([&] { mha::stack_projections(uneven); }), {"stack_projections", "(3, 5)"});
    const mha::QueryKeyValueProjections some_bias{numbered_layer(3, 3, true), numbered_layer(3, 3, false),
                                                  numbered_layer(3, 3, true)};
    expect_contains(thrown_message([&] { mha::stack_biases(some_bias); }), {"stack_biases", "all be (E)"});
    mha::QueryKeyValueProjections parts = some_bias;
    expect_contains(thrown_message([&] { mha::set_packed_biases(parts, Vector(xt::zeros<double>({4}))); }),
                    {"in_proj_bias is (4)", "(9)"});
    expect_contains(thrown_message([] { mha::output_rows(numbered_layer(3, 2, false), 2, 2); }),
                    {"output_rows", "[2, 4)", "(3, 2)"});
}

}  // namespace
