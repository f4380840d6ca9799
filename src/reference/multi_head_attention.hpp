// Lesson 4 introduces this header: complete multi-head attention, with the
// options of PyTorch's nn.MultiheadAttention, giving the same numbers.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "reference/linear.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"

/// @file
/// @brief Multi-head attention as PyTorch's `nn.MultiheadAttention` (introduced in @ref lesson04).

namespace mha {

/// An attention mask in any of the forms `nn.MultiheadAttention` accepts as `attn_mask`.
///
/// Boolean masks mean `true` = not allowed; float masks are added to the
/// scores. A 2-D mask (L, S) applies to every batch entry and head; a 3-D mask
/// (B·H, L, S) gives entry b, head h its own mask at index b·H + h.
/// Every form is stored as an additive mask of shape (1, L, S) or (B·H, L, S).
class AttentionMask {
public:
    /// A boolean mask of shape (L, S). @see @ref lesson04
    AttentionMask(const BoolMatrix& mask);      // implicit on purpose: pass any mask form
    /// An additive float mask of shape (L, S). @see @ref lesson04
    AttentionMask(const Matrix& additive_mask);
    /// A boolean mask per batch entry and head, shape (B·H, L, S). @see @ref lesson04
    AttentionMask(const BoolTensor3& mask);
    /// An additive float mask per batch entry and head, shape (B·H, L, S). @see @ref lesson04
    AttentionMask(const Tensor3& additive_mask);

    /// The mask in additive form, shape (1, L, S) or (B·H, L, S).
    const Tensor3& additive() const { return additive_; }

    /// Whether the mask was given per batch entry and head (3-D), rather than one (L, S) for all.
    bool per_head() const { return per_head_; }

private:
    Tensor3 additive_;
    bool per_head_ = false;
};

/// A mask of padding keys, as `key_padding_mask` of `nn.MultiheadAttention`:
/// shape (B, S), one row per batch entry. Boolean `true` marks a padding key
/// that no query may look at; a float mask is added to every query's scores.
class KeyPaddingMask {
public:
    /// A boolean mask of shape (B, S), `true` = padding. @see @ref lesson04
    KeyPaddingMask(const BoolMatrix& mask);
    /// An additive float mask of shape (B, S). @see @ref lesson04
    KeyPaddingMask(const Matrix& additive_mask);

    /// The mask in additive form, shape (B, S).
    const Matrix& additive() const { return additive_; }

private:
    Matrix additive_;
};

/// The masks a forward pass may take; all are optional and they add up.
struct AttentionMasks {
    /// `attn_mask`: (L, S) or (B·H, L, S), boolean or float.
    std::optional<AttentionMask> attention_mask;
    /// `key_padding_mask`: (B, S), boolean or float.
    std::optional<KeyPaddingMask> key_padding_mask;
    /// Also forbid every query i to look at keys j > i (lesson 1's causal_mask).
    bool causal = false;
};

/// What multi-head attention returns.
struct MultiHeadAttentionResult {
    /// (B, L, E): the attention output after the output projection.
    Tensor3 output;
    /// (B, H, L, S): every head's attention weights.
    Tensor4 weights;
};

/// Multi-head attention: H heads of scaled dot-product attention on learned
/// projections, concatenated and mixed by an output projection. The same
/// computation and parameters as PyTorch's `nn.MultiheadAttention(E, H,
/// batch_first=True)`.
///
/// The projections make Q (L, E), K (S, E) and V (S, E) from the query, key
/// and value inputs; each is cut into H heads of d_k = E / H columns; every
/// head attends on its own; the H outputs (L, d_k) are concatenated back to
/// (L, E) and multiplied by W_o.
struct MultiHeadAttention {
    /// H, the number of heads.
    std::size_t num_heads = 1;
    /// W_q (E, E) and b_q (E): PyTorch's rows [0, E) of `in_proj_weight`, or `q_proj_weight`.
    Linear query_projection;
    /// W_k (E, kdim) and b_k (E): rows [E, 2E) of `in_proj_weight`, or `k_proj_weight`.
    Linear key_projection;
    /// W_v (E, vdim) and b_v (E): rows [2E, 3E) of `in_proj_weight`, or `v_proj_weight`.
    Linear value_projection;
    /// W_o (E, E) and b_o (E): PyTorch's `out_proj`.
    Linear output_projection;

    /// E, the embedding size of queries and of the output.
    std::size_t embed_dim() const { return query_projection.out_features(); }
    /// d_k = E / H, the size of each head.
    std::size_t head_dim() const { return num_heads == 0 ? 0 : embed_dim() / num_heads; }
    /// The size of each key vector given to forward (E unless set otherwise).
    std::size_t kdim() const { return key_projection.in_features(); }
    /// The size of each value vector given to forward (E unless set otherwise).
    std::size_t vdim() const { return value_projection.in_features(); }

    /// Checks that the parameters fit together.
    /// @throws std::invalid_argument naming the parameter and its shape when
    ///         they do not: E not divisible by H, a projection of the wrong
    ///         shape, biases on some projections but not others.
    /// @see @ref lesson04
    void check() const;

    /// Attention of the query sequences over the key and value sequences.
    ///
    /// @param query shape (B, L, E).
    /// @param key shape (B, S, kdim).
    /// @param value shape (B, S, vdim).
    /// @param masks optional masks; masked entries get weight 0, and a query
    ///        whose keys are all masked gets zero weights (PyTorch gives NaN).
    /// @return output (B, L, E) and weights (B, H, L, S).
    /// @throws std::invalid_argument if check() fails, or an input or mask has
    ///         the wrong shape; the message names it and gives the shapes.
    /// @see @ref lesson04
    MultiHeadAttentionResult forward(const Tensor3& query, const Tensor3& key, const Tensor3& value,
                                     const AttentionMasks& masks = {}) const;
};

/// The masks of batch entry b as one additive (L, S) mask per head: the
/// causal mask, attn_mask (its (L, S) form, or entry b·H + h of the per-head
/// form) and row b of key_padding_mask, added up.
///
/// @param masks the masks of a forward call, already checked against the shapes.
/// @param b the batch entry.
/// @param num_heads H.
/// @param L the queries.
/// @param S the keys.
/// @return H matrices (L, S); all zeros where nothing is masked.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::vector<Matrix> head_masks(const AttentionMasks& masks, std::size_t b, std::size_t num_heads, std::size_t L,
                               std::size_t S);

/// Checks the shapes of one forward pass's inputs and masks before anything is
/// computed. MultiHeadAttention::forward and lesson 5's fast version share it,
/// so that both reject the same inputs with the same messages.
///
/// @param function the name that starts each message, such as `MultiHeadAttention::forward`.
/// @param query_shape the query's shape, (B, L, E).
/// @param key_shape the key's shape, (B, S, kdim).
/// @param value_shape the value's shape, (B, S, vdim).
/// @param embed_dim E.
/// @param num_heads H.
/// @param kdim the module's key width.
/// @param vdim the module's value width.
/// @param masks the masks of the call.
/// @throws std::invalid_argument naming the function, the input or mask and the shapes.
/// @see @ref lesson04
void check_forward_shapes(const std::string& function, const std::vector<std::size_t>& query_shape,
                          const std::vector<std::size_t>& key_shape, const std::vector<std::size_t>& value_shape,
                          std::size_t embed_dim, std::size_t num_heads, std::size_t kdim, std::size_t vdim,
                          const AttentionMasks& masks);

/// Multi-head attention initialised as PyTorch initialises it: Xavier-uniform
/// projections, zero biases, and an output projection drawn uniformly from
/// [-1/sqrt(E), 1/sqrt(E)].
///
/// @param embed_dim E.
/// @param num_heads H; must divide E.
/// @param with_bias whether all four projections have biases.
/// @param random the generator to draw from; the same seed gives the same module.
/// @param kdim the size of key vectors; 0 means E.
/// @param vdim the size of value vectors; 0 means E.
/// @return the module.
/// @throws std::invalid_argument if a size is 0 or H does not divide E.
/// @see @ref lesson04
MultiHeadAttention random_multi_head_attention(std::size_t embed_dim, std::size_t num_heads, bool with_bias,
                                               RandomGenerator& random, std::size_t kdim = 0,
                                               std::size_t vdim = 0);

/// Averages attention weights over the heads, as PyTorch does with
/// `average_attn_weights=True`.
///
/// @param weights shape (B, H, L, S).
/// @return shape (B, L, S).
/// @throws std::invalid_argument if H is 0.
/// @see @ref lesson04
Tensor3 average_over_heads(const Tensor4& weights);

}  // namespace mha
