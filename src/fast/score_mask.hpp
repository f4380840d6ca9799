// Lesson 5 introduces this header: the masks of lesson 4, applied a block of
// scores at a time, so that no version has to build an (L, S) mask per head.
#pragma once

#include <cstddef>

#include "reference/multi_head_attention.hpp"

/// @file
/// @brief The masks of one head, applied to blocks of scores (introduced in @ref lesson05).

namespace mha {

/// The masks of one (batch entry, head), read where the caller stores them.
///
/// Lesson 4 adds the causal mask, attn_mask and key_padding_mask into one
/// (L, S) matrix per head. Here they are applied where they are needed, a
/// block of scores at a time, so no (L, S) matrix is ever made.
struct ScoreMask {
    /// attn_mask of this entry and head, additive, (L, S) row-major; nullptr for none.
    const double* attention = nullptr;
    /// key_padding_mask of this entry, additive, (S); nullptr for none.
    const double* padding = nullptr;
    /// Whether query i may only look at keys j <= i.
    bool causal = false;
    /// S, the length of a row of `attention`.
    std::size_t keys = 0;

    /// Adds the masks to the scores of query `row` against keys [first_key, first_key + count).
    ///
    /// @param row the query's index i, in [0, L).
    /// @param first_key the first key's index j.
    /// @param scores the count scores, updated; a forbidden key's score becomes -infinity.
    /// @param count how many keys.
    /// @throws nothing.
    /// @see @ref lesson05
    void apply(std::size_t row, std::size_t first_key, float* scores, std::size_t count) const;

    /// Adds the masks to a block of scores stored transposed, (keys, queries):
    /// the layout of the fused version's blocks (attend_fused()).
    ///
    /// @param first_query the index i of the block's first query (column 0).
    /// @param queries the block's columns.
    /// @param first_key the index j of the block's first key (row 0).
    /// @param keys the block's rows.
    /// @param scores_transposed the scores, updated: key j's score for query i
    ///        is at [(j - first_key) · ld + (i - first_query)].
    /// @param ld the row stride of scores_transposed.
    /// @throws nothing.
    /// @see @ref lesson05
    void apply_transposed(std::size_t first_query, std::size_t queries, std::size_t first_key, std::size_t keys,
                          float* scores_transposed, std::size_t ld) const;

    /// Whether any mask may change a block of scores: false without masks, and
    /// under the causal mask alone for a block whose keys all precede or equal
    /// its first query.
    ///
    /// @param first_query the block's first query.
    /// @param first_key the block's first key.
    /// @param keys the block's keys.
    /// @return true if apply() or apply_transposed() must run on the block.
    /// @throws nothing.
    /// @see @ref lesson05
    bool touches(std::size_t first_query, std::size_t first_key, std::size_t keys) const;

    /// The masks of entry b, head h of one forward call, pointing into `masks`
    /// (which must outlive the result).
    ///
    /// @param masks the call's masks, already checked against the shapes.
    /// @param b the batch entry.
    /// @param h the head.
    /// @param num_heads H, to find a per-head attn_mask's (b, h) entry at b·H + h.
    /// @param queries L.
    /// @param keys S.
    /// @return the view.
    /// @throws nothing.
    /// @see @ref lesson05
    static ScoreMask for_head(const AttentionMasks& masks, std::size_t b, std::size_t h, std::size_t num_heads,
                              std::size_t queries, std::size_t keys);

    /// How many keys, from key 0, query `row` may see at most: row + 1 under
    /// the causal mask (capped at S), S otherwise. The keys after them are
    /// masked for this query, so their scores need not be computed at all.
    ///
    /// @param row the query's index.
    /// @return the number of leading keys that may be visible.
    /// @throws nothing.
    /// @see @ref lesson05
    std::size_t visible_keys(std::size_t row) const;
};

}  // namespace mha
