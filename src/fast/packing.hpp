// Lesson 5 introduces this header: packing, the step that lays a matrix out
// in the order the GEMM micro-kernel reads it, so that the arithmetic never
// waits for scattered loads.
//
//   B (K, N) -> panels of NR columns:  the micro-kernel reads one row of NR floats per step
//   A (M, K) -> slivers of MR rows:    the micro-kernel reads one column of MR floats per step
//
// A weight is packed once, when the module is built. In attention, K and V are
// packed once per head, and v4 packs Qᵀ once per block of queries; each packed
// operand is then read by many micro-kernel calls.
#pragma once

#include <cstddef>
#include <vector>

#include <xsimd/memory/xsimd_aligned_allocator.hpp>

/// @file
/// @brief Packed operands of the blocked matrix product (introduced in @ref lesson05).

namespace mha {

/// n rounded up to a multiple: the padded size of a packed operand.
///
/// @param n a count.
/// @param multiple MR, NR or W; at least 1.
/// @return the smallest multiple of `multiple` that is >= n.
/// @throws nothing.
/// @see @ref lesson05
constexpr std::size_t round_up(std::size_t n, std::size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

/// Floats aligned to 64 bytes: a cache line, and one AVX-512 register.
using AlignedFloats = std::vector<float, xsimd::aligned_allocator<float, 64>>;

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

}  // namespace mha
