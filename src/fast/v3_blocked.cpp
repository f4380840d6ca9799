// Lesson 5, version 3: every matrix product with our packed, cache-blocked
// GEMM (gemm.hpp): the projections, and per head Q Kᵀ and P V. The softmax is
// still a separate pass over one head's whole (L, S) matrix of scores.
#include "fast/gemm.hpp"
#include "fast/online_softmax.hpp"
#include "fast/projection.hpp"
#include "fast/versions.hpp"
#include "fast/workspace.hpp"

namespace mha {

// [v3_forward]
FastAttentionResult forward_v3_blocked(const FloatParameters& parameters, const ForwardCall& call,
                                       bool need_weights) {
    const SimdKernels& kernels = *parameters.kernels;
    const std::size_t B = call.B, L = call.L, S = call.S, E = call.E, H = call.H, d_k = call.d_k;
    FastAttentionResult result = allocate_result(call, need_weights);  // output (B, L, E), weights (B, H, L, S)

    // ---- 1. Project: Q / sqrt(d_k), K, V with the blocked GEMM (one stacked product for self-attention) ----
    const ProjectedInputs projected = plan_projections(parameters, call, 1);
    for (const ProjectionRun& run : projected.runs) {
        run.compute(kernels);
    }
    const std::size_t stride = projected.row_stride;  // E, or 3E after the stacked product

    // ---- 2. and 3. Split into heads and attend: per head, scores = Q Kᵀ, softmax, output = P V ----
    float* context = workspace(WorkspaceBuffer::context, B * L * E);  // (B·L, E): every head writes its d_k columns
    float* scratch = need_weights ? nullptr : workspace(WorkspaceBuffer::scores, L * S);  // (L, S): one head's weights
    float* packed_keys = workspace(WorkspaceBuffer::packed_keys, packed_size(d_k, S, kernels.nr));      // Kᵀ (d_k, S)
    float* packed_values = workspace(WorkspaceBuffer::packed_values, packed_size(S, d_k, kernels.nr));  // V (S, d_k)
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t h = 0; h < H; ++h) {
            const float* q = projected.q + b * L * stride + h * d_k;  // (L, d_k), already scaled by 1/sqrt(d_k)
            const float* k = projected.k + b * S * stride + h * d_k;  // (S, d_k)
            const float* v = projected.v + b * S * stride + h * d_k;  // (S, d_k)
            float* out = context + b * L * E + h * d_k;               // (L, d_k), row stride E
            float* weights = need_weights ? result.weights.data() + (b * H + h) * L * S : scratch;  // (L, S)
            const PackedView k_transposed = pack_b_transposed(k, stride, d_k, S, kernels.nr, packed_keys);
            const PackedView v_packed = pack_b(v, stride, S, d_k, kernels.nr, packed_values);
            // scores (L, S) = Q_h (L, d_k) · K_hᵀ (d_k, S)
            gemm(kernels, L, q, stride, k_transposed, weights, S, false);
            const ScoreMask mask = call.mask_of(b, h);
            for (std::size_t i = 0; i < L; ++i) {
                mask.apply(i, 0, weights + i * S, S);
                softmax_row(kernels, weights + i * S, S);
            }
            // output (L, d_k) = P (L, S) · V_h (S, d_k)
            gemm(kernels, L, weights, S, v_packed, out, E, false);
        }
    }

    // ---- 4. and 5. Concatenate (done: the heads wrote side by side) and mix with W_o ----
    for (const ProjectionRun& run : split_into_runs(context, B * L, parameters.output, result.output.data(), 1,
                                                    kernels.mr)) {
        run.compute(kernels);
    }
    return result;
}
// [v3_forward]

}  // namespace mha
