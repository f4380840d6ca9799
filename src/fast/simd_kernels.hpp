// Lesson 5 introduces this header: the SIMD kernels, written once with xsimd
// for any instruction set and compiled once per instruction set.
//
// xsimd::batch<float, Arch> is one SIMD register of floats for the instruction
// set Arch: 16 floats for xsimd::avx512f, 8 for xsimd::fma3<xsimd::avx2>.
// Its operators (+, *, xsimd::fma, xsimd::exp, xsimd::max) become one or a few
// instructions of that set. Every function here is a template on Arch; the
// files simd_kernels_avx512.cpp and simd_kernels_avx2.cpp instantiate them,
// each compiled with the flags of its instruction set, and put them in a
// SimdKernels table (simd_dispatch.hpp). No other file includes this header.
//
// One rule keeps that safe: everything compiled here must be a template on
// Arch (or a constant). An ordinary inline function, std::max say, compiled
// with -mavx512f in one file and without it in another, is one symbol for the
// linker, which keeps either copy; a CPU without AVX-512 could then run the
// AVX-512 one. So there is no std:: call below, and the horizontal reductions
// are written out instead of calling xsimd::hadd (whose AVX-512 version calls
// the AVX2 one).
#pragma once

#include <math.h>  // expf, a plain C function: safe to call from any of the files

#include <cstddef>
#include <limits>

#include <xsimd/xsimd.hpp>

/// @file
/// @brief The xsimd kernels, generic over the instruction set (introduced in @ref lesson05).

/// The kernels of lesson 5 written with xsimd, one template per kernel, for any instruction set.
namespace mha::simd {

/// -infinity as a constant: evaluated by the compiler, so no function is called.
constexpr float minus_infinity = -std::numeric_limits<float>::infinity();

/// The sum of the W lanes of a register: store them, add them up.
///
/// @tparam Arch the instruction set, such as xsimd::avx512f.
/// @param lanes W floats in one register.
/// @return lanes[0] + ... + lanes[W-1].
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
float reduce_add(const xsimd::batch<float, Arch>& lanes) {
    constexpr std::size_t W = xsimd::batch<float, Arch>::size;
    alignas(Arch::alignment()) float values[W];
    lanes.store_aligned(values);
    float sum = 0.0f;
    for (std::size_t i = 0; i < W; ++i) {
        sum += values[i];
    }
    return sum;
}

/// The largest of the W lanes of a register (xsimd 8.1 has no reduce_max).
///
/// @tparam Arch the instruction set.
/// @param lanes W floats in one register.
/// @return max(lanes[0], ..., lanes[W-1]).
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
float reduce_max(const xsimd::batch<float, Arch>& lanes) {
    constexpr std::size_t W = xsimd::batch<float, Arch>::size;
    alignas(Arch::alignment()) float values[W];
    lanes.store_aligned(values);
    float largest = values[0];
    for (std::size_t i = 1; i < W; ++i) {
        largest = values[i] > largest ? values[i] : largest;
    }
    return largest;
}

/// a · b with W multiply-adds per instruction.
///
/// Two accumulators keep two independent chains of FMAs in flight, so that
/// one FMA need not wait for the one before it to finish. That is not enough
/// for the peak: with two FMA units and a latency of about 4 cycles, 8 chains
/// would be needed, so this loop reaches at most a quarter of it. At the
/// lesson's d_k = 64 a dot product is only 4 AVX-512 steps long, too short to
/// fill more chains; v3's micro-kernel keeps 28 in flight instead. The last
/// n % W elements are the scalar tail.
///
/// @tparam Arch the instruction set.
/// @param a n floats.
/// @param b n floats.
/// @param n any length, 0 included.
/// @return Σ a[i] b[i].
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
float dot(const float* a, const float* b, std::size_t n) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    batch sum0(0.0f), sum1(0.0f);
    std::size_t i = 0;
    // [dot_main_loop]
    for (; i + 2 * W <= n; i += 2 * W) {
        sum0 = xsimd::fma(batch::load_unaligned(a + i), batch::load_unaligned(b + i), sum0);
        sum1 = xsimd::fma(batch::load_unaligned(a + i + W), batch::load_unaligned(b + i + W), sum1);
    }
    // [dot_main_loop]
    if (i + W <= n) {
        sum0 = xsimd::fma(batch::load_unaligned(a + i), batch::load_unaligned(b + i), sum0);
        i += W;
    }
    float sum = reduce_add<Arch>(sum0 + sum1);
    for (; i < n; ++i) {  // the tail: fewer than W elements left
        sum += a[i] * b[i];
    }
    return sum;
}

/// The largest of x[0..n): W comparisons per instruction, then across the lanes.
///
/// @tparam Arch the instruction set.
/// @param x n floats.
/// @param n any length, 0 included.
/// @return the maximum, or -infinity when n is 0.
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
float max(const float* x, std::size_t n) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    batch largest(minus_infinity);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        largest = xsimd::max(largest, batch::load_unaligned(x + i));
    }
    float result = reduce_max<Arch>(largest);
    for (; i < n; ++i) {  // the tail
        result = x[i] > result ? x[i] : result;
    }
    return result;
}

/// The middle pass of a stable softmax: x[i] = exp(x[i] - shift), and their sum.
///
/// xsimd::exp evaluates W exponentials at once (a range reduction and a
/// polynomial, all in registers). -infinity, a masked score, becomes 0.
///
/// @tparam Arch the instruction set.
/// @param x n floats, overwritten.
/// @param n any length, 0 included.
/// @param shift the row's maximum, so that every exponent is at most 0.
/// @return Σ exp(x[i] - shift).
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
float exp_sum(float* x, std::size_t n, float shift) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    const batch shift_batch(shift);
    batch sum(0.0f);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        const batch e = xsimd::exp(batch::load_unaligned(x + i) - shift_batch);
        e.store_unaligned(x + i);
        sum += e;
    }
    float total = reduce_add<Arch>(sum);
    for (; i < n; ++i) {  // the tail
        x[i] = expf(x[i] - shift);
        total += x[i];
    }
    return total;
}

/// x[i] *= factor: normalising a softmax row, or rescaling an accumulator.
///
/// @tparam Arch the instruction set.
/// @param x n floats, overwritten.
/// @param n any length.
/// @param factor the multiplier.
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
void scale(float* x, std::size_t n, float factor) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    const batch factor_batch(factor);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        (batch::load_unaligned(x + i) * factor_batch).store_unaligned(x + i);
    }
    for (; i < n; ++i) {
        x[i] *= factor;
    }
}

/// y[i] += a · x[i]: adds one weighted value row to an output row.
///
/// @tparam Arch the instruction set.
/// @param a the weight.
/// @param x n floats.
/// @param y n floats, updated.
/// @param n any length.
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
void axpy(float a, const float* x, float* y, std::size_t n) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    const batch a_batch(a);
    std::size_t i = 0;
    for (; i + W <= n; i += W) {
        xsimd::fma(a_batch, batch::load_unaligned(x + i), batch::load_unaligned(y + i)).store_unaligned(y + i);
    }
    for (; i < n; ++i) {
        y[i] += a * x[i];
    }
}

/// The online softmax of W queries at once, one query per lane, over a block of
/// scores stored transposed: row k of `scores` holds key k's score for each query.
///
/// It is OnlineSoftmax::absorb (online_softmax.hpp) for each column, with no
/// horizontal step: the maximum over the block's keys is a max of whole rows,
/// lane by lane, and so is the sum. For query q (a lane):
///
///     m_new = max(m[q], max_k s[k][q])      c[q] = exp(m[q] - m_new)
///     s[k][q] = exp(s[k][q] - m_new)        l[q] = l[q] · c[q] + Σ_k s[k][q]
///
/// A query whose scores so far are all -infinity (masked) keeps m = -infinity;
/// it is shifted by 0 instead, so that exp(-inf - 0) = 0 and -inf - (-inf) = NaN
/// never happens: its weights, its sum and its correction are all 0.
///
/// @tparam Arch the instruction set.
/// @param scores (keys, ld) floats: the block's scores, (keys, queries) in the
///        first columns; overwritten with the unnormalised weights exp(s - m_new).
/// @param keys the rows of the block, 0 included.
/// @param queries the columns to update, a multiple of W.
/// @param ld the row stride of `scores`, at least `queries`.
/// @param running_max m, (queries), updated.
/// @param running_sum l, (queries), updated.
/// @param correction (queries): c on return, by which each query's accumulated
///        output must be multiplied (1 where the maximum did not change).
/// @throws nothing.
/// @see @ref lesson05
template <class Arch>
void online_softmax_columns(float* scores, std::size_t keys, std::size_t queries, std::size_t ld,
                            float* running_max, float* running_sum, float* correction) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    const batch minus_infinity_batch(minus_infinity), zero(0.0f);
    for (std::size_t q = 0; q < queries; q += W) {  // W queries, one per lane
        const batch old_max = batch::load_unaligned(running_max + q);
        batch new_max = old_max;
        for (std::size_t k = 0; k < keys; ++k) {
            new_max = xsimd::max(new_max, batch::load_unaligned(scores + k * ld + q));
        }
        const batch shift = xsimd::select(new_max == minus_infinity_batch, zero, new_max);
        const batch c = xsimd::exp(old_max - shift);
        batch sum(0.0f);
        for (std::size_t k = 0; k < keys; ++k) {
            const batch weight = xsimd::exp(batch::load_unaligned(scores + k * ld + q) - shift);
            weight.store_unaligned(scores + k * ld + q);
            sum += weight;
        }
        xsimd::fma(batch::load_unaligned(running_sum + q), c, sum).store_unaligned(running_sum + q);
        new_max.store_unaligned(running_max + q);
        c.store_unaligned(correction + q);
    }
}

/// The GEMM micro-kernel: an MR × NR tile of C, NR = 2 W, kept in 2·MR registers
/// while kc rank-1 updates go through it.
///
/// Step p reads one column of the packed A sliver (MR floats: A(0..MR, p)) and
/// one row of the packed B panel (NR floats, two registers: B(p, 0..NR)), and
/// adds their outer product to the tile: for each row r, broadcast A(r, p) to
/// a register and do two FMAs. That is 2·MR FMAs (2·MR·W·2 flops) for 2 loads
/// of B and MR broadcasts, and no store until the end. With AVX-512, MR = 14:
/// 28 accumulators + 2 B registers + 1 broadcast = 31 of the 32 registers.
/// With AVX2 (16 registers), MR = 6: 12 + 2 + 1 = 15.
///
/// @tparam Arch the instruction set.
/// @tparam MR the rows of the tile.
/// @param kc the length of the shared dimension for this call.
/// @param a the A sliver: A(r, p) at a[p·a_step + r]. Packed by pack_a(),
///        a_step is MR; for a matrix stored transposed it is its row stride.
/// @param a_step the floats from one column of the sliver to the next.
/// @param b the packed B panel: kc × NR floats, B(p, j) at b[p·NR + j].
/// @param c the tile's top-left element in C, row-major.
/// @param ldc the row stride of C, in floats.
/// @param accumulate add to C (true) or overwrite it (false).
/// @throws nothing.
/// @see @ref lesson05
template <class Arch, std::size_t MR>
void micro_kernel(std::size_t kc, const float* a, std::size_t a_step, const float* b, float* c, std::size_t ldc,
                  bool accumulate) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    constexpr std::size_t NR = 2 * W;
    // The tile: row r is left[r] (columns 0..W) and right[r] (columns W..NR). The
    // loops over r are unrolled completely (#pragma GCC unroll), so that each
    // left[r] and right[r] becomes a register of its own rather than memory.
    batch left[MR], right[MR];
#pragma GCC unroll 16
    for (std::size_t r = 0; r < MR; ++r) {
        left[r] = batch(0.0f);
        right[r] = batch(0.0f);
    }
    // [micro_kernel_step]
    for (std::size_t p = 0; p < kc; ++p) {
        const batch b_left = batch::load_unaligned(b + p * NR);       // B(p, 0..W)
        const batch b_right = batch::load_unaligned(b + p * NR + W);  // B(p, W..NR)
#pragma GCC unroll 16
        for (std::size_t r = 0; r < MR; ++r) {
            const batch a_r(a[p * a_step + r]);  // A(r, p) in every lane
            left[r] = xsimd::fma(a_r, b_left, left[r]);
            right[r] = xsimd::fma(a_r, b_right, right[r]);
        }
    }
    // [micro_kernel_step]
#pragma GCC unroll 16
    for (std::size_t r = 0; r < MR; ++r) {
        float* row = c + r * ldc;
        if (accumulate) {
            left[r] += batch::load_unaligned(row);
            right[r] += batch::load_unaligned(row + W);
        }
        left[r].store_unaligned(row);
        right[r].store_unaligned(row + W);
    }
}

}  // namespace mha::simd
