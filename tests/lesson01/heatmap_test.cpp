// Lesson 1 tests: the text heatmap the examples print, and the SVG heatmap they draw for the website.
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include "io/heatmap.hpp"
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

// ---- The SVG heatmap the examples write for the website ----
namespace svg_tests {

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t found = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++found;
    }
    return found;
}

// The number in attribute `name` of the first <svg> element.
double root_attribute(const std::string& svg, const std::string& name) {
    const std::size_t tag = svg.find("<svg");
    const std::size_t at = svg.find(" " + name + "=\"", tag);
    EXPECT_NE(at, std::string::npos) << name << " not in " << svg.substr(0, 200);
    return at == std::string::npos ? -1.0 : std::stod(svg.substr(at + name.size() + 3));
}

TEST(SvgHeatmap, DrawsOneLabelledCellPerWeightWithItsPercentage) {
    const mha::Matrix weights = {{1.0, 0.0, 0.0}, {0.25, 0.75, 0.0}};  // (L, S) = (2, 3)
    const std::string svg = mha::svg_heatmap(weights, {"cat", "sat"}, {"the", "cat", "sat"}, "Head 0");
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << svg;
    EXPECT_EQ(svg.substr(svg.size() - 7), "</svg>\n");
    // A white background, 2 x 3 cells and the frame around the grid.
    EXPECT_EQ(count(svg, "<rect "), 1u + 6u + 1u) << svg;
    EXPECT_EQ(count(svg, ">cat</text>"), 2u);  // a row label and a column label
    EXPECT_EQ(count(svg, ">the</text>"), 1u);
    EXPECT_EQ(count(svg, ">Head 0</text>"), 1u);
    EXPECT_EQ(count(svg, ">100</text>"), 1u);  // weights in percent
    EXPECT_EQ(count(svg, ">25</text>"), 1u);
    EXPECT_EQ(count(svg, ">75</text>"), 1u);
    EXPECT_EQ(count(svg, ">0</text>"), 3u);
    EXPECT_EQ(count(svg, "fill=\"#08306b\""), 1u);  // weight 1: the darkest blue
    EXPECT_GT(root_attribute(svg, "width"), 3 * 34.0);
    EXPECT_GT(root_attribute(svg, "height"), 2 * 34.0);
}

TEST(SvgHeatmap, EscapesTokensAndTitleForXml) {
    const mha::Matrix weights = {{1.0}};
    const std::string svg = mha::svg_heatmap(weights, {"<pad>"}, {"a&b"}, "\"Q\" & 'K'");
    EXPECT_NE(svg.find(">&lt;pad&gt;</text>"), std::string::npos) << svg;
    EXPECT_NE(svg.find(">a&amp;b</text>"), std::string::npos) << svg;
    EXPECT_NE(svg.find(">&quot;Q&quot; &amp; &apos;K&apos;</text>"), std::string::npos) << svg;
    EXPECT_EQ(svg.find("<pad>"), std::string::npos);
}

// Hovering over a cell shows its query word, its key word and the weight (the cell's <title>).
TEST(SvgHeatmap, EveryCellHasAHoverTitleWithBothWordsAndTheExactWeight) {
    const mha::Matrix weights = {{1.0, 0.0}, {0.25, 0.75}};  // (L, S) = (2, 2)
    const std::string svg = mha::svg_heatmap(weights, {"cat", "sat"}, {"the", "mat"});
    EXPECT_EQ(count(svg, "<g class=\"cell\"><title>"), 4u) << svg;
    EXPECT_EQ(count(svg, "<title>query \u201ccat\u201d \u2192 key \u201cthe\u201d: weight 1</title>"), 1u) << svg;
    EXPECT_EQ(count(svg, "<title>query \u201ccat\u201d \u2192 key \u201cmat\u201d: weight 0</title>"), 1u);
    EXPECT_EQ(count(svg, "<title>query \u201csat\u201d \u2192 key \u201cthe\u201d: weight 0.25</title>"), 1u);
    EXPECT_EQ(count(svg, "<title>query \u201csat\u201d \u2192 key \u201cmat\u201d: weight 0.75</title>"), 1u);
    // Five decimals, more than the percentage printed in the cell: 1/3 shows as 33, hovers as 0.33333.
    const std::string third = mha::svg_heatmap(mha::Matrix{{1.0 / 3.0}}, {"a"}, {"b"});
    EXPECT_NE(third.find(": weight 0.33333</title>"), std::string::npos) << third;
    EXPECT_NE(third.find(">33</text>"), std::string::npos);
}

TEST(SvgHeatmap, RejectsLabelCountsThatDoNotMatchAndNaN) {
    const mha::Matrix weights = xt::zeros<double>({2, 3});
    const std::string message =
        mha::testing::thrown_message([&] { mha::svg_heatmap(weights, {"a", "b"}, {"a", "b"}); });
    EXPECT_NE(message.find("svg_heatmap: weights are (2, 3) but there are 2 query labels and 2 key labels"),
              std::string::npos)
        << message;
    mha::Matrix with_nan = xt::zeros<double>({2, 2});
    with_nan(1, 0) = NAN;
    const std::string nan_message =
        mha::testing::thrown_message([&] { mha::svg_heatmap(with_nan, {"a", "b"}, {"a", "b"}); });
    EXPECT_NE(nan_message.find("row 1, column 0 of (2, 2) is NaN"), std::string::npos) << nan_message;
}

TEST(SvgSideBySide, PlacesPanelsInRowsAndSizesTheWhole) {
    const std::string a = R"(<svg xmlns="http://www.w3.org/2000/svg" width="100" height="50"><rect/></svg>)";
    const std::string b = R"(<svg xmlns="http://www.w3.org/2000/svg" width="60" height="80"><circle/></svg>)";
    const std::string row = mha::svg_side_by_side({a, b});
    EXPECT_DOUBLE_EQ(root_attribute(row, "width"), 100 + 16 + 60);  // 16 px between panels
    EXPECT_DOUBLE_EQ(root_attribute(row, "height"), 80);
    EXPECT_NE(row.find(R"(<svg x="0" y="0" xmlns="http://www.w3.org/2000/svg" width="100")"), std::string::npos) << row;
    EXPECT_NE(row.find(R"(<svg x="116" y="0" xmlns="http://www.w3.org/2000/svg" width="60")"), std::string::npos)
        << row;
    EXPECT_EQ(count(row, "<rect/>") + count(row, "<circle/>"), 2u);

    const std::string column = mha::svg_side_by_side({a, b}, 1);  // one panel per row
    EXPECT_DOUBLE_EQ(root_attribute(column, "width"), 100);
    EXPECT_DOUBLE_EQ(root_attribute(column, "height"), 50 + 16 + 80);
    EXPECT_NE(column.find(R"(<svg x="0" y="66")"), std::string::npos) << column;
}

TEST(SvgSideBySide, ComposesRealHeatmaps) {
    const mha::Matrix weights = {{0.5, 0.5}, {0.1, 0.9}};
    const std::string one = mha::svg_heatmap(weights, {"a", "b"}, {"a", "b"}, "Head 0");
    const std::string both = mha::svg_side_by_side({one, mha::svg_heatmap(weights, {"a", "b"}, {"a", "b"}, "Head 1")});
    EXPECT_DOUBLE_EQ(root_attribute(both, "width"), 2 * root_attribute(one, "width") + 16);
    EXPECT_EQ(count(both, ">Head 0</text>") + count(both, ">Head 1</text>"), 2u);
}

TEST(SvgSideBySide, RejectsNoPanelsAndPanelsWithoutASize) {
    EXPECT_NE(mha::testing::thrown_message([] { mha::svg_side_by_side({}); }).find("no panels"), std::string::npos);
    const std::string message = mha::testing::thrown_message([] { mha::svg_side_by_side({"<svg><rect/></svg>"}); });
    EXPECT_NE(message.find("panel 0 has no numeric width and height"), std::string::npos) << message;
    EXPECT_NE(mha::testing::thrown_message([] { mha::svg_side_by_side({"<p>not svg</p>"}); }).find("no <svg>"),
              std::string::npos);
}

}  // namespace svg_tests

}  // namespace

namespace {

TEST(WriteFigure, WritesIntoTheFolderNamedByTheEnvironmentOnlyWhenAsked) {
    const std::string folder = ::testing::TempDir();
    ::unsetenv("MHA_FIGURES_DIR");
    EXPECT_EQ(mha::write_figure("never.svg", "<svg/>"), "");  // not asked: nothing written

    ::setenv("MHA_FIGURES_DIR", folder.c_str(), 1);
    const std::string path = mha::write_figure("figure_test.svg", "<svg>picture</svg>");
    EXPECT_EQ(path, folder + "/figure_test.svg");
    std::ifstream written(path);
    std::stringstream contents;
    contents << written.rdbuf();
    EXPECT_EQ(contents.str(), "<svg>picture</svg>");

    ::setenv("MHA_FIGURES_DIR", (folder + "/no/such/folder").c_str(), 1);
    const std::string message = mha::testing::thrown_message<std::runtime_error>(
        [] { mha::write_figure("figure_test.svg", "<svg/>"); });
    EXPECT_NE(message.find("write_figure: could not write"), std::string::npos) << message;
    ::unsetenv("MHA_FIGURES_DIR");
}

}  // namespace
