// Lesson 6 introduces this header: the backward pass of an embedding table,
// where a gradient finally reaches the vectors the tokens started as.
#pragma once

#include <cstddef>
#include <vector>

#include "core/tensor.hpp"

/// @file
/// @brief The gradient of an embedding lookup (introduced in @ref lesson06).

namespace mha {

/// dL/dtable of an embedding lookup X = table[ids] (lesson 2's Embedding::forward).
///
/// Row i of X is a copy of row ids[i] of the table, so the gradient of that
/// table row is the sum of dX's rows over every i where the id occurs: a
/// token seen five times in the batch gets five rows added up; a token never
/// seen gets zero. The same function serves learned position embeddings,
/// whose ids are the positions 0, 1, …, L − 1 of every sequence.
///
/// @param ids N ids, each below `table_rows`.
/// @param grad_output dL/dX, shape (N, d_model).
/// @param table_rows the table's row count (the vocabulary size, or the longest sequence).
/// @return dL/dtable, shape (table_rows, d_model).
/// @throws std::invalid_argument if grad_output does not have one row per id, or an id is not below table_rows.
/// @see @ref lesson06
Matrix embedding_backward(const std::vector<std::size_t>& ids, const Matrix& grad_output, std::size_t table_rows);

}  // namespace mha
