// Lesson 1: a text heatmap of attention weights.
#include "heatmap.hpp"

#include <algorithm>
#include <cmath>
#include <iomanip>
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

}  // namespace mha
