// Lesson 7 introduces this header: attention with fewer key/value heads than
// query heads (grouped-query attention; multi-query attention when there is one),
// so that a decoder has less to keep in its KV cache.
#pragma once

#include <cstddef>

#include "core/random.hpp"
#include "core/tensor.hpp"
#include "reference/linear.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief Grouped-query and multi-query attention (introduced in @ref lesson07).

namespace mha {

/// Multi-head attention whose H query heads share G ≤ H key/value heads:
/// query head i reads key/value head ⌊i·G/H⌋ (key_value_head_for), so the
/// H/G query heads of a group look at the same keys and values.
///
///     G = H   lesson 4's multi-head attention (every query head has its own K and V)
///     1 < G < H   grouped-query attention, GQA (Ainslie et al. 2023)
///     G = 1   multi-query attention, MQA (Shazeer 2019)
///
/// Only the key and value projections shrink, from (E, E) to (G·d_k, E): the
/// queries, the output projection and d_k = E / H stay as they were.
struct GroupedQueryAttention {
    /// H, the query heads.
    std::size_t num_heads = 1;
    /// G, the key/value heads; it divides H.
    std::size_t num_kv_heads = 1;
    /// W_q (E, E) and b_q (E), as in lesson 4.
    Linear query_projection;
    /// W_k (G·d_k, E) and b_k (G·d_k): one block of d_k rows per key/value head.
    Linear key_projection;
    /// W_v (G·d_k, E) and b_v (G·d_k).
    Linear value_projection;
    /// W_o (E, E) and b_o (E), as in lesson 4.
    Linear output_projection;

    /// E, the width of the input and of the output.
    std::size_t embed_dim() const { return query_projection.out_features(); }
    /// d_k = E / H, the width of every head, query or key/value.
    std::size_t head_dim() const { return num_heads == 0 ? 0 : embed_dim() / num_heads; }
    /// G·d_k, the rows of W_k and W_v.
    std::size_t key_value_dim() const { return num_kv_heads * head_dim(); }

    /// Checks that the parameters fit together.
    /// @throws std::invalid_argument naming what is wrong: G = 0, G not dividing H,
    ///         H not dividing E, a projection or bias of the wrong shape, biases on
    ///         some projections only.
    /// @see @ref lesson07
    void check() const;

    /// Self-attention of every sequence over itself.
    ///
    /// @param x shape (B, L, E): the input, which is query, key and value.
    /// @param causal whether position i may look only at positions j ≤ i.
    /// @return output (B, L, E) and weights (B, H, L, L), one matrix per query head.
    /// @throws std::invalid_argument if check() fails or x is not (B, L, E) with B, L ≥ 1.
    /// @see @ref lesson07
    MultiHeadAttentionResult forward(const Tensor3& x, bool causal) const;
};

/// The key/value head that query head `query_head` reads: ⌊query_head·G/H⌋.
///
/// The H query heads are cut into G consecutive groups of H/G heads each; with
/// H = 8 and G = 2, heads 0-3 read key/value head 0 and heads 4-7 head 1.
///
/// @param query_head i, below H.
/// @param num_heads H.
/// @param num_kv_heads G; it divides H.
/// @return the key/value head, below G.
/// @throws std::invalid_argument if G is 0, G does not divide H, or i is not below H.
/// @see @ref lesson07
std::size_t key_value_head_for(std::size_t query_head, std::size_t num_heads, std::size_t num_kv_heads);

/// Checks H and G together: G ≥ 1 and G divides H.
///
/// @param function the name that starts the message, such as `GroupedQueryAttention`.
/// @param num_heads H.
/// @param num_kv_heads G.
/// @throws std::invalid_argument naming the function, H and G otherwise.
/// @see @ref lesson07
void check_head_counts(const char* function, std::size_t num_heads, std::size_t num_kv_heads);

/// Lesson 4's multi-head attention as grouped-query attention with G = H: the
/// same parameters, so forward gives the same numbers.
///
/// @param module a module with kdim = vdim = E.
/// @return the module with num_kv_heads = H.
/// @throws std::invalid_argument if the module fails MultiHeadAttention::check()
///         or its kdim or vdim is not E.
/// @see @ref lesson07
GroupedQueryAttention grouped_from_multi_head(const MultiHeadAttention& module);

/// Grouped-query attention written as lesson 4's multi-head attention: the block
/// of W_k, W_v (and their biases) of key/value head g is copied to every query
/// head of its group, giving (E, E) projections. The result computes the same
/// thing with G·(H/G) = H key/value heads, at H/G times the cache.
///
/// @param module grouped-query attention.
/// @return multi-head attention with H heads and kdim = vdim = E.
/// @throws std::invalid_argument if the module fails check().
/// @see @ref lesson07
MultiHeadAttention repeat_key_value_heads(const GroupedQueryAttention& module);

/// Grouped-query attention initialised as PyTorch initialises
/// nn.MultiheadAttention with separate projections (kdim ≠ E): every input
/// projection Xavier-uniform on its own shape, zero biases, the output
/// projection uniform in [-1/sqrt(E), 1/sqrt(E)].
///
/// @param embed_dim E.
/// @param num_heads H; it divides E.
/// @param num_kv_heads G; it divides H.
/// @param with_bias whether all four projections have biases.
/// @param random the generator; the same seed gives the same module.
/// @return the module.
/// @throws std::invalid_argument if a size is 0, H does not divide E or G does not divide H.
/// @see @ref lesson07
GroupedQueryAttention random_grouped_query_attention(std::size_t embed_dim, std::size_t num_heads,
                                                     std::size_t num_kv_heads, bool with_bias,
                                                     RandomGenerator& random);

}  // namespace mha
