// Lesson 6 tests: the training step's small matrix products (train/small_products.hpp)
// against the plain triple loop of the definition, for every width: the widths the
// models use have their own register-blocked copies (8, 12, 16, 24, 32, 48, 64, 72,
// 96), every other width goes through the plain loop, and both must give the same sums.
#include <cmath>
#include <cstddef>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "train/small_products.hpp"

namespace {

struct Strided {
    std::vector<double> values;  // (rows, stride), the last stride − columns of each row unused
    std::size_t stride;
};

// A (rows, columns) matrix of random numbers, rows `stride` apart, as one head's
// columns inside a wider buffer are.
Strided random_matrix(std::size_t rows, std::size_t columns, std::size_t stride, std::mt19937_64& engine) {
    std::uniform_real_distribution<double> uniform(-1.0, 1.0);
    Strided m{std::vector<double>(rows * stride), stride};
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < columns; ++j) {
            m.values[i * stride + j] = uniform(engine);
        }
    }
    return m;
}

const std::size_t widths[] = {1, 3, 4, 5, 7, 8, 11, 12, 13, 16, 20, 24, 28, 32, 40, 48, 64, 72, 80, 96};

TEST(SmallProducts, AddProductIsTheTripleLoopForEveryWidth) {
    std::mt19937_64 engine(6);
    for (const std::size_t m : widths) {
        for (const std::size_t n : {1, 3, 4, 5, 9}) {
            const std::size_t k = 7;
            const Strided A = random_matrix(n, k, k + 2, engine), B = random_matrix(k, m, m + 3, engine);
            Strided C = random_matrix(n, m, m + 1, engine);
            std::vector<double> expected = C.values;  // C + A · B, term by term
            for (std::size_t i = 0; i < n; ++i) {
                for (std::size_t j = 0; j < m; ++j) {
                    for (std::size_t p = 0; p < k; ++p) {
                        expected[i * C.stride + j] += A.values[i * A.stride + p] * B.values[p * B.stride + j];
                    }
                }
            }
            mha::add_product(C.values.data(), C.stride, A.values.data(), A.stride, B.values.data(), B.stride, n, k, m);
            for (std::size_t i = 0; i < C.values.size(); ++i) {
                ASSERT_NEAR(C.values[i], expected[i], 1e-14) << "width " << m << ", " << n << " rows, element " << i;
            }
        }
    }
}

TEST(SmallProducts, AddTransposedProductIsTheTripleLoopForEveryWidth) {
    std::mt19937_64 engine(7);
    for (const std::size_t m : widths) {
        for (const std::size_t n : {1, 2, 4, 6}) {
            const std::size_t k = 5;
            const Strided A = random_matrix(k, n, n + 1, engine), B = random_matrix(k, m, m + 2, engine);
            Strided C = random_matrix(n, m, m, engine);
            std::vector<double> expected = C.values;  // C + Aᵀ · B
            for (std::size_t i = 0; i < n; ++i) {
                for (std::size_t j = 0; j < m; ++j) {
                    for (std::size_t p = 0; p < k; ++p) {
                        expected[i * C.stride + j] += A.values[p * A.stride + i] * B.values[p * B.stride + j];
                    }
                }
            }
            mha::add_transposed_product(C.values.data(), C.stride, A.values.data(), A.stride, B.values.data(),
                                        B.stride, n, k, m);
            for (std::size_t i = 0; i < C.values.size(); ++i) {
                ASSERT_NEAR(C.values[i], expected[i], 1e-14) << "width " << m << ", " << n << " rows, element " << i;
            }
        }
    }
}

}  // namespace
