// Lesson 1 introduces this header: drawing a matrix of attention weights in
// the terminal, so that an example can show who attends to whom.
#pragma once

#include <string>
#include <vector>

#include "tensor.hpp"

/// @file
/// @brief Attention weights as a text heatmap (introduced in @ref lesson01).

namespace mha {

/// Renders attention weights as a text heatmap with one row per query token
/// and one column per key token.
///
/// Each cell is a shade block, from a blank for 0 through `░`, `▒` and `▓` to
/// `█` for 1, followed by the weight in hundredths: `▓ 62` is a weight of 0.62.
///
/// @param weights shape (L, S), entries in [0, 1].
/// @param query_tokens L labels for the rows.
/// @param key_tokens S labels for the columns.
/// @return the heatmap as UTF-8 text, one line per row plus a header line.
/// @throws std::invalid_argument if the label counts do not match the shape
///         of `weights`.
/// @see @ref lesson01
std::string terminal_heatmap(const Matrix& weights, const std::vector<std::string>& query_tokens,
                             const std::vector<std::string>& key_tokens);

}  // namespace mha
