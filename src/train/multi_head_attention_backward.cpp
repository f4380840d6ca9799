// Lesson 6: the backward pass of multi-head attention.
#include "train/multi_head_attention_backward.hpp"

#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "reference/attention_heads.hpp"
#include "train/attention_backward.hpp"
#include "train/linear_backward.hpp"

namespace mha {
namespace {

// A module of the same shapes, every parameter zero: where the gradients add up.
MultiHeadAttention zeros_like(const MultiHeadAttention& module) {
    MultiHeadAttention zeros = module;
    for (Linear* layer : {&zeros.query_projection, &zeros.key_projection, &zeros.value_projection,
                          &zeros.output_projection}) {
        layer->weight.fill(0.0);
        layer->bias.fill(0.0);
    }
    return zeros;
}

// Adds one entry's gradients of a layer into the running sums.
void accumulate(Linear& sum, const LinearGradients& gradients) {
    sum.weight += gradients.weight;
    if (sum.has_bias()) {
        sum.bias += gradients.bias;
    }
}

}  // namespace

MultiHeadAttentionGradients multi_head_attention_backward(const MultiHeadAttention& module, const Tensor3& query,
                                                          const Tensor3& key, const Tensor3& value,
                                                          const AttentionMasks& masks, const Tensor3& grad_output) {
    const char* function = "multi_head_attention_backward";
    module.check();
    const std::size_t B = query.shape(0), L = query.shape(1), S = key.shape(1);
    const std::size_t E = module.embed_dim(), H = module.num_heads;
    const auto shape_of = [](const Tensor3& t) { return std::vector<std::size_t>(t.shape().begin(), t.shape().end()); };
    check_forward_shapes(function, shape_of(query), shape_of(key), shape_of(value), E, H, module.kdim(),
                         module.vdim(), masks);
    if (grad_output.shape(0) != B || grad_output.shape(1) != L || grad_output.shape(2) != E) {
        throw std::invalid_argument(std::string(function) + ": grad_output is " + shape_string(grad_output) +
                                    " but the output is (B, L, E) = " + shape_string({B, L, E}));
    }

    MultiHeadAttentionGradients gradients;
    gradients.query = xt::zeros<double>(query.shape());  // (B, L, E)
    gradients.key = xt::zeros<double>(key.shape());      // (B, S, kdim)
    gradients.value = xt::zeros<double>(value.shape());  // (B, S, vdim)
    gradients.parameters = zeros_like(module);
    MultiHeadAttention& sums = gradients.parameters;
    for (std::size_t b = 0; b < B; ++b) {
        // ---- The forward pass of entry b again, keeping what the backward pass reads ----
        const Matrix x_q = batch_entry(query, b), x_k = batch_entry(key, b), x_v = batch_entry(value, b);
        const Matrix Q = module.query_projection.forward(x_q);  // (L, E)
        const Matrix K = module.key_projection.forward(x_k);    // (S, E)
        const Matrix V = module.value_projection.forward(x_v);  // (S, E)
        const HeadsResult heads = attend_each_head(Q, K, V, H, head_masks(masks, b, H, L, S));
        const Matrix concatenated = concat_heads(heads.outputs);  // (L, E)

        // ---- Backward, in reverse: the output projection ----
        const LinearGradients output = linear_backward(module.output_projection, concatenated,
                                                       batch_entry(grad_output, b));
        accumulate(sums.output_projection, output);

        // ---- The concatenation: each head gets back its own d_k columns ----
        const std::vector<Matrix> grad_head_outputs = split_heads(output.input, H);  // H x (L, d_k)

        // ---- Every head, on its own: lesson 1's attention, reversed ----
        const std::vector<Matrix> Q_heads = split_heads(Q, H), K_heads = split_heads(K, H), V_heads = split_heads(V, H);
        std::vector<Matrix> grad_Q_heads, grad_K_heads, grad_V_heads;
        for (std::size_t h = 0; h < H; ++h) {
            AttentionGradients head = attention_backward(Q_heads[h], K_heads[h], V_heads[h], heads.weights[h],
                                                         grad_head_outputs[h]);
            grad_Q_heads.push_back(std::move(head.query));  // (L, d_k)
            grad_K_heads.push_back(std::move(head.key));    // (S, d_k)
            grad_V_heads.push_back(std::move(head.value));  // (S, d_k)
        }

        // ---- The split into heads, undone; then the three input projections ----
        const LinearGradients query_gradients = linear_backward(module.query_projection, x_q, concat_heads(grad_Q_heads));
        const LinearGradients key_gradients = linear_backward(module.key_projection, x_k, concat_heads(grad_K_heads));
        const LinearGradients value_gradients = linear_backward(module.value_projection, x_v, concat_heads(grad_V_heads));
        accumulate(sums.query_projection, query_gradients);
        accumulate(sums.key_projection, key_gradients);
        accumulate(sums.value_projection, value_gradients);
        xt::view(gradients.query, b, xt::all(), xt::all()) = query_gradients.input;  // (L, E)
        xt::view(gradients.key, b, xt::all(), xt::all()) = key_gradients.input;      // (S, kdim)
        xt::view(gradients.value, b, xt::all(), xt::all()) = value_gradients.input;  // (S, vdim)
    }
    return gradients;
}

}  // namespace mha
