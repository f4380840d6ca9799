// Lesson 6 introduces this header: the backward pass of the whole lesson 4
// module, the output projection, the concatenation, every head and the
// three input projections, in reverse order.
#pragma once

#include "core/tensor.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief The gradients of multi-head attention (introduced in @ref lesson06).

namespace mha {

/// dL/d(everything) of one multi-head attention call.
struct MultiHeadAttentionGradients {
    /// dL/dquery, shape (B, L, E).
    Tensor3 query;
    /// dL/dkey, shape (B, S, kdim).
    Tensor3 key;
    /// dL/dvalue, shape (B, S, vdim).
    Tensor3 value;
    /// The parameters' gradients, in a module of the same shapes: the gradient
    /// of W_q is `parameters.query_projection.weight`, and so on. Saved with
    /// save_parameters(), they get PyTorch's names (in_proj_weight.npy, ...).
    MultiHeadAttention parameters;
};

/// Backpropagates dL/doutput through MultiHeadAttention::forward.
///
/// The forward pass is run again for each batch entry, keeping what the
/// backward pass reads (as PyTorch's autograd saves tensors): the inputs, Q,
/// K and V, every head's weights and the concatenation. Then, per entry:
///
///     output = C W_oᵀ + b_o          linear_backward: dC (L, E), dW_o, db_o
///     C = concat(O_1 … O_H)          split_heads(dC): dO_h (L, d_k), the inverse of concat
///     O_h = attention(Q_h, K_h, V_h) attention_backward: dQ_h, dK_h, dV_h
///     Q_h = split(Q)_h, ...          concat_heads(dQ_h …): dQ (L, E), dK, dV (S, E)
///     Q = x_q W_qᵀ + b_q, ...        linear_backward: dx_q, dW_q, db_q, and the same for K and V
///
/// Parameter gradients add up over the batch entries, as the parameters are
/// shared by all of them. Self-attention's one tensor x, passed three times,
/// gets dquery + dkey + dvalue: the caller adds them (each input is its own
/// leaf here, as in PyTorch with three separate tensors).
///
/// @param module the module of the forward pass.
/// @param query shape (B, L, E).
/// @param key shape (B, S, kdim).
/// @param value shape (B, S, vdim).
/// @param masks the forward pass's masks; masked entries pass no gradient.
/// @param grad_output dL/doutput, shape (B, L, E).
/// @return dquery, dkey, dvalue and the parameters' gradients.
/// @throws std::invalid_argument when the inputs or masks do not fit (as
///         MultiHeadAttention::forward says), or grad_output is not (B, L, E).
/// @see @ref lesson06
MultiHeadAttentionGradients multi_head_attention_backward(const MultiHeadAttention& module, const Tensor3& query,
                                                          const Tensor3& key, const Tensor3& value,
                                                          const AttentionMasks& masks, const Tensor3& grad_output);

}  // namespace mha
