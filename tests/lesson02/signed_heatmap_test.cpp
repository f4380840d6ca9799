// Lesson 2 tests: the signed heatmap that draws the positional encodings on the website
// (blue below 0, white at 0, red above 0).
#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

#include "io/heatmap.hpp"
#include "reference/positional_encoding.hpp"
#include "test_helpers.hpp"

namespace {

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t found = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++found;
    }
    return found;
}

// The fill of the cell whose hover title is `title`.
std::string cell_fill(const std::string& svg, const std::string& title) {
    const std::size_t at = svg.find("<title>" + title + "</title>");
    EXPECT_NE(at, std::string::npos) << title << " not in " << svg;
    if (at == std::string::npos) {
        return "";
    }
    const std::size_t fill = svg.find("fill=\"", at);
    return svg.substr(fill + 6, 7);
}

// The ends and the middle of ColorBrewer's RdBu scale: -1 is (33, 102, 172) = #2166ac,
// 0 is white, +1 is (178, 24, 43) = #b2182b, and +0.5 the stop halfway, (244, 165, 130) = #f4a582.
TEST(SvgSignedHeatmap, ColoursBelowZeroBlueZeroWhiteAboveZeroRed) {
    const mha::Matrix values = {{-1.0, 0.0, 0.5, 1.0}};  // (1, 4)
    const std::string svg = mha::svg_signed_heatmap(values, {"pos 0"}, {"a", "b", "c", "d"}, "PE");
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << svg;
    EXPECT_EQ(cell_fill(svg, "pos 0, a: -1"), "#2166ac");
    EXPECT_EQ(cell_fill(svg, "pos 0, b: 0"), "#ffffff");
    EXPECT_EQ(cell_fill(svg, "pos 0, c: 0.5"), "#f4a582");
    EXPECT_EQ(cell_fill(svg, "pos 0, d: 1"), "#b2182b");
    EXPECT_EQ(count(svg, "<g class=\"cell\">"), 4u);
    EXPECT_EQ(count(svg, ">PE</text>"), 1u);
}

// The scale reaches as far as the largest magnitude: +-2 get the deepest colours, and
// the colour bar under the grid says -2, 0, 2.
TEST(SvgSignedHeatmap, ScalesToTheLargestMagnitudeAndSaysSo) {
    const mha::Matrix values = {{2.0, -2.0}, {1.0, 0.0}};  // (2, 2)
    const std::string svg = mha::svg_signed_heatmap(values, {"r0", "r1"}, {"c0", "c1"});
    EXPECT_EQ(cell_fill(svg, "r0, c0: 2"), "#b2182b");
    EXPECT_EQ(cell_fill(svg, "r0, c1: -2"), "#2166ac");
    EXPECT_EQ(cell_fill(svg, "r1, c0: 1"), "#f4a582");  // half of the largest
    EXPECT_EQ(count(svg, ">-2</text>") + count(svg, ">0</text>") + count(svg, ">2</text>"), 3u) << svg;
}

// The lesson's picture: row 0 of the encodings is (0, 1, 0, 1, ...), white then deep red.
TEST(SvgSignedHeatmap, DrawsThePositionalEncodingsRowZeroAsWhiteAndRed) {
    const mha::Matrix encodings = mha::sinusoidal_positional_encoding(3, 4);  // (3, 4)
    const std::string svg =
        mha::svg_signed_heatmap(encodings, {"pos 0", "pos 1", "pos 2"}, {"0 sin", "1 cos", "2 sin", "3 cos"});
    EXPECT_EQ(cell_fill(svg, "pos 0, 0 sin: 0"), "#ffffff");
    EXPECT_EQ(cell_fill(svg, "pos 0, 1 cos: 1"), "#b2182b");
    // sin(1) = 0.84147, cos(2) = -0.41615 (a hand calculator's values, to five decimals).
    EXPECT_NE(svg.find("<title>pos 1, 0 sin: 0.84147</title>"), std::string::npos) << svg;
    EXPECT_NE(svg.find("<title>pos 2, 1 cos: -0.41615</title>"), std::string::npos);
    EXPECT_EQ(count(svg, "<g class=\"cell\">"), 12u);
}

TEST(SvgSignedHeatmap, RejectsLabelCountsThatDoNotMatchNaNAndInfinity) {
    const mha::Matrix values = {{0.0, 1.0}};
    const std::string labels = mha::testing::thrown_message([&] { mha::svg_signed_heatmap(values, {"a"}, {"b"}); });
    EXPECT_NE(labels.find("svg_signed_heatmap: values are (1, 2) but there are 1 row labels and 1 column labels"),
              std::string::npos)
        << labels;
    const mha::Matrix with_nan = {{0.0, NAN}};
    const std::string nan = mha::testing::thrown_message([&] { mha::svg_signed_heatmap(with_nan, {"a"}, {"b", "c"}); });
    EXPECT_NE(nan.find("the value at row 0, column 1 of (1, 2) is nan, not a finite number"), std::string::npos) << nan;
    const mha::Matrix with_infinity = {{-std::numeric_limits<double>::infinity(), 0.0}};
    const std::string infinity =
        mha::testing::thrown_message([&] { mha::svg_signed_heatmap(with_infinity, {"a"}, {"b", "c"}); });
    EXPECT_NE(infinity.find("row 0, column 0 of (1, 2) is -inf, not a finite number"), std::string::npos) << infinity;
}

}  // namespace
