// Lesson 3 introduces this header: several attention heads side by side, each
// with its own projections, and the packed form PyTorch stores them in.
// Lesson 4 adds concat_heads, the inverse of split_heads.
#pragma once

#include <cstddef>
#include <vector>

#include "linear.hpp"
#include "random.hpp"
#include "self_attention.hpp"
#include "tensor.hpp"

/// @file
/// @brief Attention heads: separate and packed projections (introduced in @ref lesson03).

namespace mha {

/// Cuts the columns of a projected matrix into H equal heads.
///
/// (L, H·d_k) becomes H matrices of (L, d_k): head h gets columns
/// [h·d_k, (h+1)·d_k). PyTorch does the same with a reshape to (L, H, d_k)
/// and a transpose to (H, L, d_k).
///
/// @param projected shape (L, H·d_k), such as X W_qᵀ for all heads at once.
/// @param num_heads H.
/// @return H matrices, each (L, d_k).
/// @throws std::invalid_argument if H is 0 or does not divide the column count.
/// @see @ref lesson03
std::vector<Matrix> split_heads(const Matrix& projected, std::size_t num_heads);

/// Puts head outputs side by side: H matrices of (L, d_k) become (L, H·d_k),
/// the inverse of split_heads.
///
/// @param heads H matrices, all of the same shape (L, d_k).
/// @return shape (L, H·d_k); head h fills columns [h·d_k, (h+1)·d_k).
/// @throws std::invalid_argument if there are no heads or their shapes differ.
/// @see @ref lesson04
Matrix concat_heads(const std::vector<Matrix>& heads);

/// What a set of heads returns: one output and one weight matrix per head.
struct HeadsResult {
    /// H matrices (L, d_k): what each head read from the sequence.
    std::vector<Matrix> outputs;
    /// H matrices (L, S): each head's own attention pattern.
    std::vector<Matrix> weights;
};

/// H attention heads, each with its own W_q⁽ⁱ⁾, W_k⁽ⁱ⁾, W_v⁽ⁱ⁾ of shape
/// (d_k, d_model), d_k = d_model / H. Each head runs attention on its own.
struct AttentionHeads {
    /// Head i; every head is a lesson 2 SelfAttention with d_k = d_v = d_model / H.
    std::vector<SelfAttention> heads;

    /// Runs every head on X.
    ///
    /// @param X the token vectors, shape (L, d_model).
    /// @return H outputs (L, d_k) and H weight matrices (L, L).
    /// @throws std::invalid_argument if there are no heads or X does not fit
    ///         them; the message gives the shapes.
    /// @see @ref lesson03
    HeadsResult forward(const Matrix& X) const;

    /// Runs every head on X with the same boolean mask (`true` = not allowed).
    ///
    /// @param X the token vectors, shape (L, d_model).
    /// @param mask shape (L, L).
    /// @return H outputs (L, d_k) and H weight matrices (L, L).
    /// @throws std::invalid_argument as the unmasked overload does, and if the mask is not (L, L).
    /// @see @ref lesson03
    HeadsResult forward(const Matrix& X, const BoolMatrix& mask) const;
};

/// H heads with Xavier-uniform projections and zero biases.
///
/// @param d_model the size of each input row.
/// @param num_heads H; each head gets d_k = d_model / H.
/// @param with_bias whether the projections have biases.
/// @param random the generator to draw from; the same seed gives the same heads.
/// @return the heads.
/// @throws std::invalid_argument if H is 0 or does not divide d_model.
/// @see @ref lesson03
AttentionHeads random_attention_heads(std::size_t d_model, std::size_t num_heads, bool with_bias,
                                      RandomGenerator& random);

/// Cuts PyTorch's packed projection into separate heads.
///
/// PyTorch keeps all three projections of all heads in one `in_proj_weight`
/// of shape (3·d_model, d_model): rows [0, E) are W_q, [E, 2E) W_k and
/// [2E, 3E) W_v, and inside each, rows [h·d_k, (h+1)·d_k) belong to head h.
///
/// @param packed weight (3·d_model, d_model), bias (3·d_model) or (0).
/// @param num_heads H.
/// @return H heads whose outputs equal the packed computation's.
/// @throws std::invalid_argument if the weight is not (3E, E), the bias is
///         neither empty nor (3E), or H does not divide E.
/// @see @ref lesson03
AttentionHeads heads_from_packed_projection(const Linear& packed, std::size_t num_heads);

/// Runs H heads the way PyTorch does: one packed projection for Q, K and V of
/// every head at once, then split_heads, then attention per head.
///
/// @param packed weight (3·d_model, d_model), bias (3·d_model) or (0).
/// @param num_heads H.
/// @param X the token vectors, shape (L, d_model).
/// @return H outputs (L, d_k) and H weight matrices (L, L).
/// @throws std::invalid_argument if the shapes do not fit, as for heads_from_packed_projection.
/// @see @ref lesson03
HeadsResult packed_heads_forward(const Linear& packed, std::size_t num_heads, const Matrix& X);

}  // namespace mha
