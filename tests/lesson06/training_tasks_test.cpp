// Lesson 6 tests: the two tasks' data, checked against their definitions.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "test_helpers.hpp"
#include "train/training_tasks.hpp"

namespace {

using mha::testing::expect_contains;
using mha::testing::thrown_message;

TEST(InductionTask, SequencesAreNoiseThenASegmentTwice) {
    mha::RandomGenerator random(5);
    std::set<std::size_t> lengths_seen;
    for (int n = 0; n < 200; ++n) {
        const mha::InductionSequence s = mha::random_induction_sequence(random);
        ASSERT_EQ(s.tokens.size(), 16u);
        const std::size_t k = s.segment_length;
        lengths_seen.insert(k);
        ASSERT_GE(k, 4u);
        ASSERT_LE(k, 8u);
        EXPECT_EQ(s.first_copy, 16 - 2 * k);  // the segment ends the sequence, twice
        const std::vector<std::size_t> first(s.tokens.begin() + s.first_copy, s.tokens.begin() + s.second_copy());
        const std::vector<std::size_t> second(s.tokens.begin() + s.second_copy(), s.tokens.end());
        EXPECT_EQ(first, second);
        EXPECT_EQ(std::set<std::size_t>(first.begin(), first.end()).size(), k);  // distinct
        for (std::size_t i = 0; i < s.first_copy; ++i) {
            EXPECT_EQ(std::count(first.begin(), first.end(), s.tokens[i]), 0) << "noise token in the segment";
            EXPECT_LT(s.tokens[i], 16u);
        }
    }
    EXPECT_EQ(lengths_seen.size(), 5u);  // every k from 4 to 8 occurs
}

TEST(InductionTask, OnlyPredictablePositionsCount) {
    mha::InductionSequence s;
    s.tokens = {9, 9, 3, 1, 4, 5, 3, 1, 4, 5};  // noise 9 9, segment 3 1 4 5 twice
    s.first_copy = 2;
    s.segment_length = 4;
    const mha::TaskBatch batch = mha::induction_batch({s});
    // Position 6 (the second 3) predicts 1, 7 predicts 4, 8 predicts 5; nothing else counts.
    const std::vector<bool> expected_counted = {false, false, false, false, false, false, true, true, true, false};
    EXPECT_EQ(batch.counted[0], expected_counted);
    EXPECT_EQ(batch.targets[0][6], 1u);
    EXPECT_EQ(batch.targets[0][7], 4u);
    EXPECT_EQ(batch.targets[0][8], 5u);
}

TEST(InductionTask, RefusesSizesThatCannotHoldTwoCopies) {
    mha::RandomGenerator random(1);
    expect_contains(thrown_message([&] { mha::random_induction_sequence(random, 10, 16, 4, 6); }),
                    {"random_induction_sequence", "length (10)"});
}

TEST(CoreferenceTask, TheCoursesSentencesAndTheirReferents) {
    const std::vector<mha::CoreferenceSentence> test = mha::coreference_split().test;
    const auto find = [&](const std::string& text) {
        const std::vector<std::size_t> tokens = mha::coreference_tokens(text);
        const auto found = std::find_if(test.begin(), test.end(), [&](const auto& s) { return s.tokens == tokens; });
        return found == test.end() ? nullptr : &*found;
    };
    const auto* tired = find("the animal didn't cross the street because it was too tired");
    const auto* wide = find("the animal didn't cross the street because it was too wide");
    ASSERT_NE(tired, nullptr) << "the course's sentence must be held out";
    ASSERT_NE(wide, nullptr);
    EXPECT_EQ(tired->referent, 1u);  // the animal was tired
    EXPECT_EQ(wide->referent, 5u);   // the street was wide
    EXPECT_EQ(tired->pronoun, 7u);
    const mha::TaskBatch batch = mha::coreference_batch({*tired, *wide});
    EXPECT_EQ(mha::coreference_vocabulary()[batch.targets[0][7]], "animal");
    EXPECT_EQ(mha::coreference_vocabulary()[batch.targets[1][7]], "street");
    EXPECT_EQ(std::count(batch.counted[0].begin(), batch.counted[0].end(), true), 1);
}

TEST(CoreferenceTask, SplitCoversEverySentenceOnceAndLabelsFollowTheAdjective) {
    const mha::CoreferenceSplit split = mha::coreference_split();
    // 12 animals × 10 places × 2 orders × 8 adjectives, and 12 × 11 pairs of animals × 8 adjectives.
    const std::size_t all = 12 * 10 * 2 * 8 + 12 * 11 * 8;
    EXPECT_EQ(split.train.size() + split.test.size(), all);
    EXPECT_NEAR(static_cast<double>(split.test.size()) / static_cast<double>(all), 0.2, 0.01);
    std::set<std::vector<std::size_t>> seen;
    for (const auto* part : {&split.train, &split.test}) {
        for (const mha::CoreferenceSentence& s : *part) {
            EXPECT_TRUE(seen.insert(s.tokens).second) << "a sentence appears twice";
            ASSERT_EQ(s.tokens.size(), 11u);
            const std::string& verb = mha::coreference_vocabulary()[s.tokens[3]];
            const std::string& adjective = mha::coreference_vocabulary()[s.tokens[10]];
            if (verb == "catch") {  // the chaser (first) is slow, the chased (second) fast
                const bool chaser =
                    adjective == "slow" || adjective == "lazy" || adjective == "clumsy" || adjective == "old";
                EXPECT_EQ(s.referent, chaser ? 1u : 5u) << adjective;
            }
            EXPECT_NE(s.referent, s.other_noun);
        }
    }
}

TEST(CoreferenceTask, AnUnknownWordIsNamed) {
    expect_contains(thrown_message([] { mha::coreference_tokens("the unicorn"); }), {"\"unicorn\"", "not a word"});
}

}  // namespace
