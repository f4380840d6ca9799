// Lesson 5, version 4: v3's projections, and the attention of each head fused
// into one pass over blocks of keys with an online softmax (fused_attention.hpp),
// so that no (L, S) matrix of scores is ever formed.
#include "fast/fused_attention.hpp"
#include "fast/projection.hpp"
#include "fast/versions.hpp"
#include "fast/workspace.hpp"

namespace mha {

// [v4_forward]
xt::xtensor<float, 3> forward_v4_fused(const FloatParameters& parameters, const ForwardCall& call) {
    const SimdKernels& kernels = *parameters.kernels;
    const std::size_t B = call.B, L = call.L, E = call.E, H = call.H;
    xt::xtensor<float, 3> output = xt::xtensor<float, 3>::from_shape({B, L, E});

    // ---- 1. Project: Q / sqrt(d_k), K, V with the blocked GEMM (one stacked product for self-attention) ----
    const ProjectedInputs projected = plan_projections(parameters, call, 1);
    for (const ProjectionRun& run : projected.runs) {
        run.compute(kernels);
    }

    // ---- 2. and 3. Split into heads and attend: each head's K and V packed once, then the fused kernel ----
    float* context = workspace(WorkspaceBuffer::context, B * L * E);  // (B·L, E): every head writes its d_k columns
    FusedHeads heads(call, projected, kernels, context);
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t h = 0; h < H; ++h) {
            heads.pack(b, h);                                  // K in slivers of MR keys, V in panels of NR
            attend_fused(kernels, heads.head(b, h), 0, L);     // all L queries, 96 at a time
        }
    }

    // ---- 4. and 5. Concatenate (done: the heads wrote side by side) and mix with W_o ----
    for (const ProjectionRun& run : split_into_runs(context, B * L, parameters.output, output.data(), 1,
                                                    kernels.mr)) {
        run.compute(kernels);
    }
    return output;
}
// [v4_forward]

}  // namespace mha
