// Lesson 1 tests: the text heatmap the examples print.
#include <gtest/gtest.h>

#include "heatmap.hpp"
#include "test_helpers.hpp"

namespace {

TEST(Heatmap, LabelsRowsAndColumnsAndPrintsHundredths) {
    const mha::Matrix weights = {{1.0, 0.0}, {0.25, 0.75}};
    const std::string text = mha::terminal_heatmap(weights, {"cat", "sat"}, {"cat", "sat"});
    // Header, rule, then one line per query; each cell is a shade and the weight in hundredths.
    const std::string expected =
        "    |     cat     sat\n"
        "----+----------------\n"
        "cat |    █100       0\n"
        "sat |    ░ 25    ▓ 75\n";
    EXPECT_EQ(text, expected);
}

TEST(Heatmap, RejectsLabelCountsThatDoNotMatch) {
    const mha::Matrix weights = xt::zeros<double>({2, 3});
    const std::string message =
        mha::testing::thrown_message([&] { mha::terminal_heatmap(weights, {"a", "b"}, {"a", "b"}); });
    EXPECT_NE(message.find("terminal_heatmap: weights are (2, 3)"), std::string::npos) << message;
}

}  // namespace
