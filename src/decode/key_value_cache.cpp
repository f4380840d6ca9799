// Lesson 7: the KV cache, and one decoding step through an attention layer.
#include "decode/key_value_cache.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>

#include <xtensor/xview.hpp>

#include "reference/softmax.hpp"

namespace mha {
namespace {

[[noreturn]] void fail(const char* function, const std::string& what) {
    throw std::invalid_argument(std::string(function) + ": " + what);
}

std::string number(std::size_t n) { return std::to_string(n); }

// (B, H·d_k) as (B, H, d_k): row b's columns [h·d_k, (h+1)·d_k) become [b, h, :].
Tensor3 split_rows_into_heads(const Matrix& rows, std::size_t heads) {
    const std::size_t B = rows.shape(0), d_k = rows.shape(1) / heads;
    Tensor3 split = xt::zeros<double>({B, heads, d_k});  // (B, heads, d_k)
    std::copy(rows.begin(), rows.end(), split.begin());   // the same numbers in the same order
    return split;
}

}  // namespace

KeyValueCache empty_key_value_cache(std::size_t batch_size, std::size_t num_kv_heads, std::size_t capacity,
                                    std::size_t head_dim) {
    const std::pair<std::size_t, const char*> sizes[] = {
        {batch_size, "batch_size B"}, {num_kv_heads, "num_kv_heads G"}, {capacity, "capacity"}, {head_dim, "head_dim d_k"}};
    for (const auto& [size, name] : sizes) {
        if (size == 0) {
            fail("empty_key_value_cache", std::string(name) + " is 0; every size of the cache must be at least 1");
        }
    }
    KeyValueCache cache;
    cache.keys = xt::zeros<double>({batch_size, num_kv_heads, capacity, head_dim});    // (B, G, capacity, d_k)
    cache.values = xt::zeros<double>({batch_size, num_kv_heads, capacity, head_dim});  // (B, G, capacity, d_k)
    return cache;
}

void append_to_cache(KeyValueCache& cache, const Tensor3& new_keys, const Tensor3& new_values) {
    const char* function = "append_to_cache";
    const std::size_t B = cache.batch_size(), G = cache.num_kv_heads(), d_k = cache.head_dim();
    if (cache.length >= cache.capacity()) {
        fail(function, "the cache is full: it holds " + number(cache.length) + " of " + number(cache.capacity()) +
                           " positions, so there is no room for one more");
    }
    const std::string expected = shape_string({B, G, d_k});
    if (new_keys.shape(0) != B || new_keys.shape(1) != G || new_keys.shape(2) != d_k) {
        fail(function, "the new keys are " + shape_string(new_keys) + " but the cache needs (B, G, d_k) = " + expected);
    }
    if (new_values.shape(0) != B || new_values.shape(1) != G || new_values.shape(2) != d_k) {
        fail(function,
             "the new values are " + shape_string(new_values) + " but the cache needs (B, G, d_k) = " + expected);
    }
    // EXERCISE cache_append (lesson 7)
    // HINT: The new position goes to row t = cache.length of every batch entry b and key/value head g:
    // HINT: cache.keys(b, g, t, i) = new_keys(b, g, i), the same for the values; then count it (length + 1).
    // [cache_append]
    const std::size_t t = cache.length;  // the first free row
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t g = 0; g < G; ++g) {
            for (std::size_t i = 0; i < d_k; ++i) {
                cache.keys(b, g, t, i) = new_keys(b, g, i);
                cache.values(b, g, t, i) = new_values(b, g, i);
            }
        }
    }
    cache.length = t + 1;
    // [cache_append]
    // END EXERCISE
}

CachedAttentionResult attend_to_cache(const KeyValueCache& cache, const Tensor3& queries) {
    const char* function = "attend_to_cache";
    const std::size_t B = cache.batch_size(), G = cache.num_kv_heads(), d_k = cache.head_dim();
    const std::size_t H = queries.shape(1), length = cache.length;
    if (length == 0) {
        fail(function, "the cache is empty; append the new position's key and value before attending");
    }
    if (queries.shape(0) != B || queries.shape(2) != d_k) {
        fail(function, "the queries are " + shape_string(queries) + " but must be (B, H, d_k) with the cache's B = " +
                           number(B) + " and d_k = " + number(d_k));
    }
    check_head_counts(function, H, G);
    CachedAttentionResult result;
    result.output = xt::zeros<double>({B, H, d_k});    // (B, H, d_k)
    result.weights = xt::zeros<double>({B, H, length});  // (B, H, length)
    // EXERCISE cache_attend (lesson 7)
    // HINT: For each batch entry b and query head h, use key/value head g = key_value_head_for(h, H, G).
    // HINT: Score of position j: Σ_i queries(b, h, i) · cache.keys(b, g, j, i) / sqrt(d_k), for j < cache.length only.
    // HINT: softmax(...) of lesson 1 turns a (1, length) row of scores into weights; the output is Σ_j weight_j · values(b, g, j, ·).
    // [cache_attend]
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_k));
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t h = 0; h < H; ++h) {
            const std::size_t g = key_value_head_for(h, H, G);  // the heads of a group read the same rows
            Matrix scores = xt::zeros<double>({std::size_t{1}, length});  // (1, length): one query, every cached key
            for (std::size_t j = 0; j < length; ++j) {
                double dot = 0.0;
                for (std::size_t i = 0; i < d_k; ++i) {
                    dot += queries(b, h, i) * cache.keys(b, g, j, i);
                }
                scores(0, j) = dot * scale;
            }
            const Matrix weights = softmax(scores);  // (1, length)
            for (std::size_t j = 0; j < length; ++j) {
                result.weights(b, h, j) = weights(0, j);
                for (std::size_t i = 0; i < d_k; ++i) {
                    result.output(b, h, i) += weights(0, j) * cache.values(b, g, j, i);
                }
            }
        }
    }
    // [cache_attend]
    // END EXERCISE
    return result;
}

DecodeStepResult decode_step(const GroupedQueryAttention& layer, KeyValueCache& cache, const Matrix& x_t) {
    const char* function = "decode_step";
    layer.check();
    const std::size_t B = x_t.shape(0), E = layer.embed_dim(), H = layer.num_heads, G = layer.num_kv_heads;
    if (x_t.shape(1) != E || B == 0) {
        fail(function, "x_t is " + shape_string(x_t) + " but must be (B, E) with E = " + number(E));
    }
    if (cache.batch_size() != B || cache.num_kv_heads() != G || cache.head_dim() != layer.head_dim()) {
        fail(function, "the cache is " + shape_string(cache.keys) + " but the layer and x_t need (B, G, capacity, d_k) "
                           "with B = " + number(B) + ", G = " + number(G) + ", d_k = " + number(layer.head_dim()));
    }
    // ---- Pass 1: the new position's projections, cut into heads ----
    const Tensor3 q = split_rows_into_heads(layer.query_projection.forward(x_t), H);  // (B, E) -> (B, H, d_k)
    const Tensor3 k = split_rows_into_heads(layer.key_projection.forward(x_t), G);    // (B, G·d_k) -> (B, G, d_k)
    const Tensor3 v = split_rows_into_heads(layer.value_projection.forward(x_t), G);  // (B, G·d_k) -> (B, G, d_k)

    // ---- Pass 2: remember k and v, then attend over everything remembered ----
    append_to_cache(cache, k, v);
    CachedAttentionResult attended = attend_to_cache(cache, q);  // (B, H, d_k), (B, H, length)

    // ---- Pass 3: concatenate the heads, (B, H, d_k) -> (B, E), and mix them with W_o ----
    Matrix concatenated = xt::zeros<double>({B, E});  // (B, E): head h in columns [h·d_k, (h+1)·d_k)
    std::copy(attended.output.begin(), attended.output.end(), concatenated.begin());
    return {layer.output_projection.forward(concatenated), std::move(attended.weights)};
}

}  // namespace mha
