// Lesson 5: one attention head in float, three ways (v2, v3, v4).
#include "head_attention.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

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

// The fused kernel's key blocks: Bk keys, a multiple of MR (the rows of the
// K Qᵀ tiles). With Bq = 96 queries (fused_query_block), a (Bk, Bq) block of
// scores is 43 KB: it stays in the 48 KB L1 cache between the softmax and P V.
std::size_t key_block(const SimdKernels& kernels) { return std::max(kernels.mr, 112 / kernels.mr * kernels.mr); }

std::size_t round_up(std::size_t n, std::size_t multiple) { return (n + multiple - 1) / multiple * multiple; }

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

void ScoreMask::apply_transposed(std::size_t first_query, std::size_t queries, std::size_t first_key,
                                 std::size_t keys, float* scores_transposed, std::size_t ld) const {
    for (std::size_t k = 0; k < keys; ++k) {
        const std::size_t j = first_key + k;
        float* row = scores_transposed + k * ld;  // key j against queries first_query ...
        for (std::size_t q = 0; q < queries; ++q) {
            const std::size_t i = first_query + q;
            if (attention != nullptr) {
                row[q] += static_cast<float>(attention[i * this->keys + j]);
            }
            if (padding != nullptr) {
                row[q] += static_cast<float>(padding[j]);
            }
            if (causal && j > i) {
                row[q] = minus_infinity;
            }
        }
    }
}

bool ScoreMask::touches(std::size_t first_query, std::size_t first_key, std::size_t keys) const {
    return attention != nullptr || padding != nullptr || (causal && first_key + keys > first_query + 1);
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
    const std::size_t Bq = fused_query_block, Bk = key_block(kernels);
    // The block of scores is kept transposed, one row per key: row k holds key
    // k's score for each of the Bq queries. Its rows are padded to a multiple
    // of MR, because P V reads its columns in slivers of MR queries.
    const std::size_t ld = round_up(Bq, kernels.mr);
    // Every product below runs on whole micro-kernel tiles, never on the slower
    // edge path: the blocks are padded to multiples of MR and NR, and what the
    // padding computes (rows of zero queries, keys after the block, garbage in
    // accumulator rows past the block) is never read.
    // Each thread keeps its blocks from one call to the next: no allocation once warm.
    thread_local AlignedFloats packed_q;        // Qᵀ (d_k, Bq) of the query block, in panels of NR queries
    thread_local AlignedFloats scores;          // Sᵀ (Bk, ld): one block of scores, then of weights
    thread_local AlignedFloats accumulator;     // (ld, d_k): Σ exp(s - m) V for the block's queries
    thread_local AlignedFloats running_max;     // (Bq): m, each query's largest score so far
    thread_local AlignedFloats running_sum;     // (Bq): l, each query's Σ exp(s - m) so far
    thread_local AlignedFloats correction;      // (Bq): exp(m_old - m_new) for the latest key block
    packed_q.resize(packed_size(d_k, Bq, kernels.nr));
    scores.resize(Bk * ld);  // zeros the first time: the padding columns stay finite
    accumulator.resize(ld * d_k);
    running_max.resize(Bq);
    running_sum.resize(Bq);
    correction.resize(Bq);

    for (std::size_t i0 = first_row; i0 < first_row + rows; i0 += Bq) {
        const std::size_t block_rows = std::min(Bq, first_row + rows - i0);  // queries [i0, i0 + block_rows)
        const std::size_t lanes = round_up(block_rows, kernels.width);        // the softmax's columns
        PackedView q_transposed = pack_b_transposed(problem.q + i0 * problem.q_stride, problem.q_stride, d_k,
                                                    block_rows, kernels.nr, packed_q.data());  // (d_k, block_rows)
        q_transposed.columns = round_up(block_rows, kernels.nr);  // the last panel's zero columns too
        std::fill(accumulator.begin(), accumulator.end(), 0.0f);
        std::fill(running_max.begin(), running_max.end(), -std::numeric_limits<float>::infinity());
        std::fill(running_sum.begin(), running_sum.end(), 0.0f);
        // Under the causal mask the block's last query sees the most keys; later key blocks are skipped.
        const std::size_t key_end = problem.mask.visible_keys(i0 + block_rows - 1);

        for (std::size_t j0 = 0; j0 < key_end; j0 += Bk) {
            const std::size_t block_keys = std::min(Bk, key_end - j0);  // keys [j0, j0 + block_keys)
            // Sᵀ (block_keys, block_rows) = K block (block_keys, d_k) · Qᵀ (d_k, block_rows), in whole
            // slivers of keys (K is packed with zero rows up to a multiple of MR)
            const SliverView k_block = {problem.k_slivers.data + j0 / kernels.mr * problem.k_slivers.sliver_stride,
                                        problem.k_slivers.sliver_stride, problem.k_slivers.step};
            multiply_packed(kernels, round_up(block_keys, kernels.mr), k_block, q_transposed, scores.data(), ld,
                            false);
            if (problem.mask.touches(i0, j0, block_keys)) {
                problem.mask.apply_transposed(i0, block_rows, j0, block_keys, scores.data(), ld);
            }
            // Every query's running softmax takes in this block, W queries per instruction:
            // Sᵀ becomes exp(s - m_new), and correction[q] = exp(m_old - m_new) ...
            kernels.online_softmax_columns(scores.data(), block_keys, lanes, ld, running_max.data(),
                                           running_sum.data(), correction.data());
            for (std::size_t r = 0; r < block_rows; ++r) {
                if (correction[r] != 1.0f) {
                    // ... so what was accumulated against the old maximum shrinks to the new one.
                    kernels.scale(accumulator.data() + r * d_k, d_k, correction[r]);
                }
            }
            // accumulator (block_rows, d_k) += P (block_rows, block_keys) · V block (block_keys, d_k),
            // with P read in place: Sᵀ is P in the sliver layout already.
            multiply_packed(kernels, round_up(block_rows, kernels.mr),
                            SliverView::transposed(scores.data(), ld, kernels.mr),
                            problem.v_packed.row_range(j0, block_keys), accumulator.data(), d_k, true);
        }
        // output row = accumulator row / sum (zeros for a fully masked query)
        for (std::size_t r = 0; r < block_rows; ++r) {
            float* out = problem.out + (i0 + r) * problem.out_stride;
            const float* acc = accumulator.data() + r * d_k;
            const float normaliser = running_sum[r] > 0.0f ? 1.0f / running_sum[r] : 0.0f;
            for (std::size_t c = 0; c < d_k; ++c) {
                out[c] = acc[c] * normaliser;
            }
        }
    }
}

}  // namespace mha
