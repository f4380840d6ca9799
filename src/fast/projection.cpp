// Lesson 5: the projections of v3 to v5, as runs of rows of blocked products.
#include "fast/projection.hpp"

#include <algorithm>

#include "fast/gemm.hpp"
#include "fast/workspace.hpp"

namespace mha {

void ProjectionRun::compute(const SimdKernels& kernels) const {
    const std::size_t in = layer->weight.shape(1), out = layer->weight.shape(0);
    for (std::size_t r = first; r < first + rows; ++r) {
        std::copy(layer->bias.begin(), layer->bias.end(), y + r * out);  // y starts as the bias ...
    }
    gemm(kernels, rows, x + first * in, in, layer->packed.view(), y + first * out, out, true);  // ... plus x Wᵀ
}

std::vector<ProjectionRun> split_into_runs(const float* x, std::size_t rows, const FloatLinear& layer, float* y,
                                           std::size_t parts, std::size_t mr) {
    // Runs of whole slivers: a multiple of MR rows each, about rows / parts.
    const std::size_t chunk = std::max(mr, round_up((rows + parts - 1) / std::max<std::size_t>(parts, 1), mr));
    std::vector<ProjectionRun> runs;
    for (std::size_t first = 0; first < rows; first += chunk) {
        runs.push_back({x, &layer, y, first, std::min(chunk, rows - first)});
    }
    return runs;
}

ProjectedInputs plan_projections(const FloatParameters& parameters, const ForwardCall& call,
                                 std::size_t parts_per_product) {
    const std::size_t B = call.B, L = call.L, S = call.S, E = call.E, MR = parameters.kernels->mr;
    const auto append = [](std::vector<ProjectionRun>& runs, std::vector<ProjectionRun> more) {
        runs.insert(runs.end(), more.begin(), more.end());
    };
    ProjectedInputs projected;
    if (call.self_attention() && parameters.stacked.weight.size() > 0) {
        // [Q | K | V] (B·L, 3E) from one product: each row holds the query, key and value of one token.
        float* qkv = workspace(WorkspaceBuffer::projections, B * L * 3 * E);
        projected.q = qkv;
        projected.k = qkv + E;
        projected.v = qkv + 2 * E;
        projected.row_stride = 3 * E;
        projected.runs = split_into_runs(call.query.data(), B * L, parameters.stacked, qkv, parts_per_product, MR);
        return projected;
    }
    // Q (B·L, E), then K (B·S, E), then V (B·S, E): three products.
    float* q = workspace(WorkspaceBuffer::projections, B * L * E + 2 * B * S * E);
    float* k = q + B * L * E;
    float* v = k + B * S * E;
    projected.q = q;
    projected.k = k;
    projected.v = v;
    projected.row_stride = E;
    const std::size_t parts = parts_per_product;
    append(projected.runs, split_into_runs(call.query.data(), B * L, parameters.scaled_query, q, parts, MR));
    append(projected.runs, split_into_runs(call.key.data(), B * S, parameters.key, k, parts, MR));
    append(projected.runs, split_into_runs(call.value.data(), B * S, parameters.value, v, parts, MR));
    return projected;
}

}  // namespace mha
