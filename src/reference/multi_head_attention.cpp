// Lesson 4: complete multi-head attention, as PyTorch's nn.MultiheadAttention.
#include "reference/multi_head_attention.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "reference/attention_heads.hpp"
#include "reference/mask.hpp"
#include "reference/packed_projection.hpp"

namespace mha {
namespace {

[[noreturn]] void fail(const char* function, const std::string& what) {
    throw std::invalid_argument(std::string(function) + ": " + what);
}

Tensor3 as_additive(const BoolTensor3& mask) {
    Tensor3 additive = xt::zeros<double>(mask.shape());  // (N, L, S)
    for (std::size_t i = 0; i < mask.size(); ++i) {
        if (mask.data()[i]) {
            additive.data()[i] = -std::numeric_limits<double>::infinity();
        }
    }
    return additive;
}


}  // namespace

// ---- Masks: every form becomes an additive mask ----

AttentionMask::AttentionMask(const BoolMatrix& mask) : AttentionMask(additive_mask(mask)) {}

AttentionMask::AttentionMask(const Matrix& additive_mask) {
    check_float_mask("AttentionMask", additive_mask);
    additive_ = xt::zeros<double>({std::size_t{1}, additive_mask.shape(0), additive_mask.shape(1)});  // (1, L, S)
    xt::view(additive_, 0, xt::all(), xt::all()) = additive_mask;
}

AttentionMask::AttentionMask(const BoolTensor3& mask) : additive_(as_additive(mask)), per_head_(true) {}

AttentionMask::AttentionMask(const Tensor3& additive_mask) : additive_(additive_mask), per_head_(true) {
    check_float_mask("AttentionMask", additive_mask);
}

KeyPaddingMask::KeyPaddingMask(const BoolMatrix& mask) : additive_(additive_mask(mask)) {}

KeyPaddingMask::KeyPaddingMask(const Matrix& additive_mask) : additive_(additive_mask) {
    check_float_mask("KeyPaddingMask", additive_mask);
}

// ---- The module ----

void MultiHeadAttention::check() const {
    const char* function = "MultiHeadAttention";
    const std::size_t E = embed_dim();
    if (num_heads == 0 || E == 0 || E % num_heads != 0) {
        fail(function, "embed_dim " + std::to_string(E) + " is not divisible by num_heads " +
                           std::to_string(num_heads) + "; every head needs d_k = embed_dim / num_heads columns");
    }
    const std::pair<const Linear*, const char*> projections[] = {{&query_projection, "the query projection"},
                                                                 {&key_projection, "the key projection"},
                                                                 {&value_projection, "the value projection"},
                                                                 {&output_projection, "the output projection"}};
    for (const auto& [projection, name] : projections) {
        if (projection->out_features() != E) {
            fail(function, std::string(name) + "'s weight is " + shape_string(projection->weight) + " but must have " +
                               std::to_string(E) + " rows (embed_dim, from the query projection)");
        }
        if (projection->has_bias() != query_projection.has_bias()) {
            fail(function, std::string(name) + (projection->has_bias() ? " has" : " has no") +
                               " bias, unlike the query projection: either all projections have biases or none");
        }
        if (projection->has_bias() && projection->bias.size() != E) {
            fail(function, std::string(name) + "'s bias is " + shape_string(projection->bias) + " but must be (" +
                               std::to_string(E) + ")");
        }
    }
    if (query_projection.in_features() != E) {
        fail(function, "the query projection's weight is " + shape_string(query_projection.weight) +
                           " but must be (" + std::to_string(E) + ", " + std::to_string(E) +
                           "): queries and the output have the same width, embed_dim");
    }
    if (output_projection.in_features() != E) {
        fail(function, "the output projection's weight is " + shape_string(output_projection.weight) +
                           " but must be (" + std::to_string(E) + ", " + std::to_string(E) + ")");
    }
}

MultiHeadAttentionResult MultiHeadAttention::forward(const Tensor3& query, const Tensor3& key, const Tensor3& value,
                                                     const AttentionMasks& masks) const {
    const char* function = "MultiHeadAttention::forward";
    check();
    const std::size_t B = query.shape(0), L = query.shape(1), S = key.shape(1);
    const std::size_t E = embed_dim(), H = num_heads;

    // ---- Pass 0: every shape must line up before anything is computed ----
    const auto shape_of = [](const Tensor3& t) { return std::vector<std::size_t>(t.shape().begin(), t.shape().end()); };
    check_forward_shapes(function, shape_of(query), shape_of(key), shape_of(value), E, H, kdim(), vdim(), masks);

    MultiHeadAttentionResult result;
    result.output = xt::zeros<double>({B, L, E});
    result.weights = xt::zeros<double>({B, H, L, S});
    for (std::size_t b = 0; b < B; ++b) {
        // [heads_pass]
        // ---- Pass 1: project every input once for all heads ----
        const Matrix Q = query_projection.forward(batch_entry(query, b));  // (L, E)
        const Matrix K = key_projection.forward(batch_entry(key, b));      // (S, kdim) -> (S, E)
        const Matrix V = value_projection.forward(batch_entry(value, b));  // (S, vdim) -> (S, E)

        // ---- Pass 2: every head attends on its own (lesson 3), with all masks added up ----
        HeadsResult heads = attend_each_head(Q, K, V, H, head_masks(masks, b, H, L, S));  // H x (L, d_k), H x (L, S)
        for (std::size_t h = 0; h < H; ++h) {
            xt::view(result.weights, b, h, xt::all(), xt::all()) = heads.weights[h];  // (L, S)
        }
        const std::vector<Matrix>& head_outputs = heads.outputs;  // H x (L, d_k)
        // [heads_pass]

        // ---- Pass 3: concatenate the heads and mix them with W_o ----
        // EXERCISE output_projection (lesson 4)
        // HINT: concat_heads(head_outputs) puts the heads side by side: (L, E).
        // HINT: output_projection.forward(...) of that, (L, E), goes to xt::view(result.output, b, xt::all(), xt::all()).
        // [concat_and_output]
        // Up to here the heads never saw each other; W_o is where their findings combine.
        const Matrix concatenated = concat_heads(head_outputs);                 // (L, E)
        xt::view(result.output, b, xt::all(), xt::all()) = output_projection.forward(concatenated);  // (L, E)
        // [concat_and_output]
        // END EXERCISE
    }
    return result;
}

std::vector<Matrix> head_masks(const AttentionMasks& masks, std::size_t b, std::size_t num_heads, std::size_t L,
                               std::size_t S) {
    const Matrix causal = masks.causal ? additive_mask(causal_mask(L, S)) : Matrix(xt::zeros<double>({L, S}));
    std::vector<Matrix> result;  // H x (L, S)
    for (std::size_t h = 0; h < num_heads; ++h) {
        Matrix mask = causal;  // (L, S)
        if (masks.attention_mask) {
            const auto& attention_mask = masks.attention_mask->additive();  // (1 or B·H, L, S)
            const std::size_t index = masks.attention_mask->per_head() ? b * num_heads + h : 0;
            mask += xt::view(attention_mask, index, xt::all(), xt::all());
        }
        if (masks.key_padding_mask) {
            // The same padding row for every query: broadcast (S) over (L, S).
            mask += xt::view(masks.key_padding_mask->additive(), xt::newaxis(), b, xt::all());
        }
        result.push_back(std::move(mask));
    }
    return result;
}

void check_forward_shapes(const std::string& function, const std::vector<std::size_t>& query_shape,
                          const std::vector<std::size_t>& key_shape, const std::vector<std::size_t>& value_shape,
                          std::size_t embed_dim, std::size_t num_heads, std::size_t kdim, std::size_t vdim,
                          const AttentionMasks& masks) {
    const auto number = [](std::size_t n) { return std::to_string(n); };
    const std::size_t B = query_shape[0], L = query_shape[1], S = key_shape[1], E = embed_dim, H = num_heads;
    const char* name = function.c_str();
    if (query_shape[2] != E) {
        fail(name, "query is " + shape_string(query_shape) + " but the module's embed_dim is " + number(E) +
                       "; query must be (B, L, E)");
    }
    if (key_shape[0] != B || value_shape[0] != B || value_shape[1] != S) {
        fail(name, "query is " + shape_string(query_shape) + ", key " + shape_string(key_shape) + " and value " +
                       shape_string(value_shape) + "; key and value must be (B, S, ·) with the same B and S");
    }
    if (key_shape[2] != kdim || value_shape[2] != vdim) {
        fail(name, "key is " + shape_string(key_shape) + " and value " + shape_string(value_shape) + " but kdim is " +
                       number(kdim) + " and vdim " + number(vdim));
    }
    if (masks.attention_mask) {
        const AttentionMask& attention_mask = *masks.attention_mask;
        const auto& shape = attention_mask.additive().shape();
        const std::size_t expected_first = attention_mask.per_head() ? B * H : 1;
        if (shape[0] != expected_first || shape[1] != L || shape[2] != S) {
            const std::string given = attention_mask.per_head()
                                          ? shape_string(attention_mask.additive())
                                          : "(" + number(shape[1]) + ", " + number(shape[2]) + ")";
            fail(name, "attn_mask is " + given + " but must be (L, S) = (" + number(L) + ", " + number(S) +
                           ") or (B·H, L, S) = (" + number(B * H) + ", " + number(L) + ", " + number(S) + ")");
        }
    }
    if (masks.key_padding_mask) {
        const auto& padding = masks.key_padding_mask->additive();
        if (padding.shape(0) != B || padding.shape(1) != S) {
            fail(name, "key_padding_mask is " + shape_string(padding) + " but must be (B, S) = (" + number(B) + ", " +
                           number(S) + ")");
        }
    }
}

MultiHeadAttention random_multi_head_attention(std::size_t embed_dim, std::size_t num_heads, bool with_bias,
                                               RandomGenerator& random, std::size_t kdim, std::size_t vdim) {
    if (embed_dim == 0 || num_heads == 0 || embed_dim % num_heads != 0) {
        fail("random_multi_head_attention", "embed_dim " + std::to_string(embed_dim) +
                                                " is not divisible by num_heads " + std::to_string(num_heads));
    }
    kdim = kdim == 0 ? embed_dim : kdim;
    vdim = vdim == 0 ? embed_dim : vdim;
    MultiHeadAttention module;
    module.num_heads = num_heads;
    if (kdim == embed_dim && vdim == embed_dim) {
        // PyTorch draws one packed (3E, E) matrix, so the Xavier bound counts fan_out = 3E.
        const QueryKeyValueProjections parts =
            split_packed_projection(xavier_uniform_linear(embed_dim, 3 * embed_dim, with_bias, random));
        module.query_projection = parts.query;
        module.key_projection = parts.key;
        module.value_projection = parts.value;
    } else {
        module.query_projection = xavier_uniform_linear(embed_dim, embed_dim, with_bias, random);
        module.key_projection = xavier_uniform_linear(kdim, embed_dim, with_bias, random);
        module.value_projection = xavier_uniform_linear(vdim, embed_dim, with_bias, random);
    }
    // nn.Linear's default: uniform in [-1/sqrt(in_features), 1/sqrt(in_features)]; the bias starts at 0.
    module.output_projection = default_linear(embed_dim, embed_dim, with_bias, random);
    return module;
}

Tensor3 average_over_heads(const Tensor4& weights) {
    const std::size_t B = weights.shape(0), H = weights.shape(1), L = weights.shape(2), S = weights.shape(3);
    if (H == 0) {
        fail("average_over_heads", "the weights are " + shape_string(weights) + " and have no heads to average");
    }
    Tensor3 average = xt::zeros<double>({B, L, S});  // (B, L, S)
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t h = 0; h < H; ++h) {
            xt::view(average, b, xt::all(), xt::all()) += xt::view(weights, b, h, xt::all(), xt::all());
        }
    }
    return average / static_cast<double>(H);
}

}  // namespace mha
