// Lesson 3 tests: the coloured blocks that draw split_heads, concat_heads and the packed
// in_proj_weight on the website.
#include <cmath>
#include <string>

#include <gtest/gtest.h>

#include "io/block_diagram.hpp"
#include "test_helpers.hpp"

namespace {

std::size_t count(const std::string& text, const std::string& part) {
    std::size_t found = 0;
    for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
        ++found;
    }
    return found;
}

// The number in attribute `name` of the first element after `after`.
double attribute_after(const std::string& svg, const std::string& after, const std::string& name) {
    const std::size_t at = svg.find(after);
    EXPECT_NE(at, std::string::npos) << after << " not in " << svg;
    const std::size_t value = svg.find(" " + name + "=\"", at);
    return at == std::string::npos ? -1.0 : std::stod(svg.substr(value + name.size() + 3));
}

mha::BlockMatrix matrix(std::string caption, mha::Matrix values, xt::xtensor<std::size_t, 2> groups,
                        std::size_t column_block = 0, std::size_t row_block = 0) {
    return mha::BlockMatrix{std::move(caption), std::move(values), std::move(groups), column_block, row_block};
}

// Each cell: the colour of its group (ColorBrewer Set3: #8dd3c7, #fdb462, ...), its number,
// and a hover title with its matrix, row, column, number and group.
TEST(SvgBlockDiagram, ColoursEachCellByItsGroupAndLabelsItsNumber) {
    const std::string svg = mha::svg_block_diagram(
        {{"step one", {matrix("M (1, 2)", mha::Matrix{{3.0, 4.5}}, xt::xtensor<std::size_t, 2>{{0, 1}})}}},
        {"head 0", "head 1"}, "Title");
    EXPECT_EQ(svg.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0), 0u) << svg;
    EXPECT_EQ(count(svg, "<g class=\"block\">"), 2u) << svg;
    EXPECT_EQ(count(svg, "fill=\"#8dd3c7\""), 2u);  // the legend's swatch and the first cell
    EXPECT_EQ(count(svg, "fill=\"#fdb462\""), 2u);
    EXPECT_NE(svg.find("<title>M (1, 2), row 0, column 0: 3 (head 0)</title>"), std::string::npos) << svg;
    EXPECT_NE(svg.find("<title>M (1, 2), row 0, column 1: 4.5 (head 1)</title>"), std::string::npos);
    EXPECT_EQ(count(svg, ">3</text>"), 1u);  // whole numbers without decimals
    EXPECT_EQ(count(svg, ">4.5</text>"), 1u);
    for (const char* text : {">Title</text>", ">step one</text>", ">M (1, 2)</text>", ">head 0</text>", ">head 1</text>"}) {
        EXPECT_EQ(count(svg, text), 1u) << text;
    }
}

// Cells are 24 px; a block of d_k = 2 columns ends with a gap of 6 px: cell 2 starts 2·24 + 6 px after cell 0.
TEST(SvgBlockDiagram, LeavesAGapAfterEveryColumnBlock) {
    const std::string svg = mha::svg_block_diagram(
        {{"", {matrix("M", mha::Matrix{{0.0, 1.0, 2.0, 3.0}}, xt::xtensor<std::size_t, 2>{{0, 0, 1, 1}}, 2)}}},
        {"a", "b"});
    const double first = attribute_after(svg, "<title>M, row 0, column 0", "x");
    EXPECT_DOUBLE_EQ(attribute_after(svg, "<title>M, row 0, column 1", "x") - first, 24.0);
    EXPECT_DOUBLE_EQ(attribute_after(svg, "<title>M, row 0, column 2", "x") - first, 54.0);
    EXPECT_DOUBLE_EQ(attribute_after(svg, "<title>M, row 0, column 3", "x") - first, 78.0);
}

// Matrices of a step stand side by side (28 px apart), steps one under the other.
TEST(SvgBlockDiagram, PlacesMatricesSideBySideAndStepsBelow) {
    const xt::xtensor<std::size_t, 2> one = {{0}};
    const std::string svg = mha::svg_block_diagram(
        {{"first", {matrix("A", mha::Matrix{{1.0}}, one), matrix("B", mha::Matrix{{2.0}}, one)}},
         {"second", {matrix("C", mha::Matrix{{3.0}}, one)}}},
        {"g"});
    const double a_x = attribute_after(svg, "<title>A,", "x"), a_y = attribute_after(svg, "<title>A,", "y");
    EXPECT_DOUBLE_EQ(attribute_after(svg, "<title>B,", "x") - a_x, 24.0 + 28.0);
    EXPECT_DOUBLE_EQ(attribute_after(svg, "<title>B,", "y"), a_y);
    EXPECT_DOUBLE_EQ(attribute_after(svg, "<title>C,", "x"), a_x);
    EXPECT_GT(attribute_after(svg, "<title>C,", "y"), a_y + 24.0);
}

TEST(SvgBlockDiagram, RejectsWhatItCannotDraw) {
    const xt::xtensor<std::size_t, 2> zero = {{0}};
    const auto message = [](const std::vector<mha::BlockStep>& steps, const std::vector<std::string>& legend) {
        return mha::testing::thrown_message([&] { mha::svg_block_diagram(steps, legend); });
    };
    EXPECT_NE(message({}, {"g"}).find("svg_block_diagram: there are no steps"), std::string::npos);
    EXPECT_NE(message({{"s", {matrix("M", mha::Matrix{{1.0}}, zero)}}}, {}).find("there are no legend entries"),
              std::string::npos);
    EXPECT_NE(message({{"s", {}}}, {"g"}).find("step 0 (\"s\") has no matrices"), std::string::npos);
    const std::string wrong_group = message({{"s", {matrix("M", mha::Matrix{{1.0, 2.0}}, {{0, 2}})}}}, {"g", "h"});
    EXPECT_NE(wrong_group.find("matrix \"M\": the group 2 at row 0, column 1 is not in the legend of 2"),
              std::string::npos)
        << wrong_group;
    const std::string wrong_shape = message({{"s", {matrix("M", mha::Matrix{{1.0, 2.0}}, zero)}}}, {"g"});
    EXPECT_NE(wrong_shape.find("matrix \"M\" has values (1, 2) but groups (1, 1)"), std::string::npos) << wrong_shape;
    const std::string nan = message({{"s", {matrix("M", mha::Matrix{{NAN}}, zero)}}}, {"g"});
    EXPECT_NE(nan.find("the value at row 0, column 0 is NaN"), std::string::npos) << nan;
}

}  // namespace
