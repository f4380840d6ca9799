// Lesson 1: matrix products as plain loops.
#include "reference/matmul.hpp"

#include <stdexcept>

namespace mha {

Matrix matmul(const Matrix& A, const Matrix& B) {
    if (A.shape(1) != B.shape(0)) {
        throw std::invalid_argument("matmul: A is " + shape_string(A) + " and B is " + shape_string(B) +
                                    ": A's column count must equal B's row count");
    }
    // EXERCISE matmul (lesson 1)
    // HINT: C has A's row count and B's column count; start from xt::zeros<double>({n, m}).
    // HINT: C(i, j) is the sum over p of A(i, p) * B(p, j): three nested loops over i, p and j.
    const std::size_t n = A.shape(0), k = A.shape(1), m = B.shape(1);
    Matrix C = xt::zeros<double>({n, m});  // (n, m)
    // The loop order i, p, j walks B and C row by row, so memory is read in order.
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t p = 0; p < k; ++p) {
            const double a = A(i, p);
            for (std::size_t j = 0; j < m; ++j) {
                C(i, j) += a * B(p, j);
            }
        }
    }
    return C;
    // END EXERCISE
}

Matrix matmul_transposed(const Matrix& A, const Matrix& B) {
    if (A.shape(1) != B.shape(1)) {
        throw std::invalid_argument("matmul_transposed: A is " + shape_string(A) + " and B is " + shape_string(B) +
                                    ": A and B must have the same column count");
    }
    const std::size_t n = A.shape(0), k = A.shape(1), m = B.shape(0);
    Matrix C = xt::zeros<double>({n, m});  // (n, m)
    // Each entry is the dot product of row i of A with row j of B: both rows are contiguous.
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t j = 0; j < m; ++j) {
            double dot = 0.0;
            for (std::size_t p = 0; p < k; ++p) {
                dot += A(i, p) * B(j, p);
            }
            C(i, j) = dot;
        }
    }
    return C;
}

}  // namespace mha
