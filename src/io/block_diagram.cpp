// Lesson 3: matrices as coloured blocks, for the pictures of split_heads,
// concat_heads and the packed in_proj_weight on the course's website.
#include "io/block_diagram.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>

#include "io/svg_text.hpp"

namespace mha {
namespace {

constexpr double block_cell = 24.0;      // the side of one cell, px
constexpr double block_gap = 6.0;        // between column or row blocks (heads)
constexpr double matrix_gap = 28.0;      // between the matrices of a step
constexpr double caption_height = 20.0;  // a matrix's caption above it
constexpr double step_caption_height = 26.0;
constexpr double step_gap = 18.0;
constexpr double margin = 10.0;
constexpr double char_width = 7.2;  // a generous average width of a character at 12 px

// Light colours that black numbers stay readable on, and that differ in hue
// (ColorBrewer's "Set3"); the ninth group takes the first colour again.
const char* const palette[] = {"#8dd3c7", "#fdb462", "#bebada", "#fb8072",
                               "#80b1d3", "#b3de69", "#fccde5", "#d9d9d9"};

std::string group_colour(std::size_t group) { return palette[group % (sizeof palette / sizeof palette[0])]; }

// A whole number without decimals, else svg_number's two.
std::string cell_text(double value) {
    return value == std::round(value) && std::abs(value) < 1e9 ? std::to_string(std::llround(value)) : svg_number(value);
}

// Where column (or row) `index` starts, counting the gaps of the blocks before it.
double offset(std::size_t index, std::size_t block) {
    const double gaps = block == 0 ? 0.0 : static_cast<double>(index / block);
    return static_cast<double>(index) * block_cell + gaps * block_gap;
}

double matrix_width(const BlockMatrix& matrix) {
    const std::size_t columns = matrix.values.shape(1);
    const double cells = offset(columns - 1, matrix.column_block) + block_cell;
    return std::max(cells, static_cast<double>(utf8_characters(matrix.caption)) * char_width);
}

double matrix_height(const BlockMatrix& matrix) {
    return caption_height + offset(matrix.values.shape(0) - 1, matrix.row_block) + block_cell;
}

void check(const std::vector<BlockStep>& steps, const std::vector<std::string>& legend) {
    if (steps.empty() || legend.empty()) {
        throw std::invalid_argument(std::string("svg_block_diagram: there are no ") + (steps.empty() ? "steps" : "legend entries"));
    }
    for (std::size_t s = 0; s < steps.size(); ++s) {
        if (steps[s].matrices.empty()) {
            throw std::invalid_argument("svg_block_diagram: step " + std::to_string(s) + " (\"" + steps[s].caption +
                                        "\") has no matrices");
        }
        for (const BlockMatrix& matrix : steps[s].matrices) {
            const std::string name = "svg_block_diagram: matrix \"" + matrix.caption + "\"";
            if (matrix.values.size() == 0) {
                throw std::invalid_argument(name + " is empty, " + shape_string(matrix.values));
            }
            if (matrix.groups.shape(0) != matrix.values.shape(0) || matrix.groups.shape(1) != matrix.values.shape(1)) {
                throw std::invalid_argument(name + " has values " + shape_string(matrix.values) + " but groups (" +
                                            std::to_string(matrix.groups.shape(0)) + ", " +
                                            std::to_string(matrix.groups.shape(1)) + ")");
            }
            for (std::size_t i = 0; i < matrix.values.shape(0); ++i) {
                for (std::size_t j = 0; j < matrix.values.shape(1); ++j) {
                    if (matrix.groups(i, j) >= legend.size()) {
                        throw std::invalid_argument(name + ": the group " + std::to_string(matrix.groups(i, j)) +
                                                    " at row " + std::to_string(i) + ", column " + std::to_string(j) +
                                                    " is not in the legend of " + std::to_string(legend.size()));
                    }
                    if (std::isnan(matrix.values(i, j))) {
                        throw std::invalid_argument(name + ": the value at row " + std::to_string(i) + ", column " +
                                                    std::to_string(j) + " is NaN");
                    }
                }
            }
        }
    }
}

// One matrix, its top-left corner at (x, y): the caption, then a <g class="block"> per cell.
void draw_matrix(std::ostringstream& svg, const BlockMatrix& matrix, const std::vector<std::string>& legend, double x,
                 double y) {
    svg << "<text x=\"" << svg_number(x) << "\" y=\"" << svg_number(y + 14)
        << "\" font-size=\"12\" fill=\"#222222\">" << xml_escape(matrix.caption) << "</text>\n";
    const double top = y + caption_height;
    for (std::size_t i = 0; i < matrix.values.shape(0); ++i) {
        for (std::size_t j = 0; j < matrix.values.shape(1); ++j) {
            const double cell_x = x + offset(j, matrix.column_block), cell_y = top + offset(i, matrix.row_block);
            const std::string text = cell_text(matrix.values(i, j));
            svg << "<g class=\"block\"><title>" << xml_escape(matrix.caption) << ", row " << i << ", column " << j
                << ": " << xml_escape(text) << " (" << xml_escape(legend[matrix.groups(i, j)]) << ")</title>"
                << "<rect x=\"" << svg_number(cell_x) << "\" y=\"" << svg_number(cell_y) << "\" width=\""
                << svg_number(block_cell) << "\" height=\"" << svg_number(block_cell) << "\" fill=\""
                << group_colour(matrix.groups(i, j)) << "\" stroke=\"#ffffff\" stroke-width=\"1\"/>"
                << "<text x=\"" << svg_number(cell_x + block_cell / 2) << "\" y=\"" << svg_number(cell_y + 16)
                << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"#222222\">" << xml_escape(text)
                << "</text></g>\n";
        }
    }
}

}  // namespace

std::string svg_block_diagram(const std::vector<BlockStep>& steps, const std::vector<std::string>& legend,
                              const std::string& title) {
    check(steps, legend);

    // ---- Pass 1: the size of every step, and of the picture ----
    const double title_height = title.empty() ? 0.0 : 28.0;
    const double legend_height = 28.0;
    double legend_width = 0.0;
    for (const std::string& name : legend) {
        legend_width += 22.0 + static_cast<double>(utf8_characters(name)) * char_width + 16.0;
    }
    std::vector<double> step_widths, step_heights;
    for (const BlockStep& step : steps) {
        double width = -matrix_gap, height = 0.0;
        for (const BlockMatrix& matrix : step.matrices) {
            width += matrix_width(matrix) + matrix_gap;
            height = std::max(height, matrix_height(matrix));
        }
        step_widths.push_back(std::max(width, static_cast<double>(utf8_characters(step.caption)) * 7.8));
        step_heights.push_back(step_caption_height + height);
    }
    double width = std::max({*std::max_element(step_widths.begin(), step_widths.end()), legend_width,
                             static_cast<double>(utf8_characters(title)) * 10.5});  // bold 16 px
    width = std::ceil(width + 2 * margin);
    double height = margin + title_height + legend_height;
    for (const double step_height : step_heights) {
        height += step_height + step_gap;
    }
    height = std::ceil(height - step_gap + margin);

    // ---- Pass 2: title, legend, then each step's caption and matrices ----
    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << svg_number(width) << "\" height=\""
        << svg_number(height) << "\" viewBox=\"0 0 " << svg_number(width) << ' ' << svg_number(height)
        << "\" font-family=\"DejaVu Sans, Verdana, sans-serif\" role=\"img\" class=\"mha-block-diagram\">\n";
    svg << "<title>" << xml_escape(title.empty() ? std::string("Matrices as coloured blocks") : title)
        << ": one colour per group; hover a cell for its place and number</title>\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    double y = margin;
    if (!title.empty()) {
        svg << "<text x=\"" << svg_number(margin) << "\" y=\"" << svg_number(y + 17)
            << "\" font-size=\"16\" font-weight=\"bold\" fill=\"#222222\">" << xml_escape(title) << "</text>\n";
        y += title_height;
    }
    double x = margin;
    for (std::size_t g = 0; g < legend.size(); ++g) {
        svg << "<rect class=\"legend\" x=\"" << svg_number(x) << "\" y=\"" << svg_number(y + 4)
            << "\" width=\"16\" height=\"16\" fill=\"" << group_colour(g) << "\"/>"
            << "<text x=\"" << svg_number(x + 22) << "\" y=\"" << svg_number(y + 17)
            << "\" font-size=\"12\" fill=\"#222222\">" << xml_escape(legend[g]) << "</text>\n";
        x += 22.0 + static_cast<double>(utf8_characters(legend[g])) * char_width + 16.0;
    }
    y += legend_height;
    for (std::size_t s = 0; s < steps.size(); ++s) {
        svg << "<text x=\"" << svg_number(margin) << "\" y=\"" << svg_number(y + 16)
            << "\" font-size=\"13\" font-weight=\"bold\" fill=\"#333333\">" << xml_escape(steps[s].caption)
            << "</text>\n";
        x = margin;
        for (const BlockMatrix& matrix : steps[s].matrices) {
            draw_matrix(svg, matrix, legend, x, y + step_caption_height);
            x += matrix_width(matrix) + matrix_gap;
        }
        y += step_heights[s] + step_gap;
    }
    svg << "</svg>\n";
    return svg.str();
}

}  // namespace mha
