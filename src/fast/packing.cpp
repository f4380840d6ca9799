// Lesson 5: packing the operands of the blocked matrix product.
#include "fast/packing.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mha {

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

namespace {

// Packs B (rows, columns) into panels of NR columns, reading B(k, n) as
// element(k, n). Each panel row is written in order; the reads follow B's
// layout: along a row of B for pack_b, down NR rows of W side by side for
// pack_b_transposed.
template <class Element>
PackedView pack_panels(std::size_t rows, std::size_t columns, std::size_t nr, float* packed, Element element) {
    const std::size_t panel_stride = rows * nr;
    for (std::size_t first = 0; first < columns; first += nr) {
        float* panel = packed + first / nr * panel_stride;  // (rows, NR)
        const std::size_t width = std::min(nr, columns - first);
        for (std::size_t k = 0; k < rows; ++k) {
            float* panel_row = panel + k * nr;  // B(k, first .. first + NR)
            for (std::size_t j = 0; j < width; ++j) {
                panel_row[j] = element(k, first + j);
            }
            std::fill(panel_row + width, panel_row + nr, 0.0f);  // zeros pad the last panel
        }
    }
    return {packed, rows, columns, nr, panel_stride};
}

}  // namespace

PackedView pack_b(const float* b, std::size_t ldb, std::size_t rows, std::size_t columns, std::size_t nr,
                  float* packed) {
    return pack_panels(rows, columns, nr, packed, [=](std::size_t k, std::size_t n) { return b[k * ldb + n]; });
}

PackedView pack_b_transposed(const float* w, std::size_t ldw, std::size_t rows, std::size_t columns, std::size_t nr,
                             float* packed) {
    // B = Wᵀ: B(k, n) is W(n, k).
    return pack_panels(rows, columns, nr, packed, [=](std::size_t k, std::size_t n) { return w[n * ldw + k]; });
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

// ---- Packing A ----

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

}  // namespace mha
