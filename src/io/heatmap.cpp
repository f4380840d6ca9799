// Lesson 1: a text heatmap of attention weights, and the same as an SVG picture.
#include "io/heatmap.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <regex>
#include <sstream>
#include <stdexcept>

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

// Text for XML: & < > " ' escaped.
std::string xml_escape(const std::string& text) {
    std::string escaped;
    for (const char c : text) {
        switch (c) {
            case '&': escaped += "&amp;"; break;
            case '<': escaped += "&lt;"; break;
            case '>': escaped += "&gt;"; break;
            case '"': escaped += "&quot;"; break;
            case '\'': escaped += "&apos;"; break;
            default: escaped += c;
        }
    }
    return escaped;
}

// The number of characters of UTF-8 text (its bytes that do not continue a character).
std::size_t characters(const std::string& text) {
    return static_cast<std::size_t>(
        std::count_if(text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

double label_width(const std::vector<std::string>& tokens) {
    std::size_t longest = 0;
    for (const auto& token : tokens) {
        longest = std::max(longest, characters(token));
    }
    return static_cast<double>(longest) * svg_char_width;
}

std::string number(double value) {  // at most two decimals, no trailing zeros: 12, 12.5
    char text[32];
    std::snprintf(text, sizeof text, "%.2f", value);
    std::string result = text;
    result.erase(result.find_last_not_of('0') + 1);
    if (result.back() == '.') {
        result.pop_back();
    }
    return result;
}

// White (0) to dark blue (1), through the light blues of a "Blues" colour map.
std::string shade(double w) {
    static const double stops[][3] = {{255, 255, 255}, {198, 219, 239}, {107, 174, 214}, {33, 113, 181}, {8, 48, 107}};
    const double position = std::clamp(w, 0.0, 1.0) * 4.0;
    const auto low = static_cast<std::size_t>(std::min(3.0, std::floor(position)));
    const double t = position - static_cast<double>(low);
    char colour[8];
    std::snprintf(colour, sizeof colour, "#%02x%02x%02x",
                  static_cast<unsigned>(std::lround(stops[low][0] + t * (stops[low + 1][0] - stops[low][0]))),
                  static_cast<unsigned>(std::lround(stops[low][1] + t * (stops[low + 1][1] - stops[low][1]))),
                  static_cast<unsigned>(std::lround(stops[low][2] + t * (stops[low + 1][2] - stops[low][2]))));
    return colour;
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
    for (std::size_t i = 0; i < L; ++i) {
        for (std::size_t j = 0; j < S; ++j) {
            if (std::isnan(weights(i, j))) {
                throw std::invalid_argument("svg_heatmap: the weight at row " + std::to_string(i) + ", column " +
                                            std::to_string(j) + " of " + shape_string(weights) + " is NaN");
            }
        }
    }
    // Layout: title, then the key labels written upwards at 45 degrees, then the grid;
    // the query labels stand to the left of the grid.
    const double diagonal = std::sqrt(0.5);
    const double title_height = title.empty() ? 0.0 : 26.0;
    const double key_height = label_width(key_tokens) * diagonal + svg_font;
    const double left = svg_margin + std::max(label_width(query_tokens), 84.0) + 8.0;  // 84: the axis caption
    const double top = svg_margin + title_height + key_height + 16.0;  // 16: the "key" caption
    const double grid_width = svg_cell * static_cast<double>(S), grid_height = svg_cell * static_cast<double>(L);
    const double right_overhang = std::max(0.0, key_height - svg_cell / 2);  // the last key label leans right
    const double width = std::ceil(std::max(left + grid_width + right_overhang + svg_margin,
                                            svg_margin * 2 + characters(title) * 8.5));
    const double height = std::ceil(top + grid_height + svg_margin);

    std::ostringstream svg;
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width) << "\" height=\""
        << number(height) << "\" viewBox=\"0 0 " << number(width) << ' ' << number(height)
        << "\" font-family=\"DejaVu Sans, Verdana, sans-serif\" role=\"img\">\n";
    svg << "<title>" << xml_escape(title.empty() ? "Attention weights" : title)
        << ": row = query token, column = key token, weights in percent</title>\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    if (!title.empty()) {
        svg << "<text x=\"" << number(svg_margin) << "\" y=\"" << number(svg_margin + 16)
            << "\" font-size=\"16\" font-weight=\"bold\" fill=\"#222222\">" << xml_escape(title) << "</text>\n";
    }
    // Captions: which axis is which.
    svg << "<text x=\"" << number(left - 8) << "\" y=\"" << number(top - 6)
        << "\" font-size=\"11\" font-style=\"italic\" fill=\"#666666\" text-anchor=\"end\">query \u2193 key \u2192</text>\n";
    // Key labels along the top, leaning right.
    for (std::size_t j = 0; j < S; ++j) {
        const double x = left + svg_cell * (static_cast<double>(j) + 0.5) - 3, y = top - 8;
        svg << "<text x=\"" << number(x) << "\" y=\"" << number(y) << "\" font-size=\"" << number(svg_font)
            << "\" fill=\"#222222\" transform=\"rotate(-45 " << number(x) << ' ' << number(y) << ")\">"
            << xml_escape(key_tokens[j]) << "</text>\n";
    }
    // One row per query: its label, then its cells.
    for (std::size_t i = 0; i < L; ++i) {
        const double y = top + svg_cell * static_cast<double>(i);
        svg << "<text x=\"" << number(left - 8) << "\" y=\"" << number(y + svg_cell / 2 + svg_font * 0.35)
            << "\" font-size=\"" << number(svg_font) << "\" fill=\"#222222\" text-anchor=\"end\">"
            << xml_escape(query_tokens[i]) << "</text>\n";
        for (std::size_t j = 0; j < S; ++j) {
            const double x = left + svg_cell * static_cast<double>(j), w = weights(i, j);
            svg << "<rect x=\"" << number(x) << "\" y=\"" << number(y) << "\" width=\"" << number(svg_cell)
                << "\" height=\"" << number(svg_cell) << "\" fill=\"" << shade(w)
                << "\" stroke=\"#d0d0d0\" stroke-width=\"0.5\"/>";
            svg << "<text x=\"" << number(x + svg_cell / 2) << "\" y=\"" << number(y + svg_cell / 2 + 4)
                << "\" font-size=\"11\" text-anchor=\"middle\" fill=\"" << (w > 0.55 ? "#ffffff" : "#333333")
                << "\">" << std::lround(w * 100.0) << "</text>\n";
        }
    }
    svg << "<rect x=\"" << number(left) << "\" y=\"" << number(top) << "\" width=\"" << number(grid_width)
        << "\" height=\"" << number(grid_height) << "\" fill=\"none\" stroke=\"#888888\" stroke-width=\"1\"/>\n";
    svg << "</svg>\n";
    return svg.str();
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
    svg << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << number(width) << "\" height=\"" << number(height)
        << "\" viewBox=\"0 0 " << number(width) << ' ' << number(height) << "\">\n";
    svg << "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n";
    double x = 0.0, y = 0.0;
    for (std::size_t p = 0; p < panels.size(); ++p) {
        if (p > 0 && p % columns == 0) {
            x = 0.0;
            y += row_heights[p / columns - 1] + gap;
        }
        // A nested <svg> keeps each panel's own coordinates; x and y place it.
        const std::size_t start = panels[p].find("<svg");
        svg << "<svg x=\"" << number(x) << "\" y=\"" << number(y) << "\"" << panels[p].substr(start + 4);
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
