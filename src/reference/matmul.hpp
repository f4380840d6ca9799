// Lesson 1 introduces this header: the two matrix products attention needs,
// written as plain loops so that nothing is hidden. Lesson 5 makes them fast.
#pragma once

#include "core/tensor.hpp"

/// @file
/// @brief Matrix products written out as loops (introduced in @ref lesson01).

namespace mha {

/// The matrix product C = A B.
///
/// @param A shape (n, k).
/// @param B shape (k, m).
/// @return C, shape (n, m), with C(i, j) = sum over p of A(i, p) B(p, j).
/// @throws std::invalid_argument if A's column count differs from B's row
///         count; the message names both shapes.
/// @see @ref lesson01
Matrix matmul(const Matrix& A, const Matrix& B);

/// The product with the second matrix transposed, C = A Bᵀ: every row of A
/// dotted with every row of B. This is exactly the shape of Q Kᵀ, where each
/// query is compared with each key.
///
/// @param A shape (n, k).
/// @param B shape (m, k).
/// @return C, shape (n, m), with C(i, j) = sum over p of A(i, p) B(j, p).
/// @throws std::invalid_argument if A and B have different column counts;
///         the message names both shapes.
/// @see @ref lesson01
Matrix matmul_transposed(const Matrix& A, const Matrix& B);

}  // namespace mha
