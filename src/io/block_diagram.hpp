// Lesson 3 introduces this header: matrices drawn as coloured blocks, one colour
// per group of cells (a head, or one of W_q, W_k, W_v), so that the website can
// show where each number goes through split_heads, concat_heads and PyTorch's
// packed in_proj_weight. The examples fill the matrices by running that very code.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "core/tensor.hpp"

/// @file
/// @brief Matrices as coloured blocks, for the pictures of split_heads and concat_heads (introduced in @ref lesson03).

namespace mha {

/// One matrix of a block diagram: the number in each cell and the colour group
/// it belongs to.
struct BlockMatrix {
    /// Drawn above the matrix, such as "Q (4, 6)".
    std::string caption;
    /// (rows, columns): the number written in each cell (whole numbers without decimals).
    Matrix values;
    /// (rows, columns): each cell's group, an index into the diagram's legend; the group picks the colour.
    xt::xtensor<std::size_t, 2> groups;
    /// A gap after every this many columns, such as d_k to set the heads apart; 0 for none.
    std::size_t column_block = 0;
    /// A gap after every this many rows; 0 for none.
    std::size_t row_block = 0;
};

/// One step of a block diagram: a line of text, then its matrices left to right.
struct BlockStep {
    /// What this step did, such as "reshape to (L, H, d_k) = (4, 2, 3)".
    std::string caption;
    /// The matrices of this step, drawn left to right.
    std::vector<BlockMatrix> matrices;
};

/// Draws matrices as coloured blocks, one step under the other: each step's
/// caption, then its matrices side by side, each cell coloured by its group
/// and labelled with its number. A legend under the title names the groups.
/// Hovering over a cell shows its matrix, its row and column, its number and
/// its group (each cell is a `<g class="block">` with an SVG `<title>`).
///
/// @param steps the steps, top to bottom; each matrix's `groups` has the
///        shape of its `values`.
/// @param legend the name of each group, such as "head 0", "head 1".
/// @param title a heading drawn above everything; empty for none.
/// @return a standalone SVG document (UTF-8 text) whose root `<svg>` element
///         has its size in pixels in `width` and `height` attributes.
/// @throws std::invalid_argument if there are no steps, the legend is empty,
///         a step has no matrices, a matrix is empty, its `groups` do not
///         have the shape of its `values`, a group is not in the legend, or a
///         value is NaN.
/// @see @ref lesson03, @ref lesson04
std::string svg_block_diagram(const std::vector<BlockStep>& steps, const std::vector<std::string>& legend,
                              const std::string& title = "");

}  // namespace mha
