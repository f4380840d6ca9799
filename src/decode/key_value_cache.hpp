// Lesson 7 introduces this header: the KV cache, which lets a decoder produce
// one token at a time without recomputing the keys and values of the past.
#pragma once

#include <cstddef>

#include "core/tensor.hpp"
#include "decode/grouped_query_attention.hpp"

/// @file
/// @brief The key/value cache and one decoding step (introduced in @ref lesson07).

namespace mha {

/// The keys and values of every position decoded so far, for every key/value head:
///
///     keys    (B, G, capacity, d_k)   rows [0, length) are filled, the rest are zeros
///     values  (B, G, capacity, d_k)
///
/// With causal attention, the keys and values of position j never change once
/// j is computed: later tokens cannot influence earlier ones. So a decoder
/// computes them once, appends them here, and each new token needs only its
/// own projections and one row of attention over the cache.
struct KeyValueCache {
    /// (B, G, capacity, d_k): the keys of positions [0, length).
    Tensor4 keys;
    /// (B, G, capacity, d_k): the values of positions [0, length).
    Tensor4 values;
    /// How many positions are filled.
    std::size_t length = 0;

    /// B, the sequences decoded side by side.
    std::size_t batch_size() const { return keys.shape(0); }
    /// G, the key/value heads.
    std::size_t num_kv_heads() const { return keys.shape(1); }
    /// The most positions it can hold.
    std::size_t capacity() const { return keys.shape(2); }
    /// d_k, the width of one key or value.
    std::size_t head_dim() const { return keys.shape(3); }
};

/// An empty cache: keys and values (B, G, capacity, d_k) of zeros, length 0.
///
/// @param batch_size B.
/// @param num_kv_heads G.
/// @param capacity the most positions it will hold (a model's longest sequence).
/// @param head_dim d_k.
/// @return the cache.
/// @throws std::invalid_argument naming the size that is 0.
/// @see @ref lesson07
KeyValueCache empty_key_value_cache(std::size_t batch_size, std::size_t num_kv_heads, std::size_t capacity,
                                    std::size_t head_dim);

/// Writes the new position's key and value of every key/value head at row
/// `length` of the cache, and counts it.
///
/// @param cache the cache; its length grows by one.
/// @param new_keys shape (B, G, d_k): the new token's key for each head.
/// @param new_values shape (B, G, d_k): its value for each head.
/// @throws std::invalid_argument if the cache is full (length = capacity) or a
///         shape differs from the cache's (B, G, d_k); the cache is then unchanged.
/// @see @ref lesson07
void append_to_cache(KeyValueCache& cache, const Tensor3& new_keys, const Tensor3& new_values);

/// One query per head attending over the cached positions:
/// for query head h, with g = key_value_head_for(h, H, G),
/// weights = softmax(q_h · keys[g, 0 … length)ᵀ / sqrt(d_k)), output = weights · values[g, 0 … length).
struct CachedAttentionResult {
    /// (B, H, d_k): every query head's output.
    Tensor3 output;
    /// (B, H, length): every query head's weights over the cached positions.
    Tensor3 weights;
};

/// One new query per head against everything in the cache. No mask is needed:
/// the cache holds only the past and the present, which is what causal
/// attention lets the newest position see.
///
/// @param cache a cache holding at least one position.
/// @param queries shape (B, H, d_k): the new position's query for each of the H heads; G divides H.
/// @return outputs (B, H, d_k) and weights (B, H, length).
/// @throws std::invalid_argument if the cache is empty, the queries' B or d_k
///         differ from the cache's, or G does not divide H.
/// @see @ref lesson07
CachedAttentionResult attend_to_cache(const KeyValueCache& cache, const Tensor3& queries);

/// What one decoding step through an attention layer gives.
struct DecodeStepResult {
    /// (B, E): the layer's output for the new position.
    Matrix output;
    /// (B, H, length): every query head's weights over the positions so far, the new one included.
    Tensor3 weights;
};

/// Decodes one new position through grouped-query attention:
///
///     q = x_t W_qᵀ + b_q      (B, E)     → (B, H, d_k)
///     k = x_t W_kᵀ + b_k      (B, G·d_k) → (B, G, d_k)     appended to the cache
///     v = x_t W_vᵀ + b_v      (B, G·d_k) → (B, G, d_k)     appended to the cache
///     attend q over the cache (B, H, d_k) → concatenate (B, E) → W_o → (B, E)
///
/// Row t of the layer's causal forward over the whole prefix, at the cost of one row.
///
/// @param layer the attention layer.
/// @param cache this layer's cache: (B, G, capacity, d_k) with the layer's G and d_k.
/// @param x_t shape (B, E): the new position's input.
/// @return the output (B, E) and the weights (B, H, length).
/// @throws std::invalid_argument if the layer fails check(), x_t is not (B, E),
///         the cache does not fit the layer or B, or the cache is full.
/// @see @ref lesson07
DecodeStepResult decode_step(const GroupedQueryAttention& layer, KeyValueCache& cache, const Matrix& x_t);

}  // namespace mha
