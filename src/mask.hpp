// Lesson 1 introduces this header: attention masks, which forbid some
// queries from looking at some keys.
#pragma once

#include <cstddef>

#include "tensor.hpp"

/// @file
/// @brief Attention masks in PyTorch's two conventions (introduced in @ref lesson01).
///
/// A mask has one entry per (query, key) pair, shape (L, S). The course takes
/// both forms PyTorch's `nn.MultiheadAttention` takes:
/// - a boolean mask, where `true` means "this query may NOT look at this key";
/// - an additive float mask, added to the scores before softmax, where 0 keeps
///   a key and -infinity removes it (finite values only tilt the weights).

namespace mha {

/// The causal ("look-ahead") mask: query i may look at keys 0..i only.
///
/// Entry (i, j) is `true` (forbidden) when j > i, the same as PyTorch's
/// `torch.ones(L, S, dtype=torch.bool).triu(diagonal=1)`. A decoder uses it so
/// that position i cannot peek at the tokens after it. When L != S the mask is
/// aligned at the top-left corner, as PyTorch aligns it.
///
/// @param query_count L, the number of queries (rows).
/// @param key_count S, the number of keys (columns).
/// @return the boolean mask, shape (L, S).
/// @throws nothing.
/// @see @ref lesson01
BoolMatrix causal_mask(std::size_t query_count, std::size_t key_count);

/// Converts a boolean mask into the equivalent additive mask:
/// `true` (forbidden) becomes -infinity and `false` becomes 0.
///
/// @param mask shape (L, S).
/// @return the additive mask, shape (L, S).
/// @throws nothing.
/// @see @ref lesson01
Matrix additive_mask(const BoolMatrix& mask);

}  // namespace mha
