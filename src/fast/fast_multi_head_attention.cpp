// Lesson 5: fast multi-head attention in float. This file checks a call's
// inputs once and hands them to the version asked for (v1_blas.cpp to
// v5_threaded.cpp); the versions themselves check nothing again.
#include "fast/fast_multi_head_attention.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

namespace mha {
namespace {

constexpr const char* function_name = "FastMultiHeadAttention::forward";
constexpr std::size_t max_threads = 1024;

[[noreturn]] void fail(const std::string& what) {
    throw std::invalid_argument(std::string(function_name) + ": " + what);
}

std::string number(std::size_t n) { return std::to_string(n); }

// NaN or infinity in an input would silently turn rows of the output into NaN (lesson 1 refuses them too).
void check_finite(const xt::xtensor<float, 3>& tensor, const char* name) {
    const float* end = tensor.data() + tensor.size();
    const float* bad = std::find_if(tensor.data(), end, [](float x) { return !std::isfinite(x); });
    if (bad != end) {
        const std::size_t index = static_cast<std::size_t>(bad - tensor.data());
        const std::size_t rows = tensor.shape(1), columns = tensor.shape(2);
        fail(std::string(name) + " " + shape_string(tensor) + " holds " + std::to_string(*bad) + " at (" +
             number(index / (rows * columns)) + ", " + number(index / columns % rows) + ", " +
             number(index % columns) + "); inputs must be finite");
    }
}

// The module, once lesson 4's check() has accepted it: the same refusals as the reference.
const MultiHeadAttention& checked(const MultiHeadAttention& reference) {
    reference.check();
    return reference;
}

std::vector<std::size_t> shape_of(const FloatTensor3& tensor) {
    return std::vector<std::size_t>(tensor.shape().begin(), tensor.shape().end());
}

}  // namespace

std::string fast_version_name(FastVersion version) {
    switch (version) {
        case FastVersion::blas: return "v1-blas";
        case FastVersion::simd: return "v2-simd";
        case FastVersion::blocked: return "v3-blocked";
        case FastVersion::fused: return "v4-fused";
        case FastVersion::threaded: return "v5-threaded";
    }
    throw std::invalid_argument("fast_version_name: unknown version " + std::to_string(static_cast<int>(version)) +
                                "; the versions are 1 (v1-blas) to 5 (v5-threaded)");
}

FastMultiHeadAttention::FastMultiHeadAttention(const MultiHeadAttention& reference)
    : parameters_(checked(reference), simd_kernels()) {}

FastAttentionResult FastMultiHeadAttention::forward(const FloatTensor3& query, const FloatTensor3& key,
                                                    const FloatTensor3& value, const AttentionMasks& masks,
                                                    const FastAttentionOptions& options) const {
    // ---- Every option and shape must be right before anything is computed (the reference's checks) ----
    if (options.threads == 0 || options.threads > max_threads) {
        fail("threads is " + number(options.threads) + "; it must be from 1 to " + number(max_threads));
    }
    const int version = static_cast<int>(options.version);
    if (version < 1 || version > 5) {
        fail("unknown version " + std::to_string(version) + "; the versions are 1 (v1-blas) to 5 (v5-threaded)");
    }
    const FloatParameters& p = parameters_;
    check_forward_shapes(function_name, shape_of(query), shape_of(key), shape_of(value), p.embed_dim, p.num_heads,
                         p.kdim, p.vdim, masks);
    const ForwardCall call{query, key, value, masks, query.shape(0), query.shape(1), key.shape(1), p.embed_dim,
                           p.num_heads, p.head_dim};
    if (call.B > 0 && call.S == 0) {
        fail("key is " + shape_string(key) + " and value " + shape_string(value) +
             ": there must be at least one key (S >= 1)");
    }
    check_finite(query, "query");
    if (&key != &query) {  // self-attention passes one tensor three times: one look is enough
        check_finite(key, "key");
    }
    if (&value != &query && &value != &key) {
        check_finite(value, "value");
    }

    // [choose_version]
    // ---- The version asked for ----
    const auto no_weights = [] { return xt::xtensor<float, 4>::from_shape({0, 0, 0, 0}); };
    switch (options.version) {
        case FastVersion::blas: return forward_v1_blas(p, call, options.need_weights);
        case FastVersion::simd: return forward_v2_simd(p, call, options.need_weights);
        case FastVersion::blocked: return forward_v3_blocked(p, call, options.need_weights);
        case FastVersion::fused:
            if (options.need_weights) {
                return forward_v3_blocked(p, call, true);  // v4 never forms the weights
            }
            return {forward_v4_fused(p, call), no_weights()};
        case FastVersion::threaded:
            if (options.need_weights) {
                return forward_v3_blocked(p, call, true);  // nor does v5
            }
            return {forward_v5_threaded(p, call, options.threads), no_weights()};
    }
    // [choose_version]
    return {};  // not reached: the version was checked above
}

}  // namespace mha
