// Lesson 5 tests: packing and the blocked GEMM of every instruction set,
// against a naive triple loop in double precision, on awkward sizes: 1 × 1,
// sizes that are not multiples of MR, NR or the cache blocks, and strided
// operands.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <tuple>
#include <cstddef>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fast/gemm.hpp"
#include "fast/simd_dispatch.hpp"

namespace {

using mha::PackedView;
using mha::SimdKernels;

std::vector<float> varied(std::size_t n, double seed) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(std::sin(seed + 0.7 * i + 0.013 * i * i));
    }
    return x;
}

// The largest |actual - expected| / (1 + |expected|) over C (M, N), with strides.
double worst_error(const std::vector<float>& c, std::size_t ldc, const std::vector<double>& expected, std::size_t M,
                   std::size_t N) {
    double worst = 0.0;
    for (std::size_t i = 0; i < M; ++i) {
        for (std::size_t j = 0; j < N; ++j) {
            const double e = expected[i * N + j];
            const double error = std::abs(c[i * ldc + j] - e) / (1.0 + std::abs(e));
            worst = std::isnan(error) ? INFINITY : std::max(worst, error);
        }
    }
    return worst;
}

struct Size {
    std::size_t M, N, K;
};

std::string size_name(const Size& s) {
    return std::to_string(s.M) + "x" + std::to_string(s.N) + "x" + std::to_string(s.K);
}

class GemmTest : public ::testing::TestWithParam<std::tuple<const SimdKernels*, Size>> {};

// C = A B with A (M, K) and W (N, K), B = Wᵀ, in the layout of X Wᵀ; then C += A B again.
TEST_P(GemmTest, MatchesANaiveLoop) {
    const SimdKernels& kernels = *std::get<0>(GetParam());
    const auto [M, N, K] = std::get<1>(GetParam());
    const std::size_t lda = K + 3, ldc = N + 5;  // strided, as a head's columns inside (L, E) are
    const std::vector<float> A = varied(M * lda, 1.0);
    const std::vector<float> W = varied(N * K, 2.0);  // (N, K): row n is column n of B
    std::vector<double> expected(M * N, 0.0);
    for (std::size_t i = 0; i < M; ++i) {
        for (std::size_t j = 0; j < N; ++j) {
            for (std::size_t p = 0; p < K; ++p) {
                expected[i * N + j] += static_cast<double>(A[i * lda + p]) * W[j * K + p];
            }
        }
    }
    const mha::PackedMatrix packed = mha::PackedMatrix::transposed(W.data(), K, K, N, kernels.nr);
    std::vector<float> C(M * ldc, 123.0f);  // whatever is there is overwritten
    mha::gemm(kernels, M, A.data(), lda, packed.view(), C.data(), ldc, false);
    EXPECT_LE(worst_error(C, ldc, expected, M, N), 1e-5);
    // The padding columns of C are left alone.
    for (std::size_t i = 0; i < M; ++i) {
        for (std::size_t j = N; j < ldc; ++j) {
            ASSERT_EQ(C[i * ldc + j], 123.0f) << "wrote outside C at (" << i << ", " << j << ")";
        }
    }
    // accumulate = true adds A B once more: 2 A B.
    mha::gemm(kernels, M, A.data(), lda, packed.view(), C.data(), ldc, true);
    for (double& e : expected) {
        e *= 2.0;
    }
    EXPECT_LE(worst_error(C, ldc, expected, M, N), 1e-5);
}

std::string gemm_name(const ::testing::TestParamInfo<std::tuple<const SimdKernels*, Size>>& info) {
    std::string name = std::string(std::get<0>(info.param)->instruction_set) + "_" + size_name(std::get<1>(info.param));
    for (char& c : name) {
        c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    return name;
}

// 300 > MC = 168 rows; K = 800 > KC = 768 (two depth blocks); N = 3100 > NC = 3072.
INSTANTIATE_TEST_SUITE_P(EveryInstructionSet, GemmTest,
                         ::testing::Combine(::testing::ValuesIn(mha::available_simd_kernels()),
                                            ::testing::Values(Size{1, 1, 1}, Size{13, 37, 29}, Size{64, 64, 64},
                                                              Size{100, 3, 250}, Size{300, 20, 7}, Size{17, 9, 800},
                                                              Size{5, 3100, 2})),
                         gemm_name);

// ---- Packing ----

TEST(Packing, PanelsHoldNrColumnsRowAfterRowWithZeroPadding) {
    const std::size_t K = 3, N = 5, nr = 4;
    std::vector<float> B(K * N);  // B(k, n) = 10 k + n
    for (std::size_t k = 0; k < K; ++k) {
        for (std::size_t n = 0; n < N; ++n) {
            B[k * N + n] = static_cast<float>(10 * k + n);
        }
    }
    std::vector<float> packed(mha::packed_size(K, N, nr), -1.0f);
    ASSERT_EQ(packed.size(), 3u * 8u);  // two panels of (3, 4)
    const PackedView view = mha::pack_b(B.data(), N, K, N, nr, packed.data());
    const std::vector<float> expected = {0, 1, 2, 3, 10, 11, 12, 13, 20, 21, 22, 23,  // panel 0: columns 0..3
                                         4, 0, 0, 0, 14, 0, 0, 0, 24, 0, 0, 0};       // panel 1: column 4, padded
    EXPECT_EQ(packed, expected);
    EXPECT_EQ(view.panel_stride, K * nr);

    // The transposed packing of Bᵀ gives the same panels.
    std::vector<float> Bt(N * K);
    for (std::size_t k = 0; k < K; ++k) {
        for (std::size_t n = 0; n < N; ++n) {
            Bt[n * K + k] = B[k * N + n];
        }
    }
    std::vector<float> packed_t(packed.size(), -1.0f);
    mha::pack_b_transposed(Bt.data(), K, K, N, nr, packed_t.data());
    EXPECT_EQ(packed_t, expected);
}

TEST(Packing, ASliversHoldMrRowsColumnAfterColumnWithZeroPadding) {
    const std::size_t rows = 3, depth = 2, mr = 2;
    const std::vector<float> A = {1, 2,   // A (3, 2), row stride 2
                                  3, 4,
                                  5, 6};
    std::vector<float> packed(mha::packed_a_size(rows, depth, mr), -1.0f);
    ASSERT_EQ(packed.size(), 8u);  // two slivers of (2, MR = 2)
    mha::pack_a(A.data(), depth, rows, depth, mr, packed.data());
    const std::vector<float> expected = {1, 3, 2, 4,   // sliver 0: column 0 of rows 0-1, then column 1
                                         5, 0, 6, 0};  // sliver 1: row 2 and a zero row
    EXPECT_EQ(packed, expected);
}

TEST(Packing, MultiplyPackedEqualsGemm) {
    for (const SimdKernels* kernels : mha::available_simd_kernels()) {
        SCOPED_TRACE(kernels->instruction_set);
        const std::size_t M = 23, K = 19, N = 2 * kernels->nr + 3;
        const std::vector<float> A = varied(M * K, 5.0), W = varied(N * K, 6.0);
        const mha::PackedMatrix B = mha::PackedMatrix::transposed(W.data(), K, K, N, kernels->nr);
        std::vector<float> packed_a(mha::packed_a_size(M, K, kernels->mr));
        mha::pack_a(A.data(), K, M, K, kernels->mr, packed_a.data());
        std::vector<float> by_gemm(M * N), by_multiply(M * N);
        mha::gemm(*kernels, M, A.data(), K, B.view(), by_gemm.data(), N, false);
        mha::multiply_packed(*kernels, M, mha::SliverView::packed(packed_a.data(), K, kernels->mr), B.view(),
                             by_multiply.data(), N, false);
        EXPECT_EQ(by_gemm, by_multiply);  // the same micro-kernel calls in the same order: bit for bit
    }
}

TEST(Packing, AMatrixHeldTransposedNeedsNoPacking) {
    // A (M, K) given as Aᵀ (K, M) with a padded row stride: multiply_packed reads
    // it in place (SliverView::transposed) and must give the plain product A B.
    for (const SimdKernels* kernels : mha::available_simd_kernels()) {
        SCOPED_TRACE(kernels->instruction_set);
        const std::size_t M = 2 * kernels->mr + 3, K = 21, N = kernels->nr + 5;
        const std::size_t ld = (M + kernels->mr - 1) / kernels->mr * kernels->mr + 4;  // room for the last sliver
        const std::vector<float> A = varied(M * K, 8.0), B = varied(K * N, 9.0);
        std::vector<float> a_transposed(K * ld, 0.0f);
        for (std::size_t i = 0; i < M; ++i) {
            for (std::size_t p = 0; p < K; ++p) {
                a_transposed[p * ld + i] = A[i * K + p];
            }
        }
        std::vector<float> packed_b(mha::packed_size(K, N, kernels->nr));
        const PackedView b = mha::pack_b(B.data(), N, K, N, kernels->nr, packed_b.data());
        std::vector<float> C(M * N, 1.0f);  // accumulate onto ones
        mha::multiply_packed(*kernels, M, mha::SliverView::transposed(a_transposed.data(), ld, kernels->mr), b,
                             C.data(), N, true);
        for (std::size_t i = 0; i < M; ++i) {
            for (std::size_t j = 0; j < N; ++j) {
                double expected = 1.0;
                for (std::size_t p = 0; p < K; ++p) {
                    expected += static_cast<double>(A[i * K + p]) * B[p * N + j];
                }
                EXPECT_NEAR(C[i * N + j], expected, 1e-5 * (1.0 + std::abs(expected))) << "(" << i << ", " << j << ")";
            }
        }
    }
}

TEST(Packing, RowAndColumnRangesViewPartsOfTheMatrix) {
    const SimdKernels& kernels = mha::simd_kernels();
    const std::size_t K = 40, N = 3 * kernels.nr + 5, M = 7;
    const std::vector<float> B = varied(K * N, 3.0), A = varied(M * K, 4.0);
    std::vector<float> packed(mha::packed_size(K, N, kernels.nr));
    const PackedView whole = mha::pack_b(B.data(), N, K, N, kernels.nr, packed.data());
    // A (M, 10) · B rows [25, 35), columns [nr, N): the same as the naive product of those parts.
    const std::size_t k0 = 25, k_count = 10, n0 = kernels.nr, n_count = N - kernels.nr;
    const PackedView part = whole.row_range(k0, k_count).column_range(n0, n_count);
    std::vector<float> C(M * n_count);
    mha::gemm(kernels, M, A.data() + k0, K, part, C.data(), n_count, false);
    std::vector<double> expected(M * n_count, 0.0);
    for (std::size_t i = 0; i < M; ++i) {
        for (std::size_t j = 0; j < n_count; ++j) {
            for (std::size_t p = 0; p < k_count; ++p) {
                expected[i * n_count + j] += static_cast<double>(A[i * K + k0 + p]) * B[(k0 + p) * N + n0 + j];
            }
        }
    }
    EXPECT_LE(worst_error(C, n_count, expected, M, n_count), 1e-5);
    EXPECT_THROW(whole.column_range(1, 2), std::out_of_range);  // not a panel boundary
    EXPECT_THROW(whole.row_range(30, 11), std::out_of_range);   // past the last row
}

TEST(Gemm, RefusesAMatrixPackedForAnotherMicroKernel) {
    const SimdKernels& kernels = mha::simd_kernels();
    const std::vector<float> W = varied(6, 1.0), A = varied(6, 2.0);
    const mha::PackedMatrix packed = mha::PackedMatrix::transposed(W.data(), 3, 3, 2, kernels.nr + 1);
    std::vector<float> C(4);
    EXPECT_THROW(mha::gemm(kernels, 2, A.data(), 3, packed.view(), C.data(), 2, false), std::invalid_argument);
}

TEST(Gemm, AnEmptySumIsZero) {
    const SimdKernels& kernels = mha::simd_kernels();
    const mha::PackedMatrix packed = mha::PackedMatrix::transposed(nullptr, 0, 0, 3, kernels.nr);  // B (0, 3)
    std::vector<float> C(6, 5.0f);
    mha::gemm(kernels, 2, nullptr, 0, packed.view(), C.data(), 3, false);
    EXPECT_EQ(C, std::vector<float>(6, 0.0f));
}

}  // namespace
