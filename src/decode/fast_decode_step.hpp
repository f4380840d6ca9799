// Lesson 7 introduces this header: one decoding step of one attention layer in
// float, fast: the new token's projections, its keys and values appended to a
// cache laid out for speed, and the attention of its H query heads over the
// G key/value heads of the cache (grouped-query attention; G = H is ordinary
// multi-head attention, G = 1 multi-query attention).
//
// Generating text produces one token at a time, and the new token's query is
// the only new row of Q. Its scores against the L earlier tokens are K q: a
// matrix-vector product, 2 flops per cached float read. Nothing is reused
// between the L rows, so no blocking helps as it did for lesson 5's GEMM: the
// step takes as long as reading the cache takes. Two things follow, and this
// header is built on them:
//   - each (batch entry, K/V head) keeps its keys, and its values, as
//     contiguous (L, d_k) rows, allocated once for the whole capacity and
//     aligned to 64 bytes, so the step streams through memory in order;
//   - the H/G query heads of a group are answered together, so each key and
//     value row is read once per step, not once per query head. The bytes read
//     are 2·G·L·d_k·4 whatever H is: fewer K/V heads, proportionally less time.
//
// The recompute path (fast_recompute_last_token) is what a model without a
// cache does: it runs the whole prefix through lesson 5's causal attention to
// get the same last row. The tests check that both give the same answer; the
// benchmarks show how much the cache saves.
#pragma once

#include <cstddef>
#include <vector>

#include <xtensor/xtensor.hpp>

#include "core/random.hpp"
#include "decode/decode_kernels.hpp"
#include "decode/grouped_query_attention.hpp"
#include "fast/fast_multi_head_attention.hpp"
#include "fast/packing.hpp"
#include "reference/linear.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief A fast decoding step in float: the K/V cache, grouped-query attention, one layer (introduced in @ref lesson07).

namespace mha {

/// The keys and values of every earlier token, laid out for the decoding step:
/// for each batch entry b and K/V head g, a block of `capacity` rows of d_k
/// floats for the keys and another for the values, 64-byte aligned, allocated
/// once. Position t of entry b, head g is row t of its block.
class FastKeyValueCache {
public:
    /// An empty cache.
    ///
    /// @param batch B, the sequences decoded side by side.
    /// @param kv_heads G.
    /// @param head_dim d_k.
    /// @param capacity the most positions each sequence can hold.
    /// @throws std::invalid_argument if a size is 0 or the cache would exceed 2⁴⁰ floats.
    /// @see @ref lesson07
    FastKeyValueCache(std::size_t batch, std::size_t kv_heads, std::size_t head_dim, std::size_t capacity);

    /// Appends one position to entry b: its key and value for every K/V head.
    ///
    /// @param batch_entry b, below B.
    /// @param keys (G, d_k), row g is K/V head g's key.
    /// @param values (G, d_k).
    /// @throws std::invalid_argument if b is not below B, or the entry already
    ///         holds `capacity` positions (the message gives both); nothing is changed then.
    /// @see @ref lesson07
    void append(std::size_t batch_entry, const float* keys, const float* values);

    /// Forgets entry b's positions from `length` on (to decode from a shorter prefix again).
    ///
    /// @param batch_entry b, below B.
    /// @param length the positions to keep, at most length(b).
    /// @throws std::invalid_argument if b is not below B or `length` is more than it holds.
    /// @see @ref lesson07
    void truncate(std::size_t batch_entry, std::size_t length);

    /// The positions entry b holds.
    /// @throws std::invalid_argument if b is not below B.
    /// @see @ref lesson07
    std::size_t length(std::size_t batch_entry) const;

    /// Entry b's keys of K/V head g: (length(b), d_k), rows d_k floats apart, 64-byte aligned.
    /// @see @ref lesson07
    const float* keys(std::size_t batch_entry, std::size_t kv_head) const { return block(keys_, batch_entry, kv_head); }
    /// Entry b's values of K/V head g: (length(b), d_k), like keys().
    /// @see @ref lesson07
    const float* values(std::size_t batch_entry, std::size_t kv_head) const {
        return block(values_, batch_entry, kv_head);
    }

    /// B. @see @ref lesson07
    std::size_t batch() const { return batch_; }
    /// G. @see @ref lesson07
    std::size_t kv_heads() const { return kv_heads_; }
    /// d_k. @see @ref lesson07
    std::size_t head_dim() const { return head_dim_; }
    /// The most positions an entry can hold. @see @ref lesson07
    std::size_t capacity() const { return capacity_; }
    /// Bytes one position adds per entry: its keys and values, 2·G·d_k·4. @see @ref lesson07
    std::size_t bytes_per_position() const { return 2 * kv_heads_ * head_dim_ * sizeof(float); }

private:
    const float* block(const AlignedFloats& data, std::size_t batch_entry, std::size_t kv_head) const {
        return data.data() + (batch_entry * kv_heads_ + kv_head) * block_stride_;
    }
    void check_entry(const char* function, std::size_t batch_entry) const;

    std::size_t batch_, kv_heads_, head_dim_, capacity_;
    std::size_t block_stride_;          // capacity · d_k, rounded up to 16 floats (64 bytes)
    std::vector<std::size_t> lengths_;  // (B)
    AlignedFloats keys_;                // (B, G, capacity, d_k), each (b, g) block 64-byte aligned
    AlignedFloats values_;              // (B, G, capacity, d_k)
};

/// Floats of scratch fast_cached_attention() needs: (H/G)·(capacity + 2).
///
/// @param cache the cache.
/// @param num_heads H.
/// @return the count.
/// @throws std::invalid_argument if H is 0 or the cache's G does not divide it.
/// @see @ref lesson07
std::size_t fast_cached_attention_scratch(const FastKeyValueCache& cache, std::size_t num_heads);

/// The attention step of one new token of entry b over everything entry b's
/// cache holds (the new token's own key and value included, if appended):
/// for query head i, output_i = softmax(K_g q_i) V_g with g = ⌊i·G/H⌋ and q_i
/// already divided by sqrt(d_k). No allocation: the fast path of FastDecodeLayer.
///
/// @param cache the cache; entry b must hold at least one position.
/// @param batch_entry b.
/// @param queries (H, d_k), already divided by sqrt(d_k).
/// @param num_heads H, a multiple of G.
/// @param output (H, d_k), overwritten: the heads side by side, as the output projection reads them.
/// @param scratch fast_cached_attention_scratch(cache, H) floats.
/// @param kernels the instruction set's kernel (decode_kernels() by default).
/// @throws std::invalid_argument if b is not below B, the entry is empty, or G does not divide H.
/// @see @ref lesson07
void fast_cached_attention(const FastKeyValueCache& cache, std::size_t batch_entry, const float* queries,
                           std::size_t num_heads, float* output, float* scratch,
                           const DecodeKernels& kernels = decode_kernels());

/// fast_cached_attention() on a tensor of queries, not yet scaled: checked and allocating.
///
/// @param cache the cache; entry b must hold at least one position.
/// @param batch_entry b.
/// @param queries (H, d_k), the new token's query heads as the projection gives them.
/// @param kernels the instruction set's kernel.
/// @return (H, d_k): head i's attention output.
/// @throws std::invalid_argument as fast_cached_attention() does, and if `queries`
///         is not (H, d_k) for the cache's d_k.
/// @see @ref lesson07
xt::xtensor<float, 2> fast_cached_attention(const FastKeyValueCache& cache, std::size_t batch_entry,
                                            const xt::xtensor<float, 2>& queries,
                                            const DecodeKernels& kernels = decode_kernels());

/// One grouped-query attention layer decoding B sequences side by side, one
/// token per step, in float: projections as matrix-vector products, the K/V
/// cache, and the attention step of the chosen kernels.
class FastDecodeLayer {
public:
    /// Copies the weights to float (1/sqrt(d_k) folded into W_q and b_q, as lesson 5 does)
    /// and allocates the cache and every scratch buffer, once.
    ///
    /// @param weights the layer, checked.
    /// @param batch B.
    /// @param capacity the most tokens each sequence can hold.
    /// @param kernels the decoding kernel; the matrix-vector products use lesson 5's
    ///        kernels of the same instruction set.
    /// @throws std::invalid_argument as GroupedQueryAttention::check() and FastKeyValueCache do.
    /// @see @ref lesson07
    FastDecodeLayer(const GroupedQueryAttention& weights, std::size_t batch, std::size_t capacity,
                    const DecodeKernels& kernels = decode_kernels());

    /// One step: each entry's new token x_b is projected to q (H heads), k and v
    /// (G heads), k and v are appended to the cache, and the attention output goes
    /// through W_o. No allocation.
    ///
    /// @param tokens (B, E): the new token of every entry.
    /// @param output (B, E), overwritten: the layer's output for the new tokens.
    /// @throws std::invalid_argument if either is not (B, E), or a sequence is full
    ///         (checked for every entry before any is changed).
    /// @see @ref lesson07
    void step(const xt::xtensor<float, 2>& tokens, xt::xtensor<float, 2>& output);

    /// step() returning a new tensor.
    ///
    /// @param tokens (B, E).
    /// @return (B, E).
    /// @throws std::invalid_argument as step(tokens, output) does.
    /// @see @ref lesson07
    xt::xtensor<float, 2> step(const xt::xtensor<float, 2>& tokens);

    /// The cache, to read or to truncate (FastKeyValueCache::truncate).
    /// @see @ref lesson07
    FastKeyValueCache& cache() { return cache_; }
    /// The cache. @see @ref lesson07
    const FastKeyValueCache& cache() const { return cache_; }

private:
    struct FloatMatrixVector {  // y (out) = W (out, in) x (in) + b (out)
        AlignedFloats weight;   // (out, in)
        AlignedFloats bias;     // (out)
        std::size_t out = 0, in = 0;
    };
    static FloatMatrixVector to_float(const Linear& layer, double factor);
    void apply(const FloatMatrixVector& layer, const float* x, float* y) const;

    std::size_t num_heads_, embed_dim_;
    const DecodeKernels* kernels_;
    const SimdKernels* simd_;
    FloatMatrixVector query_, key_, value_, output_;  // W_q / sqrt(d_k), W_k, W_v, W_o
    FastKeyValueCache cache_;
    AlignedFloats query_heads_;  // (H, d_k): the new token's queries, scaled
    AlignedFloats new_keys_;     // (G, d_k)
    AlignedFloats new_values_;   // (G, d_k)
    AlignedFloats attention_;    // (H, d_k) = (E): the heads side by side
    AlignedFloats scratch_;      // (H/G)·(capacity + 2)
};

/// What a layer without a cache computes for the last token: the whole prefix
/// through lesson 5's causal self-attention (v4, fused, one thread), of which
/// only the last row is kept.
///
/// @param attention lesson 5's module; for G < H, made from repeat_key_value_heads().
/// @param prefix (B, L, E): every token so far, the new one last.
/// @return (B, E): the last row of each entry's output.
/// @throws std::invalid_argument as FastMultiHeadAttention::forward does (L of 0 included).
/// @see @ref lesson07
xt::xtensor<float, 2> fast_recompute_last_token(const FastMultiHeadAttention& attention, const FloatTensor3& prefix);

}  // namespace mha
