// Lesson 3 introduces this header: several attention heads side by side, each
// with its own projections (the packed form PyTorch stores them in is in
// packed_projection.hpp). Lesson 4 adds concat_heads, the inverse of split_heads.
#pragma once

#include <cstddef>
#include <vector>

#include "reference/linear.hpp"
#include "core/random.hpp"
#include "reference/self_attention.hpp"
#include "core/tensor.hpp"

/// @file
/// @brief Attention heads, each with its own projections (introduced in @ref lesson03).

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

/// Runs scaled dot-product attention on every head of already projected Q, K
/// and V: each is cut into H heads (split_heads), and head h attends with its
/// own d_k columns of each, and its own mask if there is one.
///
/// This is the step that the lesson 3 heads, PyTorch's packed form and the
/// lesson 4 module share: they differ only in how Q, K and V are made.
///
/// @param Q shape (L, H·d_k): the queries of every head side by side.
/// @param K shape (S, H·d_k).
/// @param V shape (S, H·d_v).
/// @param num_heads H.
/// @param masks none, or H additive masks of shape (L, S), one per head.
/// @return H outputs (L, d_v) and H weight matrices (L, S).
/// @throws std::invalid_argument if H does not divide the columns, there are
///         masks but not H of them, or a shape does not fit (as
///         scaled_dot_product_attention() says).
/// @see @ref lesson03
HeadsResult attend_each_head(const Matrix& Q, const Matrix& K, const Matrix& V, std::size_t num_heads,
                             const std::vector<Matrix>& masks = {});

}  // namespace mha
