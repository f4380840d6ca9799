// Lesson 5 introduces this header: the input and output projections of
// v3 to v5, each a blocked matrix product y = x Wᵀ + b over runs of rows.
//
// The batch entries are stacked, so one product serves them all:
//
//   Q (B·L, E) = query (B·L, E)    (W_q / sqrt(d_k))ᵀ + b_q / sqrt(d_k)
//   K (B·S, E) = key   (B·S, kdim) W_kᵀ + b_k
//   V (B·S, E) = value (B·S, vdim) W_vᵀ + b_v
//
// and for self-attention, one tensor x as query, key and value, the three are
// one product with the weights stacked, as PyTorch's in_proj_weight stacks them:
//
//   [Q | K | V] (B·L, 3E) = x [W_q'; W_k; W_v]ᵀ + [b_q'; b_k; b_v]
//
// Each product is cut into runs of rows: independent tasks that v5 hands to its
// threads and that v3 and v4 simply run one after the other.
#pragma once

#include <cstddef>
#include <vector>

#include "fast/float_parameters.hpp"
#include "fast/forward_call.hpp"
#include "fast/packing.hpp"

/// @file
/// @brief The projections of the blocked versions, as runs of rows (introduced in @ref lesson05).

namespace mha {

/// Rows [first, first + rows) of y = x Wᵀ + b, with the blocked gemm(): y
/// starts as the bias in every row, gemm() adds x Wᵀ.
struct ProjectionRun {
    /// x, (rows of the whole product, in_features), row-major.
    const float* x = nullptr;
    /// The layer: W packed, and b.
    const FloatLinear* layer = nullptr;
    /// y, (rows of the whole product, out_features), row-major.
    float* y = nullptr;
    /// The first row of the run.
    std::size_t first = 0;
    /// The rows of the run.
    std::size_t rows = 0;

    /// Computes the run's rows of y.
    ///
    /// @param kernels the micro-kernel the layer was packed for.
    /// @throws std::invalid_argument if the layer was packed for another NR.
    /// @see @ref lesson05
    void compute(const SimdKernels& kernels) const;
};

/// A product cut into about `parts` runs of whole MR-row slivers, so that
/// threads share it evenly (the last run may be shorter).
///
/// @param x the input, (rows, in_features).
/// @param rows the rows of the product.
/// @param layer the layer.
/// @param y the output, (rows, out_features).
/// @param parts how many runs to aim for, at least 1.
/// @param mr MR: runs start on a multiple of it.
/// @return the runs, in order; none when rows is 0.
/// @throws std::bad_alloc.
/// @see @ref lesson05
std::vector<ProjectionRun> split_into_runs(const float* x, std::size_t rows, const FloatLinear& layer, float* y,
                                           std::size_t parts, std::size_t mr);

/// Q / sqrt(d_k), K and V of every head of every batch entry, where the input
/// projections leave them, and the runs that compute them.
///
/// Row i of batch entry b's Q is at `q + (b·L + i) · row_stride`; head h is its
/// d_k columns from h·d_k. K and V likewise, with S rows per entry.
struct ProjectedInputs {
    /// Q / sqrt(d_k): row r of (B·L, E) at q + r · row_stride.
    const float* q = nullptr;
    /// K: row r of (B·S, E) at k + r · row_stride.
    const float* k = nullptr;
    /// V: row r of (B·S, E) at v + r · row_stride.
    const float* v = nullptr;
    /// Floats from one row of Q, K or V to the next: E, or 3E when they come from the stacked product.
    std::size_t row_stride = 0;
    /// The products that fill them, as independent runs of rows: the stacked
    /// product's, or the three products' one after the other.
    std::vector<ProjectionRun> runs;
};

/// Places Q, K and V of one call in the thread's workspace (WorkspaceBuffer::projections):
/// Q (B·L, E), K (B·S, E) and V (B·S, E) one after the other, or [Q | K | V]
/// (B·L, 3E) side by side for self-attention; and plans the products that
/// compute them. Nothing is computed yet.
///
/// @param parameters the module's parameters in float.
/// @param call the inputs and their sizes.
/// @param parts_per_product how many runs each product is cut into: 1 for one thread.
/// @return where Q, K and V are, and the runs.
/// @throws std::bad_alloc.
/// @see @ref lesson05
ProjectedInputs plan_projections(const FloatParameters& parameters, const ForwardCall& call,
                                 std::size_t parts_per_product);

}  // namespace mha
