// Lesson 5: one attention head in float, three ways (v2, v3, v4).
#include "head_attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "online_softmax.hpp"

namespace mha {
namespace {

constexpr float minus_infinity = -std::numeric_limits<float>::infinity();

// A stable softmax of one row with the SIMD kernels: the three passes of
// lesson 1 (max, exp-and-sum, divide), W entries per instruction.
void softmax_row(const SimdKernels& kernels, float* row, std::size_t n) {
    const float row_max = kernels.max(row, n);
    if (row_max == minus_infinity) {  // every key masked: all weights 0, as in lesson 1
        std::fill(row, row + n, 0.0f);
        return;
    }
    const float sum = kernels.exp_sum(row, n, row_max);  // >= 1: the maximum contributes exp(0)
    kernels.scale(row, n, 1.0f / sum);
}

// The fused kernel's block sizes: about 64 queries (a multiple of MR, so that
// the micro-kernel has no ragged edge) against 128 keys (a multiple of NR):
// a (64, 128) block of scores is 32 KB and stays in the L1 cache.
std::size_t query_block(const SimdKernels& kernels) { return std::max(kernels.mr, 64 / kernels.mr * kernels.mr); }
constexpr std::size_t key_block = 128;

}  // namespace

// ---- Masks, applied a block at a time ----

void ScoreMask::apply(std::size_t row, std::size_t first_key, float* scores, std::size_t count) const {
    if (attention != nullptr) {
        const double* mask_row = attention + row * keys + first_key;
        for (std::size_t j = 0; j < count; ++j) {
            scores[j] += static_cast<float>(mask_row[j]);  // 0 keeps, -inf removes, others tilt
        }
    }
    if (padding != nullptr) {
        for (std::size_t j = 0; j < count; ++j) {
            scores[j] += static_cast<float>(padding[first_key + j]);
        }
    }
    if (causal) {
        // Keys j > row are in the future of query `row`.
        for (std::size_t j = std::max(first_key, row + 1); j < first_key + count; ++j) {
            scores[j - first_key] = minus_infinity;
        }
    }
}

std::size_t ScoreMask::visible_keys(std::size_t row) const { return causal ? std::min(keys, row + 1) : keys; }

// ---- v2: SIMD kernels, one row at a time ----

void attention_head_simd(const SimdKernels& kernels, const HeadProblem& problem, float* weights) {
    const std::size_t L = problem.queries, S = problem.keys, d_k = problem.head_dim;
    for (std::size_t i = 0; i < L; ++i) {
        const float* q_i = problem.q + i * problem.q_stride;  // (d_k), already scaled by 1/sqrt(d_k)
        float* row = weights + i * S;                         // (S)
        // Pass 1: query i against every key, one SIMD dot product each.
        for (std::size_t j = 0; j < S; ++j) {
            row[j] = kernels.dot(q_i, problem.k + j * problem.k_stride, d_k);
        }
        problem.mask.apply(i, 0, row, S);
        // Pass 2: the row's softmax.
        softmax_row(kernels, row, S);
        // Pass 3: output row i = Σ_j weight(i, j) · V row j.
        float* out_i = problem.out + i * problem.out_stride;  // (d_k)
        std::fill(out_i, out_i + d_k, 0.0f);
        for (std::size_t j = 0; j < S; ++j) {
            if (row[j] != 0.0f) {  // masked keys add nothing
                kernels.axpy(row[j], problem.v + j * problem.v_stride, out_i, d_k);
            }
        }
    }
}

// ---- v3: the blocked GEMM for Q Kᵀ and P V ----

void attention_head_blocked(const SimdKernels& kernels, const HeadProblem& problem, std::size_t first_row,
                            std::size_t rows, float* weights) {
    const std::size_t S = problem.keys;
    // scores (rows, S) = Q rows (rows, d_k) · Kᵀ (d_k, S)
    gemm(kernels, rows, problem.q + first_row * problem.q_stride, problem.q_stride, problem.k_transposed, weights, S,
         false);
    for (std::size_t r = 0; r < rows; ++r) {
        problem.mask.apply(first_row + r, 0, weights + r * S, S);
        softmax_row(kernels, weights + r * S, S);
    }
    // output rows (rows, d_k) = P (rows, S) · V (S, d_k)
    gemm(kernels, rows, weights, S, problem.v_packed, problem.out + first_row * problem.out_stride, problem.out_stride,
         false);
}

// ---- v4: fused, with the online softmax ----

void attention_head_fused(const SimdKernels& kernels, const HeadProblem& problem, std::size_t first_row,
                          std::size_t rows) {
    const std::size_t d_k = problem.head_dim;
    const std::size_t Bq = query_block(kernels);
    // Each thread keeps its blocks from one call to the next: no allocation once warm.
    thread_local AlignedFloats packed_q;     // the block's queries (Bq, d_k), packed once for every key block
    thread_local AlignedFloats scores;       // (Bq, key_block): one block of scores, then of weights
    thread_local AlignedFloats packed_p;     // the weights (Bq, key_block), packed for P V
    thread_local AlignedFloats accumulator;  // (Bq, d_k): Σ exp(s - m) V for the block's queries
    thread_local std::vector<OnlineSoftmax> softmax;  // (Bq): each query's running max and sum
    packed_q.resize(packed_a_size(Bq, d_k, kernels.mr));
    scores.resize(Bq * key_block);
    packed_p.resize(packed_a_size(Bq, key_block, kernels.mr));
    accumulator.resize(Bq * d_k);
    softmax.resize(Bq);

    for (std::size_t i0 = first_row; i0 < first_row + rows; i0 += Bq) {
        const std::size_t block_rows = std::min(Bq, first_row + rows - i0);  // queries [i0, i0 + block_rows)
        pack_a(problem.q + i0 * problem.q_stride, problem.q_stride, block_rows, d_k, kernels.mr, packed_q.data());
        std::fill(accumulator.begin(), accumulator.end(), 0.0f);
        std::fill(softmax.begin(), softmax.end(), OnlineSoftmax{});
        // Under the causal mask the block's last query sees the most keys; later key blocks are skipped.
        const std::size_t key_end = problem.mask.visible_keys(i0 + block_rows - 1);

        for (std::size_t j0 = 0; j0 < key_end; j0 += key_block) {
            const std::size_t block_keys = std::min(key_block, key_end - j0);  // keys [j0, j0 + block_keys)
            // scores (block_rows, block_keys) = Q block (block_rows, d_k) · Kᵀ block (d_k, block_keys)
            multiply_packed(kernels, block_rows, packed_q.data(), problem.k_transposed.column_range(j0, block_keys),
                            scores.data(), key_block, false);
            for (std::size_t r = 0; r < block_rows; ++r) {
                float* row = scores.data() + r * key_block;  // (block_keys)
                problem.mask.apply(i0 + r, j0, row, block_keys);
                // The row's running softmax takes in this block: row becomes exp(s - m_new) ...
                const float correction = softmax[r].absorb(kernels, row, block_keys);
                if (correction != 1.0f) {
                    // ... and what was accumulated against the old maximum shrinks to the new one.
                    kernels.scale(accumulator.data() + r * d_k, d_k, correction);
                }
            }
            // accumulator (block_rows, d_k) += P block (block_rows, block_keys) · V block (block_keys, d_k)
            pack_a(scores.data(), key_block, block_rows, block_keys, kernels.mr, packed_p.data());
            multiply_packed(kernels, block_rows, packed_p.data(), problem.v_packed.row_range(j0, block_keys),
                            accumulator.data(), d_k, true);
        }
        // output row = accumulator row / sum (zeros for a fully masked query)
        for (std::size_t r = 0; r < block_rows; ++r) {
            float* out = problem.out + (i0 + r) * problem.out_stride;
            const float* acc = accumulator.data() + r * d_k;
            const float normaliser = softmax[r].normaliser();
            for (std::size_t c = 0; c < d_k; ++c) {
                out[c] = acc[c] * normaliser;
            }
        }
    }
}

}  // namespace mha
