// Lesson 6 tests: training. The scores measured on a model whose attention is
// known, training that is the same on every run, and the two tasks trained for
// one seed each, which must reach the figures the lesson gives.
#include <algorithm>
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "test_helpers.hpp"
#include "train/trainer.hpp"

namespace {

using mha::Task;

// With W_q = 0 every score is 0, so causal attention is uniform: query i puts
// 1/(i + 1) on each key j ≤ i. The scores must then be means of 1/(i + 1) over
// the positions each score looks at, computed here from the data alone.
TEST(HeadScores, OfUniformCausalAttentionAreTheMeansOfOneOverIPlusOne) {
    mha::RandomGenerator random(3);
    mha::AttentionOnlyTransformer model = mha::random_attention_only_transformer(16, 16, 8, 2, 2, true, random);
    for (auto& layer : model.layers) {
        layer.query_projection.weight.fill(0.0);
    }
    const mha::HeldOutData data = mha::held_out_data(Task::induction);
    double previous = 0.0, induction = 0.0;
    std::size_t previous_count = 0, induction_count = 0;
    for (const mha::InductionSequence& s : data.induction) {
        for (std::size_t i = s.first_copy + 1; i < s.second_copy(); ++i, ++previous_count) {
            previous += 1.0 / static_cast<double>(i + 1);
        }
        for (std::size_t j = 0; j + 1 < s.segment_length; ++j, ++induction_count) {
            induction += 1.0 / static_cast<double>(s.second_copy() + j + 1);
        }
    }
    const mha::Evaluation evaluation = mha::evaluate(model, Task::induction, data);
    for (std::size_t l = 0; l < 2; ++l) {
        for (std::size_t h = 0; h < 2; ++h) {
            EXPECT_NEAR(evaluation.scores.previous_token[l][h], previous / static_cast<double>(previous_count), 1e-12);
            EXPECT_NEAR(evaluation.scores.induction[l][h], induction / static_cast<double>(induction_count), 1e-12);
        }
    }
    EXPECT_TRUE(evaluation.scores.weight_on_referent.empty());
}

TEST(HeadScores, OfUniformAttentionOverASentenceAreOneOverEleven) {
    mha::RandomGenerator random(4);
    mha::AttentionOnlyTransformer model =
        mha::random_attention_only_transformer(mha::coreference_vocabulary().size(), 11, 8, 1, 2, false, random);
    model.layers[0].key_projection.weight.fill(0.0);
    const mha::Evaluation evaluation = mha::evaluate(model, Task::coreference, mha::held_out_data(Task::coreference));
    EXPECT_NEAR(evaluation.scores.weight_on_referent[0][1], 1.0 / 11.0, 1e-12);
    EXPECT_NEAR(evaluation.scores.weight_on_other_noun[0][0], 1.0 / 11.0, 1e-12);
}

TEST(Training, TheSameSeedGivesTheSameNumbersBitForBit) {
    mha::TrainingOptions options = mha::default_options(Task::coreference);
    options.steps = 30;
    options.seed = 9;
    const mha::TrainingResult first = mha::train(options), second = mha::train(options);
    EXPECT_EQ(first.losses, second.losses);  // exactly equal, not nearly
    const auto a = first.model.parameters(), b = second.model.parameters();
    for (std::size_t i = 0; i < a.size(); ++i) {
        EXPECT_TRUE(*a[i] == *b[i]) << "parameter " << i;
    }
    options.seed = 10;
    EXPECT_NE(mha::train(options).losses, first.losses);
}

TEST(Training, InductionHeadsFormInTwoLayers) {
    const mha::TrainingOptions options = mha::default_options(Task::induction);  // seed 1
    const mha::TrainingResult result = mha::train(options);
    const mha::Evaluation evaluation = mha::evaluate(result.model, Task::induction, mha::held_out_data(Task::induction));
    EXPECT_GE(evaluation.accuracy, 0.99);
    const auto best = [](const std::vector<double>& heads) { return *std::max_element(heads.begin(), heads.end()); };
    EXPECT_GE(best(evaluation.scores.previous_token[0]), 0.9) << "a head of layer 0 should attend to the previous token";
    EXPECT_GE(best(evaluation.scores.induction[1]), 0.9) << "a head of layer 1 should be an induction head";
    EXPECT_LT(best(evaluation.scores.induction[0]), 0.3) << "layer 0 cannot have one: it has nothing to compose with";
}

TEST(Training, OneLayerCannotLearnInduction) {
    mha::TrainingOptions options = mha::default_options(Task::induction);
    options.layers = 1;
    options.steps = 500;
    const mha::TrainingResult result = mha::train(options);
    const mha::Evaluation evaluation = mha::evaluate(result.model, Task::induction, mha::held_out_data(Task::induction));
    EXPECT_GT(evaluation.loss, 0.8) << "one layer should stay stuck: it cannot look for the token after a match";
    EXPECT_LT(evaluation.accuracy, 0.8);
}

TEST(Training, CoreferenceIsLearnedAndItLooksAtTheReferent) {
    const mha::TrainingOptions options = mha::default_options(Task::coreference);  // seed 1
    const mha::TrainingResult result = mha::train(options);
    const mha::Evaluation evaluation =
        mha::evaluate(result.model, Task::coreference, mha::held_out_data(Task::coreference));
    EXPECT_GE(evaluation.accuracy, 0.99);
    EXPECT_LT(result.losses.back(), result.losses.front() / 10);
    // Some head looks from "it" at the referent more than twice as much as at the
    // other noun: the information has to reach "it" through attention somewhere
    // (in seed 1, layer 0's head 1 does it; the lesson follows the whole path).
    double best_ratio = 0.0;
    for (std::size_t l = 0; l < 2; ++l) {
        for (std::size_t h = 0; h < 2; ++h) {
            best_ratio = std::max(best_ratio, evaluation.scores.weight_on_referent[l][h] /
                                                  (evaluation.scores.weight_on_other_noun[l][h] + 1e-12));
        }
    }
    EXPECT_GT(best_ratio, 2.0);
}

TEST(Training, RefusesAnEmptyBatch) {
    mha::TrainingOptions options = mha::default_options(Task::induction);
    options.batch = 0;
    mha::testing::expect_contains(mha::testing::thrown_message([&] { mha::train(options); }),
                                  {"train", "batch size is 0"});
}

}  // namespace
