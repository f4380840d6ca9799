// Lesson 5: fused attention for one head, the kernel of v4 and v5.
#include "fast/fused_attention.hpp"

#include <algorithm>
#include <limits>

#include "fast/gemm.hpp"
#include "fast/workspace.hpp"

namespace mha {
namespace {

// Bk, the keys of one block: a multiple of MR (the rows of the K Qᵀ tiles).
// With Bq = 96, a (Bk, Bq) block of scores is 43 KB, about the size of the
// 48 KB L1 data cache of the Zen 5 it was tuned on. P V streams the block of V
// (28 KB at d_k = 64) and the accumulator (24 KB) through the cache too, so the
// scores do not all stay in L1 from the softmax to P V; much of the block
// comes back from L2. Blocks from 56 to 224 keys measured within the noise of
// one another; 112 stays.
std::size_t key_block(const SimdKernels& kernels) { return std::max(kernels.mr, 112 / kernels.mr * kernels.mr); }

}  // namespace

// ---- K and V of every head, packed once ----

FusedHeads::FusedHeads(const ForwardCall& call, const ProjectedInputs& projected, const SimdKernels& kernels,
                       float* context)
    : call_(call),
      projected_(projected),
      kernels_(kernels),
      context_(context),
      keys_size_(packed_a_size(call.S, call.d_k, kernels.mr)),
      values_size_(packed_size(call.S, call.d_k, kernels.nr)),
      packed_keys_(workspace(WorkspaceBuffer::packed_keys, call.B * call.H * keys_size_)),
      packed_values_(workspace(WorkspaceBuffer::packed_values, call.B * call.H * values_size_)) {}

void FusedHeads::pack(std::size_t b, std::size_t h) {
    const std::size_t S = call_.S, d_k = call_.d_k, stride = projected_.row_stride, index = b * call_.H + h;
    const float* k_head = projected_.k + b * S * stride + h * d_k;  // (S, d_k)
    const float* v_head = projected_.v + b * S * stride + h * d_k;  // (S, d_k)
    pack_a(k_head, stride, S, d_k, kernels_.mr, packed_keys_ + index * keys_size_);      // the A of K Qᵀ
    pack_b(v_head, stride, S, d_k, kernels_.nr, packed_values_ + index * values_size_);  // the B of P V
}

FusedHead FusedHeads::head(std::size_t b, std::size_t h) const {
    const std::size_t L = call_.L, S = call_.S, E = call_.E, d_k = call_.d_k, index = b * call_.H + h;
    FusedHead head;
    head.queries = L;
    head.head_dim = d_k;
    head.q = projected_.q + b * L * projected_.row_stride + h * d_k;  // (L, d_k)
    head.q_stride = projected_.row_stride;
    head.k_slivers = SliverView::packed(packed_keys_ + index * keys_size_, d_k, kernels_.mr);
    head.v_packed = {packed_values_ + index * values_size_, S, d_k, kernels_.nr, S * kernels_.nr};
    head.out = context_ + b * L * E + h * d_k;  // the head's d_k columns of (L, E)
    head.out_stride = E;
    head.mask = call_.mask_of(b, h);
    return head;
}

// ---- The kernel ----

void attend_fused(const SimdKernels& kernels, const FusedHead& head, std::size_t first_row, std::size_t rows) {
    const std::size_t d_k = head.head_dim;
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
        PackedView q_transposed = pack_b_transposed(head.q + i0 * head.q_stride, head.q_stride, d_k,
                                                    block_rows, kernels.nr, packed_q.data());  // (d_k, block_rows)
        q_transposed.columns = round_up(block_rows, kernels.nr);  // the last panel's zero columns too
        std::fill(accumulator.begin(), accumulator.end(), 0.0f);
        std::fill(running_max.begin(), running_max.end(), -std::numeric_limits<float>::infinity());
        std::fill(running_sum.begin(), running_sum.end(), 0.0f);
        // Under the causal mask the block's last query sees the most keys; later key blocks are skipped.
        const std::size_t key_end = head.mask.visible_keys(i0 + block_rows - 1);

        // [fused_key_block_loop]
        for (std::size_t j0 = 0; j0 < key_end; j0 += Bk) {
            const std::size_t block_keys = std::min(Bk, key_end - j0);  // keys [j0, j0 + block_keys)
            // Sᵀ (block_keys, block_rows) = K block (block_keys, d_k) · Qᵀ (d_k, block_rows), in whole
            // slivers of keys (K is packed with zero rows up to a multiple of MR)
            const SliverView k_block = {head.k_slivers.data + j0 / kernels.mr * head.k_slivers.sliver_stride,
                                        head.k_slivers.sliver_stride, head.k_slivers.step};
            multiply_packed(kernels, round_up(block_keys, kernels.mr), k_block, q_transposed, scores.data(), ld,
                            false);
            if (head.mask.touches(i0, j0, block_keys)) {
                head.mask.apply_transposed(i0, block_rows, j0, block_keys, scores.data(), ld);
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
                            head.v_packed.row_range(j0, block_keys), accumulator.data(), d_k, true);
        }
        // [fused_key_block_loop]
        // output row = accumulator row / sum (zeros for a fully masked query)
        for (std::size_t r = 0; r < block_rows; ++r) {
            float* out = head.out + (i0 + r) * head.out_stride;
            const float* acc = accumulator.data() + r * d_k;
            const float normaliser = running_sum[r] > 0.0f ? 1.0f / running_sum[r] : 0.0f;
            for (std::size_t c = 0; c < d_k; ++c) {
                out[c] = acc[c] * normaliser;
            }
        }
    }
}

}  // namespace mha
