// Lesson 5 introduces this header: the parameters of a lesson 4 module copied
// to float once, in the forms the five versions read them.
#pragma once

#include <cstddef>

#include <xtensor/xtensor.hpp>

#include "fast/packing.hpp"
#include "fast/simd_dispatch.hpp"
#include "reference/linear.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief Multi-head attention's parameters in float (introduced in @ref lesson05).

namespace mha {

/// One linear layer in float: y = x Wᵀ + b.
struct FloatLinear {
    /// W, (out_features, in_features), as PyTorch stores it: read by v1 (OpenBLAS) and v2 (dot products).
    xt::xtensor<float, 2> weight;
    /// b, (out_features); zeros when the layer has none (adding 0.0f changes nothing).
    xt::xtensor<float, 1> bias;
    /// Wᵀ, (in_features, out_features), packed for gemm(): read by v3 to v5.
    PackedMatrix packed;

    /// A lesson 4 layer in float, every weight and bias multiplied by `factor`.
    ///
    /// @param layer the layer in double.
    /// @param factor 1, or 1/sqrt(d_k) for the query projection.
    /// @param nr NR, the panel width of the micro-kernel that will read `packed`.
    /// @return the layer.
    /// @throws std::bad_alloc.
    /// @see @ref lesson05
    static FloatLinear from(const Linear& layer, double factor, std::size_t nr);
};

/// The parameters of multi-head attention in float, built once per module.
///
/// softmax(Q Kᵀ / sqrt(d_k)) = softmax((Q / sqrt(d_k)) Kᵀ), and
/// Q / sqrt(d_k) = X (W_q / sqrt(d_k))ᵀ + b_q / sqrt(d_k): scaling W_q and b_q
/// once saves v2 to v5 from multiplying every score.
struct FloatParameters {
    /// The kernels the packing was done for (its NR), and which every version calls.
    const SimdKernels* kernels = nullptr;
    /// E, the embedding size of queries and of the output.
    std::size_t embed_dim = 0;
    /// H, the number of heads.
    std::size_t num_heads = 0;
    /// d_k = E / H, the width of each head.
    std::size_t head_dim = 0;
    /// The width of key vectors (E unless set otherwise).
    std::size_t kdim = 0;
    /// The width of value vectors (E unless set otherwise).
    std::size_t vdim = 0;
    /// W_q and b_q as they are (v1, which scales the scores instead).
    FloatLinear query;
    /// W_q / sqrt(d_k) and b_q / sqrt(d_k) (v2 to v5).
    FloatLinear scaled_query;
    /// W_k (E, kdim) and b_k.
    FloatLinear key;
    /// W_v (E, vdim) and b_v.
    FloatLinear value;
    /// W_o (E, E) and b_o.
    FloatLinear output;
    /// [W_q / sqrt(d_k); W_k; W_v] (3E, E) and its biases: Q, K and V from one
    /// product, as PyTorch's in_proj_weight stacks them, for self-attention in
    /// v3 to v5. Empty when kdim or vdim differs from E.
    FloatLinear stacked;

    /// Copies (and packs) the parameters of a lesson 4 module.
    ///
    /// @param reference the module, already checked.
    /// @param kernels the kernels this CPU will run.
    /// @throws std::bad_alloc.
    /// @see @ref lesson05
    FloatParameters(const MultiHeadAttention& reference, const SimdKernels& kernels);
};

}  // namespace mha
