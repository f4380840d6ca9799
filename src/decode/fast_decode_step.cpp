// Lesson 7: the fast decoding step. The attention kernel itself is in
// decode_kernel_templates.hpp; this file holds the cache, the checks, the
// matrix-vector projections and the recompute path.
#include "decode/fast_decode_step.hpp"

#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include <xtensor/xview.hpp>

#include "core/tensor.hpp"

namespace mha {
namespace {

[[noreturn]] void fail(const std::string& function, const std::string& what) {
    throw std::invalid_argument(function + ": " + what);
}

std::string number(std::size_t n) { return std::to_string(n); }

}  // namespace

// ---- The cache ----

FastKeyValueCache::FastKeyValueCache(std::size_t batch, std::size_t kv_heads, std::size_t head_dim,
                                     std::size_t capacity)
    : batch_(batch), kv_heads_(kv_heads), head_dim_(head_dim), capacity_(capacity) {
    if (batch == 0 || kv_heads == 0 || head_dim == 0 || capacity == 0) {
        fail("FastKeyValueCache", "batch " + number(batch) + ", kv_heads " + number(kv_heads) + ", head_dim " +
                                      number(head_dim) + ", capacity " + number(capacity) + ": each must be at least 1");
    }
    constexpr std::size_t limit = std::size_t{1} << 40;  // 4 TB of floats: surely a mistake, and no overflow below
    if (capacity > limit / head_dim || batch * kv_heads > limit / (capacity * head_dim)) {
        fail("FastKeyValueCache", "batch " + number(batch) + " × kv_heads " + number(kv_heads) + " × capacity " +
                                      number(capacity) + " × head_dim " + number(head_dim) + " floats is too large");
    }
    constexpr std::size_t line = 64 / sizeof(float);  // 16 floats: every (b, g) block starts on a cache line
    block_stride_ = (capacity * head_dim + line - 1) / line * line;
    lengths_.assign(batch, 0);
    keys_.resize(batch * kv_heads * block_stride_);    // (B, G, capacity, d_k)
    values_.resize(batch * kv_heads * block_stride_);  // (B, G, capacity, d_k)
}

void FastKeyValueCache::check_entry(const char* function, std::size_t batch_entry) const {
    if (batch_entry >= batch_) {
        fail(function, "batch entry " + number(batch_entry) + " is not below the batch size " + number(batch_));
    }
}

void FastKeyValueCache::append(std::size_t batch_entry, const float* keys, const float* values) {
    check_entry("FastKeyValueCache::append", batch_entry);
    std::size_t& length = lengths_[batch_entry];
    if (length == capacity_) {
        fail("FastKeyValueCache::append", "batch entry " + number(batch_entry) + " already holds " + number(length) +
                                              " positions, its capacity " + number(capacity_));
    }
    for (std::size_t g = 0; g < kv_heads_; ++g) {
        float* key_row = keys_.data() + (batch_entry * kv_heads_ + g) * block_stride_ + length * head_dim_;      // (d_k)
        float* value_row = values_.data() + (batch_entry * kv_heads_ + g) * block_stride_ + length * head_dim_;  // (d_k)
        for (std::size_t c = 0; c < head_dim_; ++c) {
            key_row[c] = keys[g * head_dim_ + c];
            value_row[c] = values[g * head_dim_ + c];
        }
    }
    ++length;
}

void FastKeyValueCache::truncate(std::size_t batch_entry, std::size_t length) {
    check_entry("FastKeyValueCache::truncate", batch_entry);
    if (length > lengths_[batch_entry]) {
        fail("FastKeyValueCache::truncate", "length " + number(length) + " is more than the " +
                                                number(lengths_[batch_entry]) + " positions batch entry " +
                                                number(batch_entry) + " holds");
    }
    lengths_[batch_entry] = length;
}

std::size_t FastKeyValueCache::length(std::size_t batch_entry) const {
    check_entry("FastKeyValueCache::length", batch_entry);
    return lengths_[batch_entry];
}

// ---- The attention step ----

std::size_t fast_cached_attention_scratch(const FastKeyValueCache& cache, std::size_t num_heads) {
    if (num_heads == 0 || num_heads % cache.kv_heads() != 0) {
        fail("fast_cached_attention", "num_heads " + number(num_heads) + " is not a positive multiple of the cache's " +
                                          number(cache.kv_heads()) + " K/V heads");
    }
    return num_heads / cache.kv_heads() * (cache.capacity() + 2);
}

void fast_cached_attention(const FastKeyValueCache& cache, std::size_t batch_entry, const float* queries,
                           std::size_t num_heads, float* output, float* scratch, const DecodeKernels& kernels) {
    fast_cached_attention_scratch(cache, num_heads);  // checks H against G
    const std::size_t L = cache.length(batch_entry);  // checks b
    if (L == 0) {
        fail("fast_cached_attention", "batch entry " + number(batch_entry) + " of the cache is empty: append the new token's key and value first");
    }
    const std::size_t d_k = cache.head_dim();
    const std::size_t group_size = num_heads / cache.kv_heads();  // R = H/G query heads per K/V head
    // Group g's query heads are the R consecutive heads [g·R, (g+1)·R): one
    // kernel call reads K_g and V_g once and answers all of them.
    for (std::size_t g = 0; g < cache.kv_heads(); ++g) {
        kernels.attend_group(queries + g * group_size * d_k, group_size,  // (R, d_k)
                             cache.keys(batch_entry, g),                  // (L, d_k)
                             cache.values(batch_entry, g),                // (L, d_k)
                             L, d_k,
                             output + g * group_size * d_k,  // (R, d_k)
                             scratch);                       // R·(L + 2)
    }
}

xt::xtensor<float, 2> fast_cached_attention(const FastKeyValueCache& cache, std::size_t batch_entry,
                                            const xt::xtensor<float, 2>& queries, const DecodeKernels& kernels) {
    const std::size_t H = queries.shape(0);
    const std::size_t d_k = cache.head_dim();
    if (queries.shape(1) != d_k) {
        fail("fast_cached_attention", "queries is " + shape_string({queries.shape(0), queries.shape(1)}) +
                                          ", expected (H, " + number(d_k) + ") for the cache's head_dim " + number(d_k));
    }
    AlignedFloats scratch(fast_cached_attention_scratch(cache, H));
    const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d_k)));
    AlignedFloats scaled(H * d_k);  // (H, d_k)
    for (std::size_t i = 0; i < H * d_k; ++i) {
        scaled[i] = queries.data()[i] * scale;
    }
    xt::xtensor<float, 2> output = xt::zeros<float>({H, d_k});  // (H, d_k)
    fast_cached_attention(cache, batch_entry, scaled.data(), H, output.data(), scratch.data(), kernels);
    return output;
}

// ---- One layer ----

FastDecodeLayer::FloatMatrixVector FastDecodeLayer::to_float(const Linear& layer, double factor) {
    FloatMatrixVector result;
    result.out = layer.out_features();
    result.in = layer.in_features();
    result.weight.resize(result.out * result.in);
    result.bias.assign(result.out, 0.0f);
    for (std::size_t o = 0; o < result.out; ++o) {
        for (std::size_t i = 0; i < result.in; ++i) {
            result.weight[o * result.in + i] = static_cast<float>(layer.weight(o, i) * factor);
        }
        if (layer.has_bias()) {
            result.bias[o] = static_cast<float>(layer.bias(o) * factor);
        }
    }
    return result;
}

// y = W x + b: one dot product per output, each row of W read once. Like the
// attention step, memory-bound: W (out·in floats) is read for 2 flops per float.
void FastDecodeLayer::apply(const FloatMatrixVector& layer, const float* x, float* y) const {
    for (std::size_t o = 0; o < layer.out; ++o) {
        y[o] = simd_->dot(layer.weight.data() + o * layer.in, x, layer.in) + layer.bias[o];
    }
}

namespace {
const GroupedQueryAttention& checked(const GroupedQueryAttention& weights) {
    weights.check();
    return weights;
}
}  // namespace

FastDecodeLayer::FastDecodeLayer(const GroupedQueryAttention& weights, std::size_t batch, std::size_t capacity,
                                 const DecodeKernels& kernels)
    : num_heads_(checked(weights).num_heads),
      embed_dim_(weights.embed_dim()),
      kernels_(&kernels),
      simd_(nullptr),
      query_(to_float(weights.query_projection, 1.0 / std::sqrt(static_cast<double>(weights.head_dim())))),
      key_(to_float(weights.key_projection, 1.0)),
      value_(to_float(weights.value_projection, 1.0)),
      output_(to_float(weights.output_projection, 1.0)),
      cache_(batch, weights.num_kv_heads, weights.head_dim(), capacity) {
    for (const SimdKernels* simd : available_simd_kernels()) {  // lesson 5's kernels of the same instruction set
        if (std::string(simd->instruction_set) == kernels.instruction_set) {
            simd_ = simd;
        }
    }
    if (simd_ == nullptr) {
        simd_ = &scalar_kernel_table();
    }
    const std::size_t kv_width = weights.num_kv_heads * weights.head_dim();
    query_heads_.resize(embed_dim_);
    new_keys_.resize(kv_width);
    new_values_.resize(kv_width);
    attention_.resize(embed_dim_);
    scratch_.resize(fast_cached_attention_scratch(cache_, num_heads_));
}

void FastDecodeLayer::step(const xt::xtensor<float, 2>& tokens, xt::xtensor<float, 2>& output) {
    const std::size_t B = cache_.batch();
    const std::vector<std::size_t> expected = {B, embed_dim_};
    if (tokens.shape(0) != B || tokens.shape(1) != embed_dim_) {
        fail("FastDecodeLayer::step", "tokens is " + shape_string({tokens.shape(0), tokens.shape(1)}) + ", expected " +
                                          shape_string(expected) + " (B, E)");
    }
    if (output.shape(0) != B || output.shape(1) != embed_dim_) {
        fail("FastDecodeLayer::step", "output is " + shape_string({output.shape(0), output.shape(1)}) + ", expected " +
                                          shape_string(expected) + " (B, E)");
    }
    for (std::size_t b = 0; b < B; ++b) {  // refuse before changing anything
        if (cache_.length(b) == cache_.capacity()) {
            fail("FastDecodeLayer::step", "batch entry " + number(b) + " already holds " + number(cache_.capacity()) +
                                              " tokens, the capacity of the cache");
        }
    }
    for (std::size_t b = 0; b < B; ++b) {
        const float* x = tokens.data() + b * embed_dim_;  // (E)
        // The new token's projections: q (H, d_k) already / sqrt(d_k), k and v (G, d_k).
        apply(query_, x, query_heads_.data());
        apply(key_, x, new_keys_.data());
        apply(value_, x, new_values_.data());
        cache_.append(b, new_keys_.data(), new_values_.data());
        // Its H heads over the L cached tokens, itself included: (H, d_k) = (E).
        fast_cached_attention(cache_, b, query_heads_.data(), num_heads_, attention_.data(), scratch_.data(),
                              *kernels_);
        apply(output_, attention_.data(), output.data() + b * embed_dim_);  // (E)
    }
}

xt::xtensor<float, 2> FastDecodeLayer::step(const xt::xtensor<float, 2>& tokens) {
    xt::xtensor<float, 2> output = xt::zeros<float>({cache_.batch(), embed_dim_});  // (B, E)
    step(tokens, output);
    return output;
}

// ---- Without a cache ----

xt::xtensor<float, 2> fast_recompute_last_token(const FastMultiHeadAttention& attention, const FloatTensor3& prefix) {
    AttentionMasks masks;
    masks.causal = true;
    FastAttentionOptions options;
    options.version = FastVersion::fused;
    options.threads = 1;
    const FloatTensor3 output = attention.forward(prefix, prefix, prefix, masks, options).output;  // (B, L, E)
    const std::size_t L = output.shape(1);
    return xt::view(output, xt::all(), L - 1, xt::all());  // (B, E)
}

}  // namespace mha
