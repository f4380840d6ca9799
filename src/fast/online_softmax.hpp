// Lesson 5 introduces this header: the softmax in float. First lesson 1's
// softmax of a whole row, with the SIMD kernels (v2 and v3). Then the online
// softmax, which normalises a row of scores it is shown one block at a time,
// without ever holding the whole row (Milakov and Gimelshein, 2018). It is what
// lets FlashAttention, and our fused version v4, attend over any number of keys
// in a fixed amount of memory.
#pragma once

#include <cstddef>
#include <limits>

#include "fast/simd_dispatch.hpp"

/// @file
/// @brief The softmax of a row in float, whole or online (introduced in @ref lesson05).

namespace mha {

/// Lesson 1's stable softmax of one row, in place, with the SIMD kernels: the
/// row's maximum, exp(x - max) and their sum, then a division by the sum.
///
/// @param kernels the SIMD kernels.
/// @param row n scores (masked ones are -infinity); the weights on return. A
///        row that is all -infinity (every key masked) becomes all zeros, as in lesson 1.
/// @param n the row's length.
/// @throws nothing.
/// @see @ref lesson05
void softmax_row(const SimdKernels& kernels, float* row, std::size_t n);

/// The running state of one row's softmax, for scores that arrive in blocks.
///
/// Lesson 1's softmax needs the row's maximum m before it can exponentiate
/// anything. Here m is only the maximum *so far*. When a later block holds a
/// larger score, everything computed against the old maximum is off by the
/// factor exp(m_old - m_new), the same for every entry, so it is fixed by one
/// multiplication: the running sum here, the output accumulator by the caller.
///
///     block 1: m = max(block 1), l = Σ exp(s - m),    acc = Σ exp(s - m) v
///     block 2: m' = max(m, max(block 2)), c = exp(m - m'),
///              l = c·l + Σ exp(s - m'),                acc = c·acc + Σ exp(s - m') v
///     end:     output = acc / l
///
/// After the last block, acc / l is exactly softmax(all scores) · V.
struct OnlineSoftmax {
    /// m, the largest score seen so far; -infinity before any, and while every score seen was masked.
    float max = -std::numeric_limits<float>::infinity();
    /// l, Σ exp(score - m) over the scores seen so far.
    float sum = 0.0f;

    /// Takes in the next block of the row's scores.
    ///
    /// @param kernels the SIMD kernels to use (max, exp_sum).
    /// @param scores the block's n scores (masked ones are -infinity); overwritten
    ///        with exp(score - m_new), the block's weights before normalisation.
    /// @param n the block's length; may be 0.
    /// @return the correction exp(m_old - m_new) (0 for the first finite block,
    ///         1 when the maximum did not change) by which the caller must
    ///         multiply everything it accumulated from earlier blocks.
    ///         `sum` is already corrected.
    /// @throws nothing (a stub of the exercise throws mha::not_implemented).
    /// @see @ref lesson05
    float absorb(const SimdKernels& kernels, float* scores, std::size_t n);

    /// What the accumulated output is multiplied by at the end: 1 / l.
    ///
    /// @return 1 / sum, or 0 when every score seen was masked, so that a fully
    ///         masked row gets an all-zero output, as in lesson 1.
    /// @throws nothing.
    /// @see @ref lesson05
    float normaliser() const { return sum > 0.0f ? 1.0f / sum : 0.0f; }
};

}  // namespace mha
