// Lesson 6 introduces this header: the small matrix products of the fast
// training step (training_step.cpp), on row-major buffers with row strides.
#pragma once

#include <cstddef>
#include <vector>

/// @file
/// @brief Small matrix products for the training step (introduced in @ref lesson06).

namespace mha {

/// C (n, m) += A (n, k) · B (k, m); rows of A, B and C are lda, ldb and ldc apart.
/// @throws nothing.
/// @see @ref lesson06
void add_product(double* C, std::size_t ldc, const double* A, std::size_t lda, const double* B, std::size_t ldb,
                 std::size_t n, std::size_t k, std::size_t m);

/// C (n, m) += Aᵀ · B, for A (k, n) and B (k, m).
/// @throws nothing.
/// @see @ref lesson06
void add_transposed_product(double* C, std::size_t ldc, const double* A, std::size_t lda, const double* B,
                            std::size_t ldb, std::size_t n, std::size_t k, std::size_t m);

/// B (rows, columns), rows ldb apart, transposed into `out` (columns, rows); `out` holds at least rows · columns.
/// @throws nothing.
/// @see @ref lesson06
void transpose(std::vector<double>& out, const double* B, std::size_t ldb, std::size_t rows, std::size_t columns);

}  // namespace mha
