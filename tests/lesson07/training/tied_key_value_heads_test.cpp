// Lesson 7 tests: training with grouped key/value heads as tied rows of W_k and
// W_v (src/decode/tied_key_value_heads.hpp). The index mapping and the sums are
// checked by hand; the summed gradient against central differences of the loss
// with every tied copy moved together, the gradient of the one shared parameter.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "decode/tied_key_value_heads.hpp"
#include "lesson06/gradient_check.hpp"
#include "test_helpers.hpp"
#include "train/trainer.hpp"
#include "train/training_step.hpp"
#include "train/training_tasks.hpp"

namespace {

using mha::Task;

// A 2-layer causal model with H = 4 heads of d_k = 2 (d_model 8), for sequences of 16 of 16 ids.
mha::AttentionOnlyTransformer small_model(std::uint64_t seed) {
    mha::RandomGenerator random(seed);
    return mha::random_attention_only_transformer(16, 16, 8, 2, 4, /*causal=*/true, random);
}

// Rows of W_k and W_v that say where they came from: entry (r, c) = ±(10 r + c).
void number_the_rows(mha::AttentionOnlyTransformer& model) {
    for (mha::MultiHeadAttention& layer : model.layers) {
        for (std::size_t r = 0; r < 8; ++r) {
            for (std::size_t c = 0; c < 8; ++c) {
                layer.key_projection.weight(r, c) = 10.0 * static_cast<double>(r) + static_cast<double>(c);
                layer.value_projection.weight(r, c) = -(10.0 * static_cast<double>(r) + static_cast<double>(c));
            }
        }
    }
}

// The row of the untied weights each row should hold after tying, written out by hand (d_k = 2).
void expect_rows_from(const mha::AttentionOnlyTransformer& model, const std::vector<std::size_t>& source_rows) {
    for (const mha::MultiHeadAttention& layer : model.layers) {
        for (std::size_t r = 0; r < 8; ++r) {
            for (std::size_t c = 0; c < 8; ++c) {
                const double expected = 10.0 * static_cast<double>(source_rows[r]) + static_cast<double>(c);
                EXPECT_EQ(layer.key_projection.weight(r, c), expected) << "W_k row " << r << " column " << c;
                EXPECT_EQ(layer.value_projection.weight(r, c), -expected) << "W_v row " << r << " column " << c;
            }
        }
    }
}

TEST(TieKeyValueHeads, CopiesTheFirstHeadsRowsIntoItsGroup) {
    mha::AttentionOnlyTransformer model = small_model(1);
    number_the_rows(model);
    EXPECT_FALSE(mha::key_value_groups_are_tied(model, 2));
    EXPECT_TRUE(mha::key_value_groups_are_tied(model, 4)) << "with G = H every head is its own group";
    const mha::Matrix query = model.layers[0].query_projection.weight;
    const mha::Matrix output = model.layers[1].output_projection.weight;

    mha::AttentionOnlyTransformer two_groups = model;
    mha::tie_key_value_heads(two_groups, 2);
    // H = 4, G = 2, d_k = 2: heads 0 and 1 (rows 0-3) take head 0's rows 0, 1; heads 2 and 3 (rows 4-7) take head 2's rows 4, 5.
    expect_rows_from(two_groups, {0, 1, 0, 1, 4, 5, 4, 5});
    EXPECT_TRUE(mha::key_value_groups_are_tied(two_groups, 2));
    EXPECT_FALSE(mha::key_value_groups_are_tied(two_groups, 1));
    EXPECT_TRUE(two_groups.layers[0].query_projection.weight == query) << "W_q is not shared";
    EXPECT_TRUE(two_groups.layers[1].output_projection.weight == output) << "W_o is not shared";

    mha::AttentionOnlyTransformer one_group = model;
    mha::tie_key_value_heads(one_group, 1);
    expect_rows_from(one_group, {0, 1, 0, 1, 0, 1, 0, 1});  // every head takes head 0's rows
    EXPECT_TRUE(mha::key_value_groups_are_tied(one_group, 1));

    one_group.layers[1].value_projection.weight(6, 3) += 1e-12;  // one entry of one copy, in the last layer
    EXPECT_FALSE(mha::key_value_groups_are_tied(one_group, 1)) << "the check must be exact";
}

TEST(TieKeyValueGradients, SumsTheRowsOfEachGroup) {
    mha::AttentionOnlyTransformer gradients = small_model(2);
    for (mha::MultiHeadAttention& layer : gradients.layers) {
        for (std::size_t r = 0; r < 8; ++r) {
            layer.key_projection.weight(r, 0) = static_cast<double>(r / 2 + 1);         // head h: h + 1
            layer.value_projection.weight(r, 0) = 0.5 * static_cast<double>(r / 2 + 1);  // head h: (h + 1) / 2
        }
    }
    const mha::Matrix query = gradients.layers[0].query_projection.weight;
    mha::AttentionOnlyTransformer two_groups = gradients, one_group = gradients;
    mha::tie_key_value_gradients(two_groups, 2);
    mha::tie_key_value_gradients(one_group, 1);
    // G = 2: heads 0, 1 get 1 + 2 = 3, heads 2, 3 get 3 + 4 = 7. G = 1: all get 1 + 2 + 3 + 4 = 10.
    const double two[] = {3, 3, 3, 3, 7, 7, 7, 7};
    for (std::size_t l = 0; l < 2; ++l) {
        for (std::size_t r = 0; r < 8; ++r) {
            EXPECT_EQ(two_groups.layers[l].key_projection.weight(r, 0), two[r]) << "layer " << l << " row " << r;
            EXPECT_EQ(two_groups.layers[l].value_projection.weight(r, 0), 0.5 * two[r]);
            EXPECT_EQ(one_group.layers[l].key_projection.weight(r, 0), 10.0);
            EXPECT_EQ(one_group.layers[l].value_projection.weight(r, 0), 5.0);
        }
    }
    EXPECT_TRUE(two_groups.layers[0].query_projection.weight == query);
}

// The loss of one fixed batch of induction sequences, as the trainer computes it.
struct FixedBatch {
    mha::TaskBatch batch;
    explicit FixedBatch(std::uint64_t seed) {
        mha::RandomGenerator random(seed);
        std::vector<mha::InductionSequence> sequences;
        for (int b = 0; b < 3; ++b) {
            sequences.push_back(mha::random_induction_sequence(random));
        }
        batch = mha::induction_batch(sequences);
    }
    double loss(const mha::AttentionOnlyTransformer& model) const {
        mha::TrainingStep step(model, batch.tokens.size(), batch.tokens.front().size());
        return step.forward_backward(model, batch.tokens, batch.targets, batch.counted);
    }
};

// A tied model's loss depends on each group's rows once: moving one entry of the shared
// rows means moving it in every head of the group. Its derivative, by central
// differences, must be the summed gradient; one head's own gradient must not do.
void check_tied_gradient_against_finite_differences(std::size_t G) {
    SCOPED_TRACE("G = " + std::to_string(G));
    constexpr std::size_t H = 4, head_dim = 2, E = 8;
    mha::AttentionOnlyTransformer model = small_model(5);
    mha::tie_key_value_heads(model, G);
    const FixedBatch data(6);
    mha::TrainingStep step(model, data.batch.tokens.size(), data.batch.tokens.front().size());
    step.forward_backward(model, data.batch.tokens, data.batch.targets, data.batch.counted);
    mha::AttentionOnlyTransformer untied = step.gradients();
    mha::AttentionOnlyTransformer tied = untied;
    mha::tie_key_value_gradients(tied, G);

    const auto projection = [](mha::AttentionOnlyTransformer& m, std::size_t layer, bool key) -> mha::Matrix& {
        return key ? m.layers[layer].key_projection.weight : m.layers[layer].value_projection.weight;
    };
    for (std::size_t layer = 0; layer < 2; ++layer) {
        for (const bool key : {true, false}) {
            SCOPED_TRACE(std::string(key ? "W_k" : "W_v") + " of layer " + std::to_string(layer));
            // The shared parameter: (G·d_k, E), row g·d_k + r is row r of group g.
            mha::Matrix shared = xt::zeros<double>({G * head_dim, E});
            mha::Matrix summed = shared, first_head_only = shared;
            for (std::size_t g = 0; g < G; ++g) {
                const std::size_t first_head = g * (H / G);
                for (std::size_t r = 0; r < head_dim; ++r) {
                    for (std::size_t c = 0; c < E; ++c) {
                        shared(g * head_dim + r, c) = projection(model, layer, key)(first_head * head_dim + r, c);
                        summed(g * head_dim + r, c) = projection(tied, layer, key)(first_head * head_dim + r, c);
                        first_head_only(g * head_dim + r, c) =
                            projection(untied, layer, key)(first_head * head_dim + r, c);
                    }
                }
            }
            // The loss as a function of the shared parameter: written into every head of each group.
            const std::function<double(const mha::Matrix&)> loss_of_shared = [&](const mha::Matrix& values) {
                mha::AttentionOnlyTransformer moved = model;
                for (std::size_t h = 0; h < H; ++h) {
                    const std::size_t g = h * G / H;  // by hand: heads 0-1 → 0 and 2-3 → 1 (G = 2), all → 0 (G = 1)
                    for (std::size_t r = 0; r < head_dim; ++r) {
                        for (std::size_t c = 0; c < E; ++c) {
                            projection(moved, layer, key)(h * head_dim + r, c) = values(g * head_dim + r, c);
                        }
                    }
                }
                return data.loss(moved);
            };
            const mha::Matrix numerical = mha::testing::numerical_gradient(shared, loss_of_shared);
            EXPECT_TRUE(mha::testing::gradients_agree(summed, numerical));
            EXPECT_FALSE(mha::testing::gradients_agree(first_head_only, numerical))
                << "one head's own gradient should not be the shared parameter's";
        }
    }
}

TEST(TieKeyValueGradients, AreTheFiniteDifferenceGradientOfTheSharedParameter) {
    check_tied_gradient_against_finite_differences(2);
    check_tied_gradient_against_finite_differences(1);
}

mha::TrainingOptions short_training(std::size_t heads, std::size_t steps) {
    mha::TrainingOptions options = mha::default_options(Task::induction);
    options.heads = heads;
    options.d_model = 8;
    options.steps = steps;
    options.batch = 8;
    options.seed = 4;
    return options;
}

TEST(TrainingWithKeyValueGroups, KeepsTheRowsTiedExactlyAfterEveryStep) {
    for (const std::size_t G : {std::size_t{2}, std::size_t{1}}) {
        SCOPED_TRACE("G = " + std::to_string(G));
        mha::TrainingOptions options = short_training(4, 40);
        mha::train_with_key_value_groups(options, G);
        const mha::TrainingResult result = mha::train(options);
        EXPECT_TRUE(mha::key_value_groups_are_tied(result.initial_model, G));
        EXPECT_TRUE(mha::key_value_groups_are_tied(result.model, G));
        if (G > 1) {  // tied in G groups means tied in any finer grouping too, but not in a coarser one
            EXPECT_FALSE(mha::key_value_groups_are_tied(result.model, 1)) << "the G groups must stay apart";
        }
        // Trained: the rows moved, and the query heads of a group still differ.
        EXPECT_FALSE(result.model.layers[0].key_projection.weight == result.initial_model.layers[0].key_projection.weight);
        EXPECT_FALSE(xt::view(result.model.layers[0].query_projection.weight, xt::range(0, 2), xt::all()) ==
                     xt::view(result.model.layers[0].query_projection.weight, xt::range(2, 4), xt::all()));
    }
}

TEST(TrainingWithKeyValueGroups, TiedStartAloneComesApartWithoutTiedGradients) {
    // The tied gradients are what keeps the rows equal: tying only the start is not enough.
    mha::TrainingOptions options = short_training(4, 5);
    mha::train_with_key_value_groups(options, 2);
    options.constrain_gradients = nullptr;
    const mha::TrainingResult result = mha::train(options);
    EXPECT_TRUE(mha::key_value_groups_are_tied(result.initial_model, 2));
    EXPECT_FALSE(mha::key_value_groups_are_tied(result.model, 2));
}

TEST(TrainingWithKeyValueGroups, WithGEqualToHIsLessonSixBitForBit) {
    const mha::TrainingOptions plain = short_training(2, 30);
    mha::TrainingOptions grouped = plain;
    mha::train_with_key_value_groups(grouped, 2);
    ASSERT_TRUE(grouped.constrain_initial_model && grouped.constrain_gradients);
    const mha::TrainingResult first = mha::train(plain), second = mha::train(grouped);
    EXPECT_EQ(first.losses, second.losses);  // exactly equal, not nearly
    const auto a = first.model.parameters(), b = second.model.parameters();
    ASSERT_EQ(a.size(), b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_TRUE(*a[i] == *b[i]) << "parameter " << i;
    }
    // The same check can fail: with G = 1 the numbers change.
    mha::TrainingOptions one_group = plain;
    mha::train_with_key_value_groups(one_group, 1);
    EXPECT_NE(mha::train(one_group).losses, first.losses);
}

// Lesson 7's claim, at lesson 6's settings but H = 4: one key/value head shared by all four query
// heads (multi-query attention) still learns the task, and the circuit still forms.
TEST(TrainingWithKeyValueGroups, OneKeyValueHeadForFourQueryHeadsStillLearnsInduction) {
    mha::TrainingOptions options = mha::default_options(Task::induction);  // seed 1, d_model 24, 2000 steps
    options.heads = 4;
    mha::train_with_key_value_groups(options, 1);
    const mha::TrainingResult result = mha::train(options);
    ASSERT_TRUE(mha::key_value_groups_are_tied(result.model, 1));
    const mha::Evaluation evaluation = mha::evaluate(result.model, Task::induction, mha::held_out_data(Task::induction));
    EXPECT_GE(evaluation.accuracy, 0.99);
    const auto best = [](const std::vector<double>& heads) { return *std::max_element(heads.begin(), heads.end()); };
    EXPECT_GE(best(evaluation.scores.previous_token[0]), 0.9) << "a head of layer 0 should attend to the previous token";
    EXPECT_GE(best(evaluation.scores.induction[1]), 0.9) << "a head of layer 1 should be an induction head";
}

TEST(KeyValueGroups, BadGIsRefusedWithAMessage) {
    using mha::testing::expect_contains;
    using mha::testing::thrown_message;
    mha::AttentionOnlyTransformer model = small_model(1);
    expect_contains(thrown_message([&] { mha::tie_key_value_heads(model, 3); }),
                    {"tie_key_value_heads: ", "num_kv_heads 3 does not divide num_heads 4"});
    expect_contains(thrown_message([&] { mha::tie_key_value_gradients(model, 5); }),
                    {"tie_key_value_gradients: ", "num_kv_heads 5 does not divide num_heads 4"});
    expect_contains(thrown_message([&] { mha::key_value_groups_are_tied(model, 0); }), {"num_kv_heads is 0"});
    model.layers.clear();
    expect_contains(thrown_message([&] { mha::tie_key_value_heads(model, 1); }), {"no attention layer"});

    mha::TrainingOptions options = mha::default_options(Task::induction);  // H = 2
    expect_contains(thrown_message([&] { mha::train_with_key_value_groups(options, 4); }),
                    {"train_with_key_value_groups: ", "num_kv_heads 4 does not divide num_heads 2"});
    EXPECT_FALSE(options.constrain_initial_model) << "a refused G must leave the options as they were";
}

}  // namespace
