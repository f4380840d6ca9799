// Lesson 5, version 5: v4 on several threads. The heads are independent, and
// so are the blocks of queries within a head, and the rows of a projection:
// each step is cut into tasks that write disjoint parts of the result, which
// parallel_for() hands to the threads one at a time.
#include <algorithm>

#include "fast/fused_attention.hpp"
#include "fast/parallel_for.hpp"
#include "fast/projection.hpp"
#include "fast/versions.hpp"
#include "fast/workspace.hpp"

namespace mha {

// [v5_forward]
xt::xtensor<float, 3> forward_v5_threaded(const FloatParameters& parameters, const ForwardCall& call,
                                          std::size_t threads) {
    const SimdKernels& kernels = *parameters.kernels;
    const std::size_t B = call.B, L = call.L, E = call.E, H = call.H;
    xt::xtensor<float, 3> output = xt::xtensor<float, 3>::from_shape({B, L, E});
    const std::size_t parts = 2 * threads;  // runs of rows per product: two per thread evens out their ends

    // ---- 1. Project: the stacked product, or the three, all as one set of tasks ----
    const ProjectedInputs projected = plan_projections(parameters, call, parts);
    parallel_for(threads, projected.runs.size(), [&](std::size_t task) { projected.runs[task].compute(kernels); });

    // ---- 2. Split into heads: pack every head's K and V, one task per (entry, head) ----
    float* context = workspace(WorkspaceBuffer::context, B * L * E);  // (B·L, E): every head writes its d_k columns
    FusedHeads heads(call, projected, kernels, context);
    parallel_for(threads, B * H, [&](std::size_t task) { heads.pack(task / H, task % H); });

    // ---- 3. Attend: one task per (entry, head, block of 96 queries); the blocks are independent ----
    const std::size_t blocks = (L + fused_query_block - 1) / fused_query_block;
    parallel_for(threads, B * H * blocks, [&](std::size_t task) {
        const std::size_t b = task / (H * blocks), h = task / blocks % H, block = task % blocks;
        const std::size_t first = block * fused_query_block, rows = std::min(fused_query_block, L - first);
        attend_fused(kernels, heads.head(b, h), first, rows);
    });

    // ---- 4. and 5. Concatenate (done: the heads wrote side by side) and mix with W_o, by runs of rows ----
    const auto output_runs = split_into_runs(context, B * L, parameters.output, output.data(), parts,
                                             kernels.mr);
    parallel_for(threads, output_runs.size(), [&](std::size_t task) { output_runs[task].compute(kernels); });
    return output;
}
// [v5_forward]

}  // namespace mha
