// Lesson 5 introduces this header: a fast matrix product (GEMM), built the way
// GotoBLAS and BLIS build theirs: pack the operands, block for the caches, and
// let a small register-blocked micro-kernel do all the arithmetic.
//
//   C (M, N) = A (M, K) · B (K, N)
//
// A naive triple loop reads every element of A and B from memory N or M times
// and gets a few percent of the CPU's peak. The blocked product reads each
// element from memory about once per block:
//
//   for jc in N step NC:                 B block KC × NC lives in L3
//     for pc in K step KC:
//       for ic in M step MC:             pack A block (MC, KC) into MR-row slivers: lives in L2
//         for jr in NC step NR:          B panel (KC, NR): lives in L1
//           for ir in MC step MR:        micro-kernel: the (MR, NR) tile of C lives in registers
//
// B is packed once, ahead of time (a weight matrix is packed when the module is
// built; K and V once per head); A is packed block by block as the product runs.
#pragma once

#include <cstddef>
#include <vector>

#include <xsimd/memory/xsimd_aligned_allocator.hpp>

#include "simd_kernels.hpp"

/// @file
/// @brief The blocked, packed matrix product (introduced in @ref lesson05).

namespace mha {

/// Floats aligned to 64 bytes: a cache line, and one AVX-512 register.
using AlignedFloats = std::vector<float, xsimd::aligned_allocator<float, 64>>;

/// The cache blocking of gemm(), in floats. MC is rounded down to a multiple of
/// MR and NC to a multiple of NR when the product runs.
struct GemmBlocking {
    /// KC, the depth of a block. The textbook choice keeps a KC × NR panel of B
    /// in the L1 cache (KC = 256: 32 KB of the 48 KB). Measured on Zen 5, a
    /// deeper block is faster: the whole of E = 512 or 768 in one pass writes
    /// each tile of C once instead of two or three times, and the 96 KB panel
    /// streams from the L2 cache in order, which the prefetcher keeps ahead of.
    static constexpr std::size_t kc = 768;
    /// MC, the rows of A packed at a time: an MC × KC block (504 KB) stays in the 1 MB L2 cache.
    static constexpr std::size_t mc = 168;
    /// NC, the columns of B per outer block: KC × NC (9 MB) stays in the 32 MB L3 cache.
    static constexpr std::size_t nc = 3072;
};

/// A read-only view of a matrix B (K, N) packed for the micro-kernel.
///
/// B is cut into panels of NR columns, the last one padded with zeros to NR
/// columns. Inside a panel the K rows follow one another, NR floats each, so
/// that the micro-kernel reads its panel from start to end:
/// B(k, p·NR + j) is at `data[p · panel_stride + k · NR + j]`.
struct PackedView {
    /// The first float of the first panel.
    const float* data = nullptr;
    /// K, the rows of B.
    std::size_t rows = 0;
    /// N, the columns of B.
    std::size_t columns = 0;
    /// NR, the width of a panel.
    std::size_t nr = 0;
    /// Floats from one panel to the next: rows · NR for a whole packed matrix.
    std::size_t panel_stride = 0;

    /// Rows [first, first + count) of the view: the same panels, entered `first` rows later.
    ///
    /// @param first the first row, at most rows.
    /// @param count the number of rows, at most rows - first.
    /// @return the view of those rows.
    /// @throws std::out_of_range if the rows are not all in the view.
    /// @see @ref lesson05
    PackedView row_range(std::size_t first, std::size_t count) const;

    /// Columns [first, first + count) of the view: a run of whole panels.
    ///
    /// @param first the first column, a multiple of NR.
    /// @param count the number of columns, at most columns - first.
    /// @return the view of those columns.
    /// @throws std::out_of_range if `first` is not a multiple of NR or the columns are not all in the view.
    /// @see @ref lesson05
    PackedView column_range(std::size_t first, std::size_t count) const;
};

/// The floats needed to pack a (rows, columns) matrix into panels of NR columns.
///
/// @param rows K.
/// @param columns N.
/// @param nr NR.
/// @return rows · NR · ceil(columns / NR).
/// @throws nothing.
/// @see @ref lesson05
std::size_t packed_size(std::size_t rows, std::size_t columns, std::size_t nr);

/// Packs B, given row-major: B(k, n) = b[k · ldb + n]. Used for V in P V.
///
/// @param b the matrix, (rows, columns).
/// @param ldb its row stride, at least columns.
/// @param rows K.
/// @param columns N.
/// @param nr NR, the kernels' panel width.
/// @param packed packed_size(rows, columns, nr) floats to write.
/// @return the view of `packed`.
/// @throws nothing.
/// @see @ref lesson05
PackedView pack_b(const float* b, std::size_t ldb, std::size_t rows, std::size_t columns, std::size_t nr,
                  float* packed);

/// Packs B = Wᵀ from W given row-major: B(k, n) = w[n · ldw + k].
///
/// For X Wᵀ with a weight stored as PyTorch stores it, (out_features,
/// in_features), and for Q Kᵀ: the rows of W (or K) become the columns of B.
///
/// @param w the matrix W, (columns, rows).
/// @param ldw its row stride, at least rows.
/// @param rows K, the columns of W.
/// @param columns N, the rows of W.
/// @param nr NR, the kernels' panel width.
/// @param packed packed_size(rows, columns, nr) floats to write.
/// @return the view of `packed`.
/// @throws nothing.
/// @see @ref lesson05
PackedView pack_b_transposed(const float* w, std::size_t ldw, std::size_t rows, std::size_t columns, std::size_t nr,
                             float* packed);

/// A packed matrix that owns its floats: a weight, packed once.
class PackedMatrix {
public:
    /// An empty (0, 0) matrix.
    PackedMatrix() = default;

    /// Packs B = Wᵀ, as pack_b_transposed() does, into memory of its own.
    ///
    /// @param w W, (columns, rows), row-major with row stride ldw.
    /// @param ldw the row stride of W.
    /// @param rows K, the columns of W.
    /// @param columns N, the rows of W.
    /// @param nr NR, the kernels' panel width.
    /// @return the packed matrix.
    /// @throws std::bad_alloc.
    /// @see @ref lesson05
    static PackedMatrix transposed(const float* w, std::size_t ldw, std::size_t rows, std::size_t columns,
                                   std::size_t nr);

    /// The view gemm() takes.
    /// @see @ref lesson05
    PackedView view() const;

private:
    AlignedFloats data_;
    std::size_t rows_ = 0, columns_ = 0, nr_ = 0;
};

/// The floats pack_a() writes for a (rows, depth) block of A.
///
/// @param rows the rows of A.
/// @param depth the columns of A (K).
/// @param mr MR, the kernels' sliver height.
/// @return ceil(rows / MR) · MR · depth.
/// @throws nothing.
/// @see @ref lesson05
std::size_t packed_a_size(std::size_t rows, std::size_t depth, std::size_t mr);

/// Packs A (rows, depth) into slivers of MR rows, the order the micro-kernel reads it in.
///
/// Sliver s holds, for each p in [0, depth), the MR floats A(s·MR .. s·MR + MR, p):
/// A(s·MR + r, p) is at `packed[s · MR · depth + p · MR + r]`. Rows below the
/// last are zeros.
///
/// @param a A, row-major with row stride lda.
/// @param lda the row stride of A, in floats.
/// @param rows the rows of A.
/// @param depth the columns of A.
/// @param mr MR, the kernels' sliver height.
/// @param packed packed_a_size(rows, depth, mr) floats to write.
/// @throws nothing.
/// @see @ref lesson05
void pack_a(const float* a, std::size_t lda, std::size_t rows, std::size_t depth, std::size_t mr, float* packed);

/// A read-only view of a matrix A (M, K) laid out as the micro-kernel reads it:
/// slivers of MR rows, and in sliver s, A(s·MR + r, p) at
/// `data[s · sliver_stride + p · step + r]`.
///
/// pack_a() writes this layout: step = MR, sliver_stride = MR · K. A matrix
/// held transposed, Aᵀ (K, M) row-major with row stride ld, is in it already:
/// step = ld, sliver_stride = MR, and no packing is needed. Lesson 5's fused
/// attention keeps its block of weights that way.
struct SliverView {
    /// A(0, 0).
    const float* data = nullptr;
    /// Floats from one sliver to the next.
    std::size_t sliver_stride = 0;
    /// Floats from one column of a sliver to the next.
    std::size_t step = 0;

    /// The view of A (rows, depth) packed by pack_a() with the same MR.
    ///
    /// @param packed_a what pack_a() wrote.
    /// @param depth K, the columns of A.
    /// @param mr MR.
    /// @return the view.
    /// @throws nothing.
    /// @see @ref lesson05
    static SliverView packed(const float* packed_a, std::size_t depth, std::size_t mr) {
        return {packed_a, mr * depth, mr};
    }

    /// The view of A given as Aᵀ (K, M), row-major with row stride ld.
    ///
    /// @param a_transposed Aᵀ; its rows must be readable up to a multiple of MR
    ///        columns (the last sliver reads MR columns, whatever M is).
    /// @param ld the row stride of Aᵀ, in floats.
    /// @param mr MR.
    /// @return the view.
    /// @throws nothing.
    /// @see @ref lesson05
    static SliverView transposed(const float* a_transposed, std::size_t ld, std::size_t mr) {
        return {a_transposed, mr, ld};
    }
};

/// C = A B (or C += A B) for operands both packed already: every MR × NR tile
/// of C in one micro-kernel call over the whole depth, without cache blocking.
///
/// gemm() calls it for each block it has packed. Attention calls it directly
/// on blocks small enough to stay in cache, so that a block of queries packed
/// once serves every block of keys.
///
/// @param kernels the micro-kernel to use.
/// @param rows M, the rows of A and C.
/// @param a A (M, K) in slivers of kernels.mr rows; K = b.rows.
/// @param b B (K, N), packed with NR = kernels.nr.
/// @param c C (M, N), row-major with row stride ldc.
/// @param ldc the row stride of C, in floats.
/// @param accumulate add A B to C (true) or overwrite C (false).
/// @throws std::invalid_argument if B was packed for another NR.
/// @see @ref lesson05
void multiply_packed(const SimdKernels& kernels, std::size_t rows, const SliverView& a, const PackedView& b,
                     float* c, std::size_t ldc, bool accumulate);

/// C = A B (or C += A B): the blocked matrix product on a packed B.
///
/// @param kernels the micro-kernel to use, with its MR and NR.
/// @param rows M, the rows of A and C.
/// @param a A, (M, K) row-major with row stride lda; K = b.rows.
/// @param lda the row stride of A, in floats.
/// @param b B, (K, N), packed with NR = kernels.nr.
/// @param c C, (M, N) row-major with row stride ldc.
/// @param ldc the row stride of C, in floats.
/// @param accumulate add A B to C (true) or overwrite C (false).
/// @throws std::invalid_argument if B was packed for another NR. Several
///         threads may call it at once: each packs A into a buffer of its own.
/// @see @ref lesson05
void gemm(const SimdKernels& kernels, std::size_t rows, const float* a, std::size_t lda, const PackedView& b,
          float* c, std::size_t ldc, bool accumulate);

}  // namespace mha
