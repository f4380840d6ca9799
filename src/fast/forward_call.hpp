// Lesson 5 introduces this header: one forward call of the fast attention, as
// each of the five versions receives it once its inputs have been checked.
#pragma once

#include <cstddef>

#include <xtensor/xtensor.hpp>

#include "fast/score_mask.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief The inputs and sizes of one forward call (introduced in @ref lesson05).

namespace mha {

/// A batch of sequences in float: (B, L, E) queries, (B, S, kdim) keys, ... (@ref lesson05).
using FloatTensor3 = xt::xtensor<float, 3>;

/// The inputs of one forward call and their sizes, in the names of the glossary.
///
/// FastMultiHeadAttention::forward() checks the inputs (shapes, finite values)
/// and hands this to the version asked for; no version checks anything again.
struct ForwardCall {
    /// (B, L, E): the query sequences.
    const FloatTensor3& query;
    /// (B, S, kdim): the key sequences.
    const FloatTensor3& key;
    /// (B, S, vdim): the value sequences.
    const FloatTensor3& value;
    /// attn_mask, key_padding_mask and causal, checked against the shapes.
    const AttentionMasks& masks;
    /// B, the batch entries.
    std::size_t B = 0;
    /// L, the queries of each entry.
    std::size_t L = 0;
    /// S, the keys and values of each entry.
    std::size_t S = 0;
    /// E, the embedding size of queries and of the output.
    std::size_t E = 0;
    /// H, the heads.
    std::size_t H = 0;
    /// d_k = E / H, the width of each head.
    std::size_t d_k = 0;

    /// Whether this is self-attention, forward(x, x, x): one tensor as query,
    /// key and value, so that Q, K and V can come from one stacked product.
    /// @see @ref lesson05
    bool self_attention() const { return &query == &key && &key == &value; }

    /// The masks of entry b, head h.
    /// @see @ref lesson05
    ScoreMask mask_of(std::size_t b, std::size_t h) const { return ScoreMask::for_head(masks, b, h, H, L, S); }
};

}  // namespace mha
