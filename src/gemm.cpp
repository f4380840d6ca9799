// Lesson 5: the blocked matrix product. The arithmetic is all in the
// micro-kernel (xsimd_kernels.hpp); this file moves data so that the
// micro-kernel always finds its operands in the nearest cache.
#include "gemm.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mha {
namespace {

std::size_t round_up(std::size_t n, std::size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

}  // namespace

// ---- Packed views ----

PackedView PackedView::row_range(std::size_t first, std::size_t count) const {
    if (first > rows || count > rows - first) {
        throw std::out_of_range("PackedView::row_range: rows [" + std::to_string(first) + ", " +
                                std::to_string(first + count) + ") of a packed matrix with " + std::to_string(rows) +
                                " rows");
    }
    PackedView view = *this;
    view.data = data + first * nr;  // row k of every panel starts k·NR floats into it
    view.rows = count;
    return view;
}

PackedView PackedView::column_range(std::size_t first, std::size_t count) const {
    if (nr == 0 || first % nr != 0 || first > columns || count > columns - first) {
        throw std::out_of_range("PackedView::column_range: columns [" + std::to_string(first) + ", " +
                                std::to_string(first + count) + ") of a packed matrix with " +
                                std::to_string(columns) + " columns in panels of " + std::to_string(nr) +
                                "; the first must be a multiple of the panel width");
    }
    PackedView view = *this;
    view.data = data + first / nr * panel_stride;  // whole panels
    view.columns = count;
    return view;
}

std::size_t packed_size(std::size_t rows, std::size_t columns, std::size_t nr) {
    return rows * round_up(columns, nr);
}

PackedView pack_b(const float* b, std::size_t ldb, std::size_t rows, std::size_t columns, std::size_t nr,
                  float* packed) {
    const std::size_t panel_stride = rows * nr;
    for (std::size_t first = 0; first < columns; first += nr) {
        float* panel = packed + first / nr * panel_stride;  // (rows, NR)
        const std::size_t width = std::min(nr, columns - first);
        for (std::size_t k = 0; k < rows; ++k) {
            const float* row = b + k * ldb + first;
            std::copy(row, row + width, panel + k * nr);
            std::fill(panel + k * nr + width, panel + (k + 1) * nr, 0.0f);  // zeros pad the last panel
        }
    }
    return {packed, rows, columns, nr, panel_stride};
}

PackedView pack_b_transposed(const float* w, std::size_t ldw, std::size_t rows, std::size_t columns, std::size_t nr,
                             float* packed) {
    const std::size_t panel_stride = rows * nr;
    for (std::size_t first = 0; first < columns; first += nr) {
        float* panel = packed + first / nr * panel_stride;  // (rows, NR)
        const std::size_t width = std::min(nr, columns - first);
        // Row k of the panel is element k of rows first .. first + width of W:
        // written in order, while the reads walk those rows of W side by side.
        for (std::size_t k = 0; k < rows; ++k) {
            float* panel_row = panel + k * nr;
            for (std::size_t j = 0; j < width; ++j) {
                panel_row[j] = w[(first + j) * ldw + k];
            }
            std::fill(panel_row + width, panel_row + nr, 0.0f);  // zeros pad the last panel
        }
    }
    return {packed, rows, columns, nr, panel_stride};
}

PackedMatrix PackedMatrix::transposed(const float* w, std::size_t ldw, std::size_t rows, std::size_t columns,
                                      std::size_t nr) {
    PackedMatrix matrix;
    matrix.data_.resize(packed_size(rows, columns, nr));
    matrix.rows_ = rows;
    matrix.columns_ = columns;
    matrix.nr_ = nr;
    pack_b_transposed(w, ldw, rows, columns, nr, matrix.data_.data());
    return matrix;
}

PackedView PackedMatrix::view() const { return {data_.data(), rows_, columns_, nr_, rows_ * nr_}; }

// ---- Packing A, and the product of packed operands ----

std::size_t packed_a_size(std::size_t rows, std::size_t depth, std::size_t mr) { return round_up(rows, mr) * depth; }

void pack_a(const float* a, std::size_t lda, std::size_t rows, std::size_t depth, std::size_t mr, float* packed) {
    for (std::size_t first_row = 0; first_row < rows; first_row += mr) {
        const std::size_t sliver_rows = std::min(mr, rows - first_row);
        const float* top = a + first_row * lda;      // the sliver's first row of A
        float* sliver = packed + first_row * depth;  // (depth, MR)
        // The sliver is written in order, one column of MR floats after another,
        // while the reads walk down the MR rows of A side by side.
        for (std::size_t p = 0; p < depth; ++p) {
            float* column = sliver + p * mr;
            for (std::size_t r = 0; r < sliver_rows; ++r) {
                column[r] = top[r * lda + p];
            }
            for (std::size_t r = sliver_rows; r < mr; ++r) {
                column[r] = 0.0f;  // rows below the matrix: zeros, which add nothing
            }
        }
    }
}

void multiply_packed(const SimdKernels& kernels, std::size_t rows, const SliverView& a, const PackedView& b,
                     float* c, std::size_t ldc, bool accumulate) {
    const std::size_t MR = kernels.mr, NR = kernels.nr, depth = b.rows;
    if (b.nr != NR) {
        throw std::invalid_argument("multiply_packed: B was packed in panels of " + std::to_string(b.nr) +
                                    " columns, but the " + kernels.instruction_set + " micro-kernel takes " +
                                    std::to_string(NR));
    }
    // Tiles at the bottom or right edge of C, smaller than MR × NR, are computed
    // into this full-size tile and the part that exists is copied.
    alignas(64) float edge[16 * 64];
    if (MR * NR > sizeof edge / sizeof edge[0]) {
        throw std::logic_error("multiply_packed: the micro-tile is larger than the edge buffer");
    }
    for (std::size_t jr = 0; jr < b.columns; jr += NR) {  // B panel (depth, NR): stays in L1 for every sliver
        const float* b_panel = b.data + jr / NR * b.panel_stride;
        const std::size_t columns = std::min(NR, b.columns - jr);
        for (std::size_t ir = 0; ir < rows; ir += MR) {  // A sliver (MR, depth)
            const float* a_sliver = a.data + ir / MR * a.sliver_stride;
            float* c_tile = c + ir * ldc + jr;  // (MR, NR)
            const std::size_t tile_rows = std::min(MR, rows - ir);
            if (tile_rows == MR && columns == NR) {
                kernels.micro_kernel(depth, a_sliver, a.step, b_panel, c_tile, ldc, accumulate);
                continue;
            }
            std::fill(edge, edge + MR * NR, 0.0f);
            for (std::size_t r = 0; r < tile_rows && accumulate; ++r) {
                std::copy(c_tile + r * ldc, c_tile + r * ldc + columns, edge + r * NR);
            }
            kernels.micro_kernel(depth, a_sliver, a.step, b_panel, edge, NR, accumulate);
            for (std::size_t r = 0; r < tile_rows; ++r) {
                std::copy(edge + r * NR, edge + r * NR + columns, c_tile + r * ldc);
            }
        }
    }
}

// ---- The blocked product ----

void gemm(const SimdKernels& kernels, std::size_t rows, const float* a, std::size_t lda, const PackedView& b,
          float* c, std::size_t ldc, bool accumulate) {
    const std::size_t M = rows, K = b.rows, N = b.columns;
    const std::size_t MR = kernels.mr, NR = kernels.nr;
    if (b.nr != NR) {
        throw std::invalid_argument("gemm: B was packed in panels of " + std::to_string(b.nr) +
                                    " columns, but the " + kernels.instruction_set + " micro-kernel takes " +
                                    std::to_string(NR));
    }
    if (K == 0 && !accumulate) {  // an empty sum: C = 0
        for (std::size_t i = 0; i < M; ++i) {
            std::fill(c + i * ldc, c + i * ldc + N, 0.0f);
        }
        return;
    }
    const std::size_t MC = std::max(MR, GemmBlocking::mc / MR * MR);
    const std::size_t NC = std::max(NR, GemmBlocking::nc / NR * NR);
    const std::size_t KC = GemmBlocking::kc;

    // Each thread packs A into a buffer of its own, kept from one call to the next.
    thread_local AlignedFloats packed_a;
    packed_a.resize(std::max(packed_a.size(), MC * KC));

    for (std::size_t jc = 0; jc < N; jc += NC) {  // B block: columns [jc, jc + nc)
        const std::size_t nc = std::min(NC, N - jc);
        for (std::size_t pc = 0; pc < K; pc += KC) {  // the shared dimension: [pc, pc + kc)
            const std::size_t kc = std::min(KC, K - pc);
            const bool add = accumulate || pc > 0;  // after the first depth block, C holds a partial sum
            const PackedView b_block = b.column_range(jc, nc).row_range(pc, kc);  // (kc, nc)
            for (std::size_t ic = 0; ic < M; ic += MC) {  // A block: rows [ic, ic + mc)
                const std::size_t mc = std::min(MC, M - ic);
                pack_a(a + ic * lda + pc, lda, mc, kc, MR, packed_a.data());  // (mc, kc) -> slivers of MR rows
                multiply_packed(kernels, mc, SliverView::packed(packed_a.data(), kc, MR), b_block, c + ic * ldc + jc,
                                ldc, add);
            }
        }
    }
}

}  // namespace mha
