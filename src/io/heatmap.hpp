// Lesson 1 introduces this header: drawing a matrix of attention weights in
// the terminal, so that an example can show who attends to whom, and as an SVG
// picture, which the examples write for the course's website. Lesson 2 adds a
// signed heatmap for its positional encodings.
#pragma once

#include <string>
#include <vector>

#include "core/tensor.hpp"

/// @file
/// @brief Attention weights as a text heatmap or an SVG picture (introduced in @ref lesson01).

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

/// Renders attention weights as an SVG heatmap: one square cell per (query,
/// key) pair, shaded from white (0) to dark blue (1) and labelled with the
/// weight in percent, the query tokens down the left side and the key tokens
/// along the top. Hovering over a cell shows its query token, key token and
/// the weight to five decimals (each cell is a `<g class="cell">` whose SVG
/// `<title>` reads, say, `query “it” → key “animal”: weight 0.48213`).
///
/// The lesson examples write these pictures when the environment variable
/// `MHA_FIGURES_DIR` names a folder, and the website shows them.
///
/// @param weights shape (L, S), entries in [0, 1] (values outside are shaded
///        as 0 or 1 but printed as they are).
/// @param query_tokens L labels for the rows.
/// @param key_tokens S labels for the columns.
/// @param title a heading drawn above the grid; empty for none.
/// @return a standalone SVG document (UTF-8 text) whose root `<svg>` element
///         has its size in pixels in `width` and `height` attributes. Labels
///         and title are XML-escaped.
/// @throws std::invalid_argument if the label counts do not match the shape
///         of `weights`, or if a weight is NaN.
/// @see @ref lesson01, svg_side_by_side
std::string svg_heatmap(const Matrix& weights, const std::vector<std::string>& query_tokens,
                        const std::vector<std::string>& key_tokens, const std::string& title = "");

/// Renders a matrix of signed numbers, such as the sinusoidal positional
/// encodings, as an SVG heatmap on a diverging scale: blue below 0, white at
/// 0, red above 0, as deep as the largest magnitude in the matrix (a colour bar
/// under the grid gives the scale). The cells carry no numbers; hovering over a
/// cell shows its row label, column label and value (each cell's SVG `<title>`).
///
/// svg_heatmap's blues start at white for 0 and treat every weight as in
/// [0, 1]; a sine's -0.8 and +0.8 would both look alike there. Hence this
/// second scale, introduced with the positional encodings.
///
/// @param values shape (rows, columns), any finite numbers.
/// @param row_labels one label per row, such as "pos 3".
/// @param column_labels one label per column.
/// @param title a heading drawn above the grid; empty for none.
/// @return a standalone SVG document (UTF-8 text) whose root `<svg>` element
///         has its size in pixels in `width` and `height` attributes.
/// @throws std::invalid_argument if the label counts do not match the shape
///         of `values`, or if a value is NaN or infinite.
/// @see @ref lesson02, svg_heatmap
std::string svg_signed_heatmap(const Matrix& values, const std::vector<std::string>& row_labels,
                               const std::vector<std::string>& column_labels, const std::string& title = "");

/// Composes several SVG pictures, such as one svg_heatmap per head, into one
/// SVG document: panels left to right, starting a new row after `columns`
/// panels, each row as tall as its tallest panel.
///
/// @param panels standalone SVG documents whose root `<svg>` element gives
///        `width` and `height` in pixels, as svg_heatmap writes them.
/// @param columns the number of panels per row; 0 puts them all in one row.
/// @return one standalone SVG document holding every panel (UTF-8 text).
/// @throws std::invalid_argument if `panels` is empty, or if a panel has no
///         root `<svg>` element with numeric `width` and `height`.
/// @see @ref lesson03 (one panel per head)
std::string svg_side_by_side(const std::vector<std::string>& panels, std::size_t columns = 0);

/// Saves an SVG picture when the environment variable `MHA_FIGURES_DIR` names a
/// folder (the website's build sets it, so that the lesson pages show what the
/// examples computed); does nothing when it is unset or empty.
///
/// @param file_name the picture's file name inside that folder, such as `lesson03-heads.svg`.
/// @param svg the picture, as svg_heatmap or svg_side_by_side return it.
/// @return the path written, or an empty string when no folder was asked for.
/// @throws std::runtime_error naming the path if the file cannot be written.
/// @see @ref lesson01
std::string write_figure(const std::string& file_name, const std::string& svg);

}  // namespace mha
