// Lesson 6: the small matrix products of the fast training step.
//
// One loop does every product: it keeps rows of the result in registers and
// runs along contiguous rows of eight doubles at a time. It is compiled for
// AVX-512, AVX2 and plain x86-64, and the program picks one when it starts.
// Each sum adds its terms in the reference's order (no FMA contraction), so
// the training step agrees with the reference passes to the last bits or nearly.
#include "train/small_products.hpp"

#include <algorithm>

#if defined(__x86_64__) && !defined(__clang__)
#define MHA_SIMD_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define MHA_SIMD_CLONES
#endif

namespace mha {

namespace {

// The products. Matrices are row-major with a row stride (the "leading
// dimension"), so that one head's columns of Q, K or V are used in place:
// head h of Q is the (L, d_k) block starting at column h·d_k, rows d apart.
//
// One loop does them all: row i of C (n, m) += Σ over p of A(i, p) · row p
// of B (k, m). A(i, p) is read through two strides, so that the same loop
// also multiplies by Aᵀ (swap the strides). Row i of C stays in registers
// while p runs, which is what makes these tiny products fast; for that the
// compiler must know m, hence a copy for the widths the models use (d_k,
// d_model and 3·d_model: 8, 12, 16, 24, 48, 72, …) and a plain loop for any other.

/// Eight doubles, one AVX-512 register (two AVX2 ones, four SSE2 ones: the
/// compiler splits it for the instruction set of each clone). aligned(8) and
/// may_alias let it be loaded from any row of a double array.
using Lanes = double __attribute__((vector_size(64), aligned(8), may_alias));
/// Four doubles, for a row whose width is 4 more than a multiple of 8 (d_k = 12).
using HalfLanes = double __attribute__((vector_size(32), aligned(8), may_alias));

/// Rows i … i + R − 1 of C (n, M) += A · B, with A(i, p) = A[i · a_row + p · a_column]:
/// R rows at once, so that each vector of B, once loaded, serves R rows.
/// M is 8·W, or 8·W + 4, whose last four columns take a HalfLanes.
template <std::size_t M, std::size_t R>
[[gnu::always_inline]] inline void add_rows(double* __restrict C, std::size_t ldc, const double* __restrict A,
                                            std::size_t a_row, std::size_t a_column, const double* __restrict B,
                                            std::size_t ldb, std::size_t i, std::size_t k) {
    constexpr std::size_t W = M / 8;
    constexpr bool half = M % 8 == 4;
    static_assert(W >= 1 && (M % 8 == 0 || half), "M must be 8·W or 8·W + 4, W >= 1");
    Lanes rows[R][W];  // R rows of C, kept in registers while p runs
    HalfLanes tails[R];  // their last four columns, when M = 8·W + 4
    for (std::size_t r = 0; r < R; ++r) {
        for (std::size_t w = 0; w < W; ++w) {
            rows[r][w] = *reinterpret_cast<const Lanes*>(C + (i + r) * ldc + 8 * w);
        }
        if constexpr (half) {
            tails[r] = *reinterpret_cast<const HalfLanes*>(C + (i + r) * ldc + 8 * W);
        }
    }
    for (std::size_t p = 0; p < k; ++p) {
        double a[R];
        for (std::size_t r = 0; r < R; ++r) {
            a[r] = A[(i + r) * a_row + p * a_column];
        }
        for (std::size_t w = 0; w < W; ++w) {
            const Lanes b = *reinterpret_cast<const Lanes*>(B + p * ldb + 8 * w);
            for (std::size_t r = 0; r < R; ++r) {
                rows[r][w] += a[r] * b;
            }
        }
        if constexpr (half) {
            const HalfLanes b = *reinterpret_cast<const HalfLanes*>(B + p * ldb + 8 * W);
            for (std::size_t r = 0; r < R; ++r) {
                tails[r] += a[r] * b;
            }
        }
    }
    for (std::size_t r = 0; r < R; ++r) {
        for (std::size_t w = 0; w < W; ++w) {
            *reinterpret_cast<Lanes*>(C + (i + r) * ldc + 8 * w) = rows[r][w];
        }
        if constexpr (half) {
            *reinterpret_cast<HalfLanes*>(C + (i + r) * ldc + 8 * W) = tails[r];
        }
    }
}

/// C (n, M) += A (n, k) · B (k, M), for M = 8·W or 8·W + 4: as many rows at a
/// time as fit in about 24 of the 32 AVX-512 registers, up to 4.
template <std::size_t M>
MHA_SIMD_CLONES void add_product_fixed(double* __restrict C, std::size_t ldc, const double* __restrict A,
                                       std::size_t a_row, std::size_t a_column, const double* __restrict B,
                                       std::size_t ldb, std::size_t n, std::size_t k) {
    constexpr std::size_t registers_per_row = (M + 7) / 8;
    constexpr std::size_t R = std::max<std::size_t>(1, std::min<std::size_t>(4, 24 / registers_per_row));
    std::size_t i = 0;
    for (; i + R <= n; i += R) {
        add_rows<M, R>(C, ldc, A, a_row, a_column, B, ldb, i, k);
    }
    for (; i < n; ++i) {
        add_rows<M, 1>(C, ldc, A, a_row, a_column, B, ldb, i, k);
    }
}

/// The same for any width m.
MHA_SIMD_CLONES void add_product_any(double* __restrict C, std::size_t ldc, const double* __restrict A,
                                     std::size_t a_row, std::size_t a_column, const double* __restrict B,
                                     std::size_t ldb, std::size_t n, std::size_t k, std::size_t m) {
    for (std::size_t i = 0; i < n; ++i) {
        for (std::size_t p = 0; p < k; ++p) {
            const double a = A[i * a_row + p * a_column];
            for (std::size_t j = 0; j < m; ++j) {
                C[i * ldc + j] += a * B[p * ldb + j];
            }
        }
    }
}

void add_product_strided(double* C, std::size_t ldc, const double* A, std::size_t a_row, std::size_t a_column,
                         const double* B, std::size_t ldb, std::size_t n, std::size_t k, std::size_t m) {
    switch (m) {
        case 8: return add_product_fixed<8>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 12: return add_product_fixed<12>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 16: return add_product_fixed<16>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 24: return add_product_fixed<24>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 32: return add_product_fixed<32>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 48: return add_product_fixed<48>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 64: return add_product_fixed<64>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 72: return add_product_fixed<72>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        case 96: return add_product_fixed<96>(C, ldc, A, a_row, a_column, B, ldb, n, k);
        default: return add_product_any(C, ldc, A, a_row, a_column, B, ldb, n, k, m);
    }
}

}  // namespace

/// C (n, m) += A (n, k) · B (k, m).
void add_product(double* C, std::size_t ldc, const double* A, std::size_t lda, const double* B, std::size_t ldb,
                 std::size_t n, std::size_t k, std::size_t m) {
    add_product_strided(C, ldc, A, lda, 1, B, ldb, n, k, m);
}

/// C (n, m) += Aᵀ · B, for A (k, n) and B (k, m).
void add_transposed_product(double* C, std::size_t ldc, const double* A, std::size_t lda, const double* B,
                            std::size_t ldb, std::size_t n, std::size_t k, std::size_t m) {
    add_product_strided(C, ldc, A, 1, lda, B, ldb, n, k, m);
}

/// B (rows, columns) transposed into `out` (columns, rows); B's rows are ldb apart.
/// It writes `out` in order and reads B down its columns: writing down columns
/// 4 KB apart (Kᵀ has B·L = 512 columns) would land every write in the same
/// cache set, and ran ten times slower.
void transpose(std::vector<double>& out, const double* B, std::size_t ldb, std::size_t rows, std::size_t columns) {
    for (std::size_t c = 0; c < columns; ++c) {
        for (std::size_t r = 0; r < rows; ++r) {
            out[c * rows + r] = B[r * ldb + c];
        }
    }
}

}  // namespace mha
