// Lesson 5: the blocked matrix product. The arithmetic is all in the
// micro-kernel (simd_kernels.hpp); this file moves data so that the
// micro-kernel always finds its operands in the nearest cache.
#include "fast/gemm.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace mha {

// ---- The product of packed operands ----

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
