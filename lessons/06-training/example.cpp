// Lesson 6 example: the backward pass of multi-head attention, seen from the
// outside. Every weight is random (seeded) and untrained; the example shows
// where gradients flow and how the course checks them, not what a trained
// model learns.
//
//   1. Which positions does the output at "it" depend on? The gradient of that
//      one output row with respect to every input row, without a mask and
//      under the causal mask, which cuts the future off exactly.
//   2. Are the gradients right? multi_head_attention_backward against central
//      differences, for the input and for every parameter, as the tests do.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "core/random.hpp"
#include "reference/embedding.hpp"
#include "reference/multi_head_attention.hpp"
#include "reference/positional_encoding.hpp"
#include "reference/tokenizer.hpp"
#include "train/multi_head_attention_backward.hpp"

namespace {

// The length of row i of a matrix: how strongly the loss leans on that input position.
double row_norm(const mha::Matrix& m, std::size_t i) {
    double sum = 0.0;
    for (std::size_t j = 0; j < m.shape(1); ++j) {
        sum += m(i, j) * m(i, j);
    }
    return std::sqrt(sum);
}

// The loss Σ dY ⊙ output for one module and input: the quantity whose gradient the backward pass gives.
double loss(const mha::MultiHeadAttention& module, const mha::Tensor3& x, const mha::AttentionMasks& masks,
            const mha::Tensor3& grad_output) {
    const mha::Tensor3 output = module.forward(x, x, x, masks).output;  // (1, L, E)
    double sum = 0.0;
    for (std::size_t i = 0; i < output.size(); ++i) {
        sum += grad_output.data()[i] * output.data()[i];
    }
    return sum;
}

// The largest relative difference between an analytic gradient and central differences of `loss_of`.
template <class Tensor, class Loss>
double worst_relative_error(const Tensor& analytic, Tensor point, Loss loss_of) {
    const double h = 1e-6;
    double largest = 0.0, difference = 0.0;
    for (std::size_t i = 0; i < point.size(); ++i) {
        const double original = point.data()[i];
        point.data()[i] = original + h;
        const double above = loss_of(point);
        point.data()[i] = original - h;
        const double below = loss_of(point);
        point.data()[i] = original;
        const double numerical = (above - below) / (2.0 * h);
        largest = std::max({largest, std::abs(numerical), std::abs(analytic.data()[i])});
        difference = std::max(difference, std::abs(numerical - analytic.data()[i]));
    }
    return largest > 0.0 ? difference / largest : difference;
}

}  // namespace

int main() {
    const std::string sentence = "The animal didn't cross the street because it was too tired.";
    const std::size_t E = 8, H = 2;
    mha::RandomGenerator random(6);
    std::printf("=== Lesson 6: the backward pass ===\n\n");

    // ---- Text -> X (1, L, E), as in lesson 2 ----
    const mha::Vocabulary vocabulary({sentence});
    const mha::Embedding embedding = mha::random_embedding(vocabulary.size(), E, random);
    const std::vector<std::string> tokens = mha::tokenize(sentence);
    const std::vector<std::size_t> ids = vocabulary.encode(sentence);
    const std::size_t L = ids.size();
    mha::Tensor3 x = xt::zeros<double>({std::size_t{1}, L, E});  // (1, L, E): one sentence
    xt::view(x, 0, xt::all(), xt::all()) = embedding.forward(ids) + mha::sinusoidal_positional_encoding(L, E);
    const mha::MultiHeadAttention module = mha::random_multi_head_attention(E, H, true, random);

    // ---- 1. Where the output at "it" comes from ----
    const std::size_t it = static_cast<std::size_t>(std::find(tokens.begin(), tokens.end(), "it") - tokens.begin());
    mha::Tensor3 grad_output = xt::zeros<double>({std::size_t{1}, L, E});  // dL/doutput: ones on row "it", zeros elsewhere
    xt::view(grad_output, 0, it, xt::all()) = 1.0;
    std::printf("The loss is the sum of the output row of \"%s\" (position %zu). How much does it move when\n",
                tokens[it].c_str(), it);
    std::printf("each input row moves? |dL/dx_j| for every position j (query, key and value are one x here,\n");
    std::printf("so its gradient is the sum of the three):\n\n");
    std::printf("  %-10s %12s %12s\n", "token", "no mask", "causal");
    mha::AttentionMasks causal;
    causal.causal = true;
    mha::Matrix influence[2];
    const mha::AttentionMasks* mask_kinds[] = {nullptr, &causal};
    for (int kind = 0; kind < 2; ++kind) {
        const mha::AttentionMasks masks = mask_kinds[kind] ? *mask_kinds[kind] : mha::AttentionMasks{};
        const mha::MultiHeadAttentionGradients g = mha::multi_head_attention_backward(module, x, x, x, masks, grad_output);
        influence[kind] = mha::batch_entry(g.query + g.key + g.value, 0);  // (L, E): x feeds all three
    }
    for (std::size_t j = 0; j < L; ++j) {
        std::printf("  %-10s %12.4f %12.4f%s\n", tokens[j].c_str(), row_norm(influence[0], j), row_norm(influence[1], j),
                    j > it ? "   <- after \"it\": the causal mask cuts it off" : "");
    }

    // ---- 2. The check every test makes: central differences ----
    std::printf("\nThe analytic gradients against central differences (f(x+h) - f(x-h)) / 2h, h = 1e-6,\n");
    std::printf("of the loss above (no mask): the largest difference over the largest entry:\n\n");
    const mha::AttentionMasks no_mask;
    const mha::MultiHeadAttentionGradients g = mha::multi_head_attention_backward(module, x, x, x, no_mask, grad_output);
    std::printf("  %-28s %s\n", "gradient of", "relative error");
    std::printf("  %-28s %.1e\n", "x (query + key + value)",
                worst_relative_error(mha::Tensor3(g.query + g.key + g.value), x,
                                     [&](const mha::Tensor3& nudged) { return loss(module, nudged, no_mask, grad_output); }));
    const std::pair<mha::Linear mha::MultiHeadAttention::*, const char*> layers[] = {
        {&mha::MultiHeadAttention::query_projection, "W_q"},
        {&mha::MultiHeadAttention::key_projection, "W_k"},
        {&mha::MultiHeadAttention::value_projection, "W_v"},
        {&mha::MultiHeadAttention::output_projection, "W_o"}};
    for (const auto& [layer, name] : layers) {
        const double error = worst_relative_error((g.parameters.*layer).weight, (module.*layer).weight,
                                                  [&](const mha::Matrix& weight) {
                                                      mha::MultiHeadAttention changed = module;
                                                      (changed.*layer).weight = weight;
                                                      return loss(changed, x, no_mask, grad_output);
                                                  });
        std::printf("  %-28s %.1e\n", name, error);
    }
    double largest_key_bias = 0.0;
    for (const double d : g.parameters.key_projection.bias) {
        largest_key_bias = std::max(largest_key_bias, std::abs(d));
    }
    std::printf("\nThe key projection's bias gets |gradient| <= %.1e: it shifts every score of a row alike,\n",
                largest_key_bias);
    std::printf("and the softmax ignores such a shift. PyTorch keeps it anyway (in_proj_bias).\n");
    return 0;
}
