// Lesson 5 introduces this header: how much arithmetic one forward pass of
// multi-head attention is, the yardstick of every GFLOP/s the lesson reports.
#pragma once

#include <cstddef>

/// @file
/// @brief The floating-point operations of one forward pass (introduced in @ref lesson05).

namespace mha {

/// The floating-point operations of one self-attention forward pass, counted
/// as the benchmarks, `mha bench` and the report scripts count them: one
/// multiply-add is 2 operations, and per batch entry
///
///     Q, K, V and the output projection   4 products of (L, E) · (E, E)   8·L·E²
///     Q Kᵀ over all heads                 H products of (L, d_k) · (d_k, L)   2·L²·E
///     weights · V over all heads          H products of (L, L) · (L, d_k)   2·L²·E
///
/// The softmax, the biases and the masks are left out: they are O(L²·H) and
/// O(L·E), too few to matter at these sizes. The count is that of the full
/// computation, even for a causal mask, which lets the fused version skip
/// about half of the scores.
///
/// @param batch B.
/// @param seq_len L (= S: self-attention).
/// @param embed_dim E.
/// @return B · (8·L·E² + 4·L²·E), as a double, ready to divide by a time.
/// @throws nothing.
/// @see @ref lesson05
inline double attention_flops(std::size_t batch, std::size_t seq_len, std::size_t embed_dim) {
    const auto L = static_cast<double>(seq_len), E = static_cast<double>(embed_dim);
    return static_cast<double>(batch) * (8.0 * L * E * E + 4.0 * L * L * E);
}

}  // namespace mha
