// Lesson 7 introduces this header: the fast decoding step's attention kernel,
// written once with xsimd and compiled once per instruction set, by
// decode_kernels_avx512.cpp and decode_kernels_avx2.cpp only (lesson 5's rule,
// fast/simd_kernels.hpp: everything here is a template on Arch, so no function
// compiled with AVX-512 flags can be picked by the linker for another file).
//
// The kernel answers one group's query heads from one K/V head's cache:
//
//   scores (R, L)  = queries (R, d_k) · keysᵀ (d_k, L)      queries already / sqrt(d_k)
//   weights (R, L) = softmax of each row
//   output (R, d_k) = weights (R, L) · values (L, d_k)
//
// R = H/G query heads share the group's keys and values. Both products are
// memory-bound (one key row, d_k floats, feeds R dot products of d_k
// multiply-adds each), so the passes are arranged so that every key row and
// every value row comes from memory once and is used for all R queries while
// it sits in registers (pass 1) or in L1 (pass 3).
#pragma once

#include <cmath>
#include <cstddef>
#include <limits>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "fast/simd_kernels.hpp"

/// @file
/// @brief The fast decoding step's xsimd kernel, generic over the instruction set (introduced in @ref lesson07).

namespace mha::simd {

/// The query heads one inner loop serves at once: 4 accumulators per column
/// chunk leave registers for the loaded key or value row and the broadcasts.
constexpr std::size_t decode_query_block = 4;

/// The cache positions attend_group takes at a time: 128 key rows and 128 value
/// rows of d_k = 64 floats are 32 KB each; the block's value rows stay in L1
/// (48 KB) while every block of queries and every column chunk goes over them.
constexpr std::size_t decode_key_block = 128;

/// The sum of a register's W lanes, for one score: lesson 5's reduce_add
/// (store the lanes, add them one by one) for any instruction set...
///
/// @tparam Arch the instruction set.
/// @param lanes W partial sums of one dot product.
/// @return their total.
/// @throws nothing.
/// @see @ref lesson07
template <class Arch>
float lane_sum(const xsimd::batch<float, Arch>& lanes) {
    return reduce_add<Arch>(lanes);
}

// ...and, where it matters, a few shuffles that stay in registers: pass 1 takes one
// lane_sum per (query head, key), 8 per key row for H/G = 8, and the store-and-add
// version made that pass, not memory, the limit there. Each specialisation is
// compiled in one file only (the AVX2 one is left out of the AVX-512 file, which
// uses its own), so the linker never has two copies to choose from.
#if XSIMD_WITH_AVX512F
/// lane_sum for AVX-512: GCC's reduction of a 512-bit register (halving shuffles and adds).
/// @see @ref lesson07
template <>
inline float lane_sum<xsimd::avx512f>(const xsimd::batch<float, xsimd::avx512f>& lanes) {
    return _mm512_reduce_add_ps(lanes);
}
#elif XSIMD_WITH_FMA3_AVX2
/// lane_sum for AVX2: the two 128-bit halves added, then their four lanes pairwise.
/// @see @ref lesson07
template <>
inline float lane_sum<xsimd::fma3<xsimd::avx2>>(const xsimd::batch<float, xsimd::fma3<xsimd::avx2>>& lanes) {
    const __m256 all = lanes;
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(all), _mm256_extractf128_ps(all, 1));  // 4 lanes
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));                                      // 2 lanes
    sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));                                  // 1 lane
    return _mm_cvtss_f32(sum);
}
#endif

/// The lane sums of N registers at once, totals[n] = Σ lanes of sums[n]. For
/// N = 4 on AVX2 and AVX-512 the four are added in one tree of horizontal adds
/// (hadd adds neighbouring lanes of two registers into one), which ends with
/// the four totals side by side: about a third of the instructions of four
/// separate lane_sum calls.
///
/// @tparam Arch the instruction set.
/// @tparam N the registers, 1 to 4.
/// @param sums N registers.
/// @param totals N floats, written.
/// @throws nothing.
/// @see @ref lesson07
template <class Arch, std::size_t N>
void lane_sums(const xsimd::batch<float, Arch>* sums, float* totals) {
#if XSIMD_WITH_AVX512F
    if constexpr (N == 4 && std::is_same<Arch, xsimd::avx512f>::value) {
        __m256 halves[4];  // each register's 16 lanes folded to 8: upper half + lower half
        for (std::size_t n = 0; n < 4; ++n) {
            const __m512 all = sums[n];
            halves[n] = _mm256_add_ps(_mm512_castps512_ps256(all),
                                      _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(all), 1)));
        }
        const __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(halves[0], halves[1]), _mm256_hadd_ps(halves[2], halves[3]));
        _mm_storeu_ps(totals, _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1)));
        return;
    }
#elif XSIMD_WITH_FMA3_AVX2
    if constexpr (N == 4 && std::is_same<Arch, xsimd::fma3<xsimd::avx2>>::value) {
        // [a01 a23 b01 b23 | a45 a67 b45 b67] and the same for c, d; then [a0-3 b0-3 c0-3 d0-3 | a4-7 ...]
        const __m256 pairs = _mm256_hadd_ps(_mm256_hadd_ps(sums[0], sums[1]), _mm256_hadd_ps(sums[2], sums[3]));
        _mm_storeu_ps(totals, _mm_add_ps(_mm256_castps256_ps128(pairs), _mm256_extractf128_ps(pairs, 1)));
        return;
    }
#endif
    for (std::size_t n = 0; n < N; ++n) {
        totals[n] = lane_sum<Arch>(sums[n]);
    }
}

/// Pass 1 for N query heads and one key row: scores[n] = q_n · key, the key
/// loaded once per chunk of W floats and used by all N dot products.
///
/// @tparam Arch the instruction set.
/// @tparam N the query heads, 1 to decode_query_block.
/// @param queries (N, d_k) rows, already divided by sqrt(d_k).
/// @param key (d_k) one cached key row.
/// @param head_dim d_k, any value from 1.
/// @param scores N floats, each written at scores[n · stride].
/// @param stride floats between two heads' scores: L.
/// @throws nothing.
/// @see @ref lesson07
template <class Arch, std::size_t N>
void scores_for_key(const float* queries, const float* key, std::size_t head_dim, float* scores,
                    std::size_t stride) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    batch sums[N];
#pragma GCC unroll 4
    for (std::size_t n = 0; n < N; ++n) {
        sums[n] = batch(0.0f);
    }
    std::size_t c = 0;
    for (; c + W <= head_dim; c += W) {
        const batch key_chunk = batch::load_unaligned(key + c);  // read from memory once, used N times
#pragma GCC unroll 4
        for (std::size_t n = 0; n < N; ++n) {
            sums[n] = xsimd::fma(batch::load_unaligned(queries + n * head_dim + c), key_chunk, sums[n]);
        }
    }
    float totals[N];
    lane_sums<Arch, N>(sums, totals);
#pragma GCC unroll 4
    for (std::size_t n = 0; n < N; ++n) {
        float score = totals[n];
        for (std::size_t tail = c; tail < head_dim; ++tail) {  // the last d_k % W columns
            score += queries[n * head_dim + tail] * key[tail];
        }
        scores[n * stride] = score;
    }
}

/// Pass 3 for N query heads, C chunks of W output columns and a block of value rows:
/// output[n][c..c+C·W) += Σ_j weights[n][j] · values[j][c..c+C·W), each value chunk
/// loaded once per row and used by all N heads, the N·C sums kept in registers.
/// With N·C = 8 independent sums, eight multiply-adds are in flight at once: with
/// four, each waited for the one before it on the same sum (4 cycles each).
///
/// @tparam Arch the instruction set.
/// @tparam N the query heads, 1 to decode_query_block.
/// @tparam C the chunks of W columns, 1 or 2.
/// @param weights the N heads' weights for the block's first row; head n's at weights + n · stride.
/// @param stride floats between two heads' weights: the block's size.
/// @param values the block's first value row, at column c; rows head_dim floats apart.
/// @param rows the value rows of the block.
/// @param head_dim d_k, the row stride of values and output.
/// @param output head 0's output at column c; head n's at output + n · head_dim.
/// @throws nothing.
/// @see @ref lesson07
template <class Arch, std::size_t N, std::size_t C>
void accumulate_value_chunk(const float* weights, std::size_t stride, const float* values, std::size_t rows,
                            std::size_t head_dim, float* output) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    batch sums[N][C];
#pragma GCC unroll 4
    for (std::size_t n = 0; n < N; ++n) {
#pragma GCC unroll 2
        for (std::size_t k = 0; k < C; ++k) {
            sums[n][k] = batch::load_unaligned(output + n * head_dim + k * W);
        }
    }
    for (std::size_t j = 0; j < rows; ++j) {
        batch value_chunks[C];
#pragma GCC unroll 2
        for (std::size_t k = 0; k < C; ++k) {
            value_chunks[k] = batch::load_unaligned(values + j * head_dim + k * W);
        }
#pragma GCC unroll 4
        for (std::size_t n = 0; n < N; ++n) {
            const batch weight(weights[n * stride + j]);
#pragma GCC unroll 2
            for (std::size_t k = 0; k < C; ++k) {
                sums[n][k] = xsimd::fma(weight, value_chunks[k], sums[n][k]);
            }
        }
    }
#pragma GCC unroll 4
    for (std::size_t n = 0; n < N; ++n) {
#pragma GCC unroll 2
        for (std::size_t k = 0; k < C; ++k) {
            sums[n][k].store_unaligned(output + n * head_dim + k * W);
        }
    }
}

/// accumulate_value_chunk for the N heads of a block over C chunks, N chosen at run time.
///
/// @tparam Arch the instruction set.
/// @tparam C the chunks of W columns, 1 or 2.
/// @param heads N, 1 to decode_query_block.
/// @param weights, stride, values, rows, head_dim, output as accumulate_value_chunk's.
/// @throws nothing.
/// @see @ref lesson07
template <class Arch, std::size_t C>
void accumulate_value_chunks(std::size_t heads, const float* weights, std::size_t stride, const float* values,
                             std::size_t rows, std::size_t head_dim, float* output) {
    switch (heads) {
        case 4: accumulate_value_chunk<Arch, 4, C>(weights, stride, values, rows, head_dim, output); break;
        case 3: accumulate_value_chunk<Arch, 3, C>(weights, stride, values, rows, head_dim, output); break;
        case 2: accumulate_value_chunk<Arch, 2, C>(weights, stride, values, rows, head_dim, output); break;
        default: accumulate_value_chunk<Arch, 1, C>(weights, stride, values, rows, head_dim, output); break;
    }
}

/// Pass 3's tail: the last d_k % W columns, as plain loops.
///
/// @tparam Arch the instruction set (unused: the loop is scalar; a template so
///         that each kernel file keeps its own copy).
/// @param weights head 0's weights for the block's first row.
/// @param stride floats between two heads' weights: L.
/// @param heads the query heads.
/// @param values the block's first value row.
/// @param rows the value rows of the block.
/// @param head_dim d_k.
/// @param first_column the first column of the tail.
/// @param output (heads, d_k), updated.
/// @throws nothing.
/// @see @ref lesson07
template <class Arch>
void accumulate_value_tail(const float* weights, std::size_t stride, std::size_t heads, const float* values,
                           std::size_t rows, std::size_t head_dim, std::size_t first_column, float* output) {
    for (std::size_t n = 0; n < heads; ++n) {
        for (std::size_t j = 0; j < rows; ++j) {
            const float weight = weights[n * stride + j];
            for (std::size_t c = first_column; c < head_dim; ++c) {
                output[n * head_dim + c] += weight * values[j * head_dim + c];
            }
        }
    }
}

/// softmax(Q Kᵀ) V for the R query heads of one group (DecodeKernels::attend_group).
///
/// The cache is walked once, a block of decode_key_block positions at a time,
/// with lesson 5's online softmax: each block's scores (R, block) stay in L1,
/// are turned into weights against the running maximum of their row, and are
/// used at once on the block's value rows; when a row's maximum grows, what
/// was summed so far is rescaled by exp(old max − new max). So keys and values
/// come from memory once, and nothing of size L is written or read again
/// (an (R, L) score matrix would be 2 MB at R = 8, L = 65536: out of L2).
///
/// @tparam Arch the instruction set.
/// @param queries (R, d_k), already divided by sqrt(d_k).
/// @param query_heads R, from 1.
/// @param keys (L, d_k), row-major.
/// @param values (L, d_k), row-major.
/// @param length L, from 1.
/// @param head_dim d_k, from 1.
/// @param output (R, d_k), overwritten.
/// @param scratch R · (L + 2) floats (of which R · (min(L, decode_key_block) + 2) are used).
/// @throws nothing.
/// @see @ref lesson07
template <class Arch>
void attend_group(const float* queries, std::size_t query_heads, const float* keys, const float* values,
                  std::size_t length, std::size_t head_dim, float* output, float* scratch) {
    using batch = xsimd::batch<float, Arch>;
    constexpr std::size_t W = batch::size;
    constexpr std::size_t Q = decode_query_block;
    const std::size_t block_size = length < decode_key_block ? length : decode_key_block;
    float* scores = scratch;                                 // (R, block): one block's scores, then weights
    float* row_max = scores + query_heads * block_size;      // (R): the largest score seen so far
    float* row_sum = row_max + query_heads;                  // (R): Σ exp(score − row_max) so far
    for (std::size_t r = 0; r < query_heads; ++r) {
        row_max[r] = -std::numeric_limits<float>::infinity();
        row_sum[r] = 0.0f;
    }
    for (std::size_t i = 0; i < query_heads * head_dim; ++i) {
        output[i] = 0.0f;
    }
    const std::size_t full_columns = head_dim - head_dim % W;

    for (std::size_t first = 0; first < length; first += block_size) {
        const std::size_t rows = length - first < block_size ? length - first : block_size;
        const float* key_block = keys + first * head_dim;      // (rows, d_k)
        const float* value_block = values + first * head_dim;  // (rows, d_k)

        // Pass 1: scores (R, rows) = queries (R, d_k) · key_blockᵀ. Key row j is read
        // once, for every head of the group.
        for (std::size_t j = 0; j < rows; ++j) {
            const float* key = key_block + j * head_dim;  // (d_k)
            // Ask for this block's value row j (pass 3 reads it next) and the next block's
            // key row j now: two streams of memory requests in flight instead of one.
            for (std::size_t line = 0; line < head_dim; line += 16) {
                __builtin_prefetch(value_block + j * head_dim + line);
                __builtin_prefetch(key + block_size * head_dim + line);
            }
            std::size_t r = 0;
            for (; r + Q <= query_heads; r += Q) {
                scores_for_key<Arch, Q>(queries + r * head_dim, key, head_dim, scores + r * block_size + j, block_size);
            }
            switch (query_heads - r) {
                case 3: scores_for_key<Arch, 3>(queries + r * head_dim, key, head_dim, scores + r * block_size + j, block_size); break;
                case 2: scores_for_key<Arch, 2>(queries + r * head_dim, key, head_dim, scores + r * block_size + j, block_size); break;
                case 1: scores_for_key<Arch, 1>(queries + r * head_dim, key, head_dim, scores + r * block_size + j, block_size); break;
                default: break;
            }
        }

        // Pass 2: the online softmax. Each row's scores become exp(s − max so far);
        // if the block raised the maximum, the output and sum of the earlier blocks
        // are rescaled to the new one (the division by the sum waits for the end).
        for (std::size_t r = 0; r < query_heads; ++r) {
            float* row = scores + r * block_size;  // (rows)
            const float block_max = max<Arch>(row, rows);
            const float new_max = block_max > row_max[r] ? block_max : row_max[r];
            const float rescale = std::exp(row_max[r] - new_max);  // 0 for the first block
            row_sum[r] = row_sum[r] * rescale + exp_sum<Arch>(row, rows, new_max);
            if (rescale != 1.0f) {
                scale<Arch>(output + r * head_dim, head_dim, rescale);
            }
            row_max[r] = new_max;
        }

        // Pass 3: output (R, d_k) += weights (R, rows) · value_block (rows, d_k): the
        // block comes from memory once and from L1 for every other block of heads
        // and chunk of columns.
        for (std::size_t r = 0; r < query_heads; r += Q) {
            const std::size_t heads = query_heads - r < Q ? query_heads - r : Q;
            const float* weights = scores + r * block_size;  // (heads, rows) with row stride block_size
            float* out = output + r * head_dim;              // (heads, d_k)
            std::size_t c = 0;
            for (; c + 2 * W <= full_columns; c += 2 * W) {
                accumulate_value_chunks<Arch, 2>(heads, weights, block_size, value_block + c, rows, head_dim, out + c);
            }
            if (c < full_columns) {
                accumulate_value_chunks<Arch, 1>(heads, weights, block_size, value_block + c, rows, head_dim, out + c);
            }
            accumulate_value_tail<Arch>(weights, block_size, heads, value_block, rows, head_dim, full_columns, out);
        }
    }

    // Normalise: dividing d_k outputs costs less than dividing L weights.
    for (std::size_t r = 0; r < query_heads; ++r) {
        scale<Arch>(output + r * head_dim, head_dim, 1.0f / row_sum[r]);
    }
}

}  // namespace mha::simd
