// Lesson 5, version 2: the algorithm of lessons 1 and 4 with our own SIMD
// kernels (simd_kernels.hpp), W floats per instruction, and no blocking: every
// projection output and every score is one dot product of two rows.
#include <algorithm>

#include "fast/online_softmax.hpp"
#include "fast/versions.hpp"
#include "fast/workspace.hpp"

namespace mha {
namespace {

// y (rows, out) = x (rows, in) Wᵀ + b, every element one SIMD dot product of a row of x and a row of W.
void simd_linear(const SimdKernels& kernels, const float* x, std::size_t rows, const FloatLinear& layer, float* y) {
    const std::size_t out = layer.weight.shape(0), in = layer.weight.shape(1);
    for (std::size_t r = 0; r < rows; ++r) {
        for (std::size_t o = 0; o < out; ++o) {
            y[r * out + o] = layer.bias(o) + kernels.dot(x + r * in, layer.weight.data() + o * in, in);
        }
    }
}

// One head: the three passes of lesson 1, query row by query row.
//   q (L, d_k), already scaled by 1/sqrt(d_k), k (S, d_k), v (S, d_k): rows `stride` floats apart
//   weights (L, S): the scores, then the weights
//   out (L, d_k): rows `out_stride` floats apart
// [v2_attend_head]
void attend_head(const SimdKernels& kernels, std::size_t L, std::size_t S, std::size_t d_k, const float* q,
                 const float* k, const float* v, std::size_t stride, const ScoreMask& mask, float* weights, float* out,
                 std::size_t out_stride) {
    for (std::size_t i = 0; i < L; ++i) {
        const float* q_i = q + i * stride;  // (d_k)
        float* row = weights + i * S;        // (S)
        // Pass 1: query i against every key, one SIMD dot product each.
        for (std::size_t j = 0; j < S; ++j) {
            row[j] = kernels.dot(q_i, k + j * stride, d_k);
        }
        mask.apply(i, 0, row, S);
        // Pass 2: the row's softmax.
        softmax_row(kernels, row, S);
        // Pass 3: output row i = Σ_j weight(i, j) · V row j.
        float* out_i = out + i * out_stride;  // (d_k)
        std::fill(out_i, out_i + d_k, 0.0f);
        for (std::size_t j = 0; j < S; ++j) {
            if (row[j] != 0.0f) {  // masked keys add nothing
                kernels.axpy(row[j], v + j * stride, out_i, d_k);
            }
        }
    }
}
// [v2_attend_head]

}  // namespace

// [v2_forward]
FastAttentionResult forward_v2_simd(const FloatParameters& parameters, const ForwardCall& call, bool need_weights) {
    const SimdKernels& kernels = *parameters.kernels;
    const std::size_t B = call.B, L = call.L, S = call.S, E = call.E, H = call.H, d_k = call.d_k;
    FastAttentionResult result = allocate_result(call, need_weights);  // output (B, L, E), weights (B, H, L, S)

    // ---- 1. Project: Q / sqrt(d_k), K, V for every head, the batch entries stacked ----
    float* Q = workspace(WorkspaceBuffer::projections, B * L * E + 2 * B * S * E);  // (B·L, E)
    float* K = Q + B * L * E;                                                       // (B·S, E)
    float* V = K + B * S * E;                                                       // (B·S, E)
    simd_linear(kernels, call.query.data(), B * L, parameters.scaled_query, Q);
    simd_linear(kernels, call.key.data(), B * S, parameters.key, K);
    simd_linear(kernels, call.value.data(), B * S, parameters.value, V);

    // ---- 2. and 3. Split into heads (d_k columns each, in place) and attend ----
    float* context = workspace(WorkspaceBuffer::context, B * L * E);  // (B·L, E): every head writes its d_k columns
    float* scratch = need_weights ? nullptr : workspace(WorkspaceBuffer::scores, L * S);  // (L, S): one head's weights
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t h = 0; h < H; ++h) {
            float* weights = need_weights ? result.weights.data() + (b * H + h) * L * S : scratch;  // (L, S)
            attend_head(kernels, L, S, d_k, Q + b * L * E + h * d_k, K + b * S * E + h * d_k,
                        V + b * S * E + h * d_k, E, call.mask_of(b, h), weights,
                        context + b * L * E + h * d_k, E);
        }
    }

    // ---- 4. and 5. Concatenate (done: the heads wrote side by side) and mix with W_o ----
    simd_linear(kernels, context, B * L, parameters.output, result.output.data());
    return result;
}
// [v2_forward]

}  // namespace mha
