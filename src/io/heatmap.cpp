// Lesson 1: a text heatmap of attention weights, and the same as an SVG picture;
// lesson 2 adds the signed heatmap of the positional encodings.
#include "io/heatmap.hpp"

#include "io/svg_text.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <iomanip>
#include <regex>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace mha {
namespace {

constexpr std::size_t cell_width = 8;  // columns of text per key

// Tokens longer than a cell are cut so that the grid stays aligned.
std::string fit(const std::string& token, std::size_t width) {
    return token.size() <= width ? token : token.substr(0, width);
}

std::string pad_left(const std::string& text, std::size_t width) {
    return std::string(width > text.size() ? width - text.size() : 0, ' ') + text;
}

// ---- SVG ----

constexpr double svg_cell = 34.0;       // the side of one cell, in px
constexpr double svg_font = 13.0;       // labels
constexpr double svg_char_width = 7.5;  // a generous average width of a label character at svg_font
constexpr double svg_margin = 8.0;
constexpr double signed_cell = 24.0;     // a signed heatmap's cells carry no numbers: smaller

double label_width(const std::vector<std::string>& tokens) {
    std::size_t longest = 0;
    for (const auto& token : tokens) {
        longest = std::max(longest, utf8_characters(token));
    }
    return static_cast<double>(longest) * svg_char_width;
}

// The colour at `position` along five colour stops (0 to 4), as #rrggbb.
std::string interpolate(const double (&stops)[5][3], double position) {
    const auto low = static_cast<std::size_t>(std::clamp(std::floor(position), 0.0, 3.0));
    const double t = position - static_cast<double>(low);
    char colour[8];
    std::snprintf(colour, sizeof colour, "#%02x%02x%02x",
                  static_cast<unsigned>(std::lround(stops[low][0] + t * (stops[low + 1][0] - stops[low][0]))),
                  static_cast<unsigned>(std::lround(stops[low][1] + t * (stops[low + 1][1] - stops[low][1]))),
                  static_cast<unsigned>(std::lround(stops[low][2] + t * (stops[low + 1][2] - stops[low][2]))));
    return colour;
}

// White (0) to dark blue (1), through the light blues of a "Blues" colour map.
std::string shade(double w) {
    static const double stops[][3] = {{255, 255, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    return interpolate(stops, std::clamp(w, 0.0, 1.0) * 4.0);
}

// A signed value's colour: blue (-1) through white (0) to red (+1), a "RdBu" colour map.
std::string diverging_shade(double v) {
    static const double stops[][3] = {{33, 102, 172}, {146, 197, 222}, {255, 255, 255}, {244, 165, 130}, {178, 24, 43}};
    return interpolate(stops, (std::clamp(v, -1.0, 1.0) + 1.0) * 2.0);
}

// Exactly enough digits to tell weights apart: 0.48213, 1e-07, -0.5403.
std::string precise(double value) {
    char text[32];
    std::snprintf(text, sizeof text, std::abs(value) >= 1e-4 || value == 0.0 ? "%.5f" : "%.3g", value);
    std::string result = text;
    if (result.find('.') != std::string::npos && result.find('e') == std::string::npos) {
        result.erase(result.find_last_not_of('0') + 1);
        if (result.back() == '.') {
            result.pop_back();
        }
    }
    return result == "-0" ? "0" : result;
}

void reject_nan(const char* function, const char* what, const Matrix& values) {  // names the first NaN
    for (std::size_t i = 0; i < values.shape(0); ++i) {
        for (std::size_t j = 0; j < values.shape(1); ++j) {
            if (std::isnan(values(i, j))) {
                throw std::invalid_argument(std::string(function) + ": the " + what + " at row " + std::to_string(i) +
                                            ", column " + std::to_string(j) + " of " + shape_string(values) +
                                            " is NaN");
            }
        }
    }
}

// What draw_grid needs to know about one heatmap: the colour, text and hover text of a cell.
struct Grid {
    double cell = svg_cell;    // the side of a cell, px
    std::string axis_caption;  // "query ↓ key →"
    std::string description;   // the picture's <title>
    std::function<std::string(std::size_t, std::size_t)> colour;
    std::function<std::pair<std::string, std::string>(std::size_t, std::size_t)> text;  // (text, its colour); none if unset
    std::function<std::string(std::size_t, std::size_t)> hover;
    double limit = 0.0;  // > 0: a signed heatmap, with a colour bar from -limit to +limit below the grid
};

// The heatmap: title, then the column labels written upwards at 45 degrees, then the grid;
// the row labels stand to the left of the grid. Each cell is a <g class="cell"> holding its
// <title> (shown on hover), its square and its text.
std::string draw_grid(const Grid& grid, std::size_t rows, std::size_t columns, const std::vector<std::string>& row_labels,
                      const std::vector<std::string>& column_labels, const std::string& title) {
    const double diagonal = std::sqrt(0.5);
    const double cell = grid.cell;
    const double title_height = title.empty() ? 0.0 : 26.0;
    const double column_label_height = label_width(column_labels) * diagonal + svg_font;
    const double left = svg_margin + std::max(label_width(row_labels), 84.0) + 8.0;  // 84: the axis caption
    const double top = svg_margin + title_height + column_label_height + 16.0;  // 16: the axis caption
    const double grid_width = cell * static_cast<double>(columns), grid_height = cell * static_cast<double>(rows);
    const double right_overhang = std::max(0.0, column_label_height - cell / 2);  // the last label leans right
    const double colour_bar_height = grid.limit > 0.0 ? 44.0 : 0.0;
    const double width = std::ceil(std::max({left + grid_width + right_overhang + svg_margin,
                                             svg_margin * 2 + static_cast<double>(utf8_characters(title)) * 8.5,
                                             grid.limit > 0.0 ? left + 220.0 : 0.0}));
    const double height = std::ceil(top + grid_height + colour_bar_height + svg_margin);

    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << svg_number(width) << "\" height=\""
        << svg_number(height) << "\" viewBox=\"0 0 " << svg_number(width) << ' ' << svg_number(height)
        << "\" font-family=\"DejaVu Sans, Verdana, sans-serif\" role=\"img\" class=\"mha-heatmap\">\n";
    svg << "<title>" << xml_escape(grid.description) << "</title>\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    if (!title.empty()) {
        svg << "<text x=\"" << svg_number(svg_margin) << "\" y=\"" << svg_number(svg_margin + 16)
            << "\" font-size=\"16\" font-weight=\"bold\" fill=\"#222222\">" << xml_escape(title) << "</text>\n";
    }
    // Captions: which axis is which.
    svg << "<text x=\"" << svg_number(left - 8) << "\" y=\"" << svg_number(top - 6)
        << "\" font-size=\"11\" font-style=\"italic\" fill=\"#666666\" text-anchor=\"end\">"
        << xml_escape(grid.axis_caption) << "</text>\n";
    // Column labels along the top, leaning right.
    for (std::size_t j = 0; j < columns; ++j) {
        const double x = left + cell * (static_cast<double>(j) + 0.5) - 3, y = top - 8;
        svg << "<text x=\"" << svg_number(x) << "\" y=\"" << svg_number(y) << "\" font-size=\"" << svg_number(svg_font)
            << "\" fill=\"#222222\" transform=\"rotate(-45 " << svg_number(x) << ' ' << svg_number(y) << ")\">"
            << xml_escape(column_labels[j]) << "</text>\n";
    }
    // One row per row label: the label, then the cells.
    for (std::size_t i = 0; i < rows; ++i) {
        const double y = top + cell * static_cast<double>(i);
        svg << "<text x=\"" << svg_number(left - 8) << "\" y=\"" << svg_number(y + cell / 2 + svg_font * 0.35)
            << "\" font-size=\"" << svg_number(svg_font) << "\" fill=\"#222222\" text-anchor=\"end\">"
            << xml_escape(row_labels[i]) << "</text>\n";
        for (std::size_t j = 0; j < columns; ++j) {
            const double x = left + cell * static_cast<double>(j);
            svg << "<g class=\"cell\"><title>" << xml_escape(grid.hover(i, j)) << "</title>";
            svg << "<rect x=\"" << svg_number(x) << "\" y=\"" << svg_number(y) << "\" width=\"" << svg_number(cell)
                << "\" height=\"" << svg_number(cell) << "\" fill=\"" << grid.colour(i, j)
                << "\" stroke=\"#d0d0d0\" stroke-width=\"0.5\"/>";
            if (grid.text) {
                const auto [text, colour] = grid.text(i, j);
                svg << "<text x=\"" << svg_number(x + cell / 2) << "\" y=\"" << svg_number(y + cell / 2 + 4)
                    << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"" << colour << "\">" << xml_escape(text)
                    << "</text>";
            }
            svg << "</g>\n";
        }
    }
    svg << "<rect x=\"" << svg_number(left) << "\" y=\"" << svg_number(top) << "\" width=\"" << svg_number(grid_width)
        << "\" height=\"" << svg_number(grid_height) << "\" fill=\"none\" stroke=\"#888888\" stroke-width=\"1\"/>\n";
    // A signed heatmap's colour bar: -limit, 0, +limit, in 21 steps.
    if (grid.limit > 0.0) {
        const double bar_top = top + grid_height + 12, step = 10.0;
        for (int k = 0; k <= 20; ++k) {
            svg << "<rect x=\"" << svg_number(left + step * k) << "\" y=\"" << svg_number(bar_top) << "\" width=\""
                << svg_number(step) << "\" height=\"10\" fill=\"" << diverging_shade(k / 10.0 - 1.0) << "\"/>";
        }
        const std::pair<double, const char*> ticks[] = {{0.0, "start"}, {105.0, "middle"}, {210.0, "end"}};
        const double tick_values[] = {-grid.limit, 0.0, grid.limit};
        for (std::size_t k = 0; k < 3; ++k) {
            svg << "<text x=\"" << svg_number(left + ticks[k].first) << "\" y=\"" << svg_number(bar_top + 24)
                << "\" font-size=\"11\" fill=\"#333333\" text-anchor=\"" << ticks[k].second << "\">"
                << precise(tick_values[k]) << "</text>";
        }
        svg << '\n';
    }
    svg << "</svg>\n";
    return svg.str();
}
}  // namespace

std::string terminal_heatmap(const Matrix& weights, const std::vector<std::string>& query_tokens,
                             const std::vector<std::string>& key_tokens) {
    if (query_tokens.size() != weights.shape(0) || key_tokens.size() != weights.shape(1)) {
        throw std::invalid_argument("terminal_heatmap: weights are " + shape_string(weights) + " but there are " +
                                    std::to_string(query_tokens.size()) + " query labels and " +
                                    std::to_string(key_tokens.size()) + " key labels");
    }
    static const char* const shades[] = {" ", "░", "▒", "▓", "█"};

    std::size_t label_width = 0;
    for (const auto& token : query_tokens) {
        label_width = std::max(label_width, token.size());
    }

    std::ostringstream text;
    text << std::string(label_width, ' ') << " |";
    for (const auto& token : key_tokens) {
        text << pad_left(fit(token, cell_width - 1), cell_width);
    }
    text << '\n' << std::string(label_width, '-') << "-+" << std::string(cell_width * key_tokens.size(), '-') << '\n';

    for (std::size_t i = 0; i < weights.shape(0); ++i) {
        text << pad_left(query_tokens[i], label_width) << " |";
        for (std::size_t j = 0; j < weights.shape(1); ++j) {
            const double w = std::clamp(weights(i, j), 0.0, 1.0);
            const auto shade = static_cast<std::size_t>(std::lround(w * 4.0));
            // Hundredths read faster than decimals; 100 means the whole weight.
            text << "    " << shades[shade] << std::setw(3) << std::lround(w * 100.0);
        }
        text << '\n';
    }
    return text.str();
}

std::string svg_heatmap(const Matrix& weights, const std::vector<std::string>& query_tokens,
                        const std::vector<std::string>& key_tokens, const std::string& title) {
    const std::size_t L = weights.shape(0), S = weights.shape(1);
    if (query_tokens.size() != L || key_tokens.size() != S) {
        throw std::invalid_argument("svg_heatmap: weights are " + shape_string(weights) + " but there are " +
                                    std::to_string(query_tokens.size()) + " query labels and " +
                                    std::to_string(key_tokens.size()) + " key labels");
    }
    reject_nan("svg_heatmap", "weight", weights);
    Grid grid;
    grid.cell = svg_cell;
    grid.axis_caption = "query \u2193 key \u2192";
    grid.description = (title.empty() ? std::string("Attention weights") : title) +
                       ": row = query token, column = key token, weights in percent";
    grid.colour = [&](std::size_t i, std::size_t j) { return shade(weights(i, j)); };
    grid.text = [&](std::size_t i, std::size_t j) {
        const double w = weights(i, j);
        return std::make_pair(std::to_string(std::lround(w * 100.0)), std::string(w > 0.55 ? "#ffffff" : "#333333"));
    };
    // Hover (the <title> of the cell): the two words and the exact weight.
    grid.hover = [&](std::size_t i, std::size_t j) {
        return "query \u201c" + query_tokens[i] + "\u201d \u2192 key \u201c" + key_tokens[j] +
               "\u201d: weight " + precise(weights(i, j));
    };
    return draw_grid(grid, L, S, query_tokens, key_tokens, title);
}

std::string svg_signed_heatmap(const Matrix& values, const std::vector<std::string>& row_labels,
                               const std::vector<std::string>& column_labels, const std::string& title) {
    const std::size_t rows = values.shape(0), columns = values.shape(1);
    if (row_labels.size() != rows || column_labels.size() != columns) {
        throw std::invalid_argument("svg_signed_heatmap: values are " + shape_string(values) + " but there are " +
                                    std::to_string(row_labels.size()) + " row labels and " +
                                    std::to_string(column_labels.size()) + " column labels");
    }
    // The scale is symmetric around 0, as wide as the largest magnitude (1 when all are 0).
    double limit = 0.0;
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < columns; ++j) {
            if (!std::isfinite(values(i, j))) {
                throw std::invalid_argument("svg_signed_heatmap: the value at row " + std::to_string(i) +
                                            ", column " + std::to_string(j) + " of " + shape_string(values) +
                                            " is " + std::to_string(values(i, j)) + ", not a finite number");
            }
            limit = std::max(limit, std::abs(values(i, j)));
        }
    }
    if (limit == 0.0) {
        limit = 1.0;
    }
    Grid grid;
    grid.cell = signed_cell;
    grid.axis_caption = "row \u2193 column \u2192";
    grid.description = (title.empty() ? std::string("Values") : title) +
                       ": blue below 0, white at 0, red above 0; hover a cell for its value";
    grid.colour = [&](std::size_t i, std::size_t j) { return diverging_shade(values(i, j) / limit); };
    grid.hover = [&](std::size_t i, std::size_t j) {
        return row_labels[i] + ", " + column_labels[j] + ": " + precise(values(i, j));
    };
    grid.limit = limit;
    return draw_grid(grid, rows, columns, row_labels, column_labels, title);
}

std::string svg_side_by_side(const std::vector<std::string>& panels, std::size_t columns) {
    if (panels.empty()) {
        throw std::invalid_argument("svg_side_by_side: there are no panels to compose");
    }
    if (columns == 0) {
        columns = panels.size();
    }
    // The root element's size: <svg ... width="W" height="H" ...>
    static const std::regex root(R"(<svg\b[^>]*>)");
    static const std::regex width_attribute(R"(\swidth="([0-9]+(?:\.[0-9]+)?)(?:px)?")");
    static const std::regex height_attribute(R"(\sheight="([0-9]+(?:\.[0-9]+)?)(?:px)?")");
    std::vector<double> widths, heights;
    for (std::size_t p = 0; p < panels.size(); ++p) {
        std::smatch tag, w, h;
        if (!std::regex_search(panels[p], tag, root)) {
            throw std::invalid_argument("svg_side_by_side: panel " + std::to_string(p) + " has no <svg> element");
        }
        const std::string opening = tag.str();
        if (!std::regex_search(opening, w, width_attribute) || !std::regex_search(opening, h, height_attribute)) {
            throw std::invalid_argument("svg_side_by_side: the <svg> element of panel " + std::to_string(p) +
                                        " has no numeric width and height: " + opening);
        }
        widths.push_back(std::stod(w[1].str()));
        heights.push_back(std::stod(h[1].str()));
    }
    const double gap = 16.0;
    std::vector<double> row_heights, row_widths;
    for (std::size_t p = 0; p < panels.size(); ++p) {
        if (p % columns == 0) {
            row_heights.push_back(0.0);
            row_widths.push_back(-gap);
        }
        row_heights.back() = std::max(row_heights.back(), heights[p]);
        row_widths.back() += widths[p] + gap;
    }
    const double width = *std::max_element(row_widths.begin(), row_widths.end());
    double height = -gap;
    for (const double h : row_heights) {
        height += h + gap;
    }

    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << svg_number(width) << "\" height=\"" << svg_number(height)
        << "\" viewBox=\"0 0 " << svg_number(width) << ' ' << svg_number(height) << "\">\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    double x = 0.0, y = 0.0;
    for (std::size_t p = 0; p < panels.size(); ++p) {
        if (p > 0 && p % columns == 0) {
            x = 0.0;
            y += row_heights[p / columns - 1] + gap;
        }
        // A nested <svg> keeps each panel's own coordinates; x and y place it.
        const std::size_t start = panels[p].find("<svg");
        svg << "<svg x=\"" << svg_number(x) << "\" y=\"" << svg_number(y) << "\"" << panels[p].substr(start + 4);
        if (panels[p].back() != '\n') {
            svg << '\n';
        }
        x += widths[p] + gap;
    }
    svg << "</svg>\n";
    return svg.str();
}

std::string write_figure(const std::string& file_name, const std::string& svg) {
    const char* folder = std::getenv("MHA_FIGURES_DIR");
    if (folder == nullptr || *folder == '\0') {
        return "";
    }
    const std::string path = std::string(folder) + "/" + file_name;
    std::ofstream file(path);
    file << svg;
    if (!file) {
        throw std::runtime_error("write_figure: could not write " + path);
    }
    return path;
}

}  // namespace mha
