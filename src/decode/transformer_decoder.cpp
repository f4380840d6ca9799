// Lesson 7: lesson 6's transformer decoded one token at a time, and greedy generation.
#include "decode/transformer_decoder.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

#include <xtensor/xview.hpp>

namespace mha {
namespace {

[[noreturn]] void fail(const char* function, const std::string& what) {
    throw std::invalid_argument(std::string(function) + ": " + what);
}

std::string number(std::size_t n) { return std::to_string(n); }

void check_ids(const char* function, const std::vector<std::size_t>& tokens, std::size_t vocabulary_size) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        if (tokens[i] >= vocabulary_size) {
            fail(function, "token " + number(i) + " is id " + number(tokens[i]) + " but the model knows only ids 0 to " +
                               number(vocabulary_size - 1));
        }
    }
}

}  // namespace

TransformerDecoder::TransformerDecoder(const AttentionOnlyTransformer& model, std::size_t batch_size)
    : model_(model) {
    const char* function = "TransformerDecoder";
    if (!model.causal) {
        fail(function, "the model is not causal: every position attends to later ones, which do not exist yet "
                       "when decoding one token at a time (lesson 6's coreference model is such a model)");
    }
    if (batch_size == 0) {
        fail(function, "batch_size is 0; it needs at least one sequence");
    }
    if (model.layers.empty()) {
        fail(function, "the model has no attention layer");
    }
    for (const MultiHeadAttention& layer : model.layers) {
        layers_.push_back(grouped_from_multi_head(layer));
        caches_.push_back(empty_key_value_cache(batch_size, layer.num_heads, model.max_length(), layer.head_dim()));
    }
}

TokenStep TransformerDecoder::step(const std::vector<std::size_t>& tokens) {
    const char* function = "TransformerDecoder::step";
    const std::size_t B = caches_.front().batch_size(), t = length_;
    if (tokens.size() != B) {
        fail(function, "got " + number(tokens.size()) + " ids but the decoder decodes B = " + number(B) + " sequences");
    }
    check_ids(function, tokens, model_.vocabulary_size());
    if (t >= model_.max_length()) {
        fail(function, "the sequences already have " + number(t) + " positions, all that the position embedding covers");
    }

    // ---- Pass 1: the new position's embedding, (B, d_model) ----
    const Matrix embedded = model_.token_embedding.forward(tokens) +
                            model_.position_embedding.forward(std::vector<std::size_t>(B, t));
    Matrix stream = embedded;  // (B, d_model): row t of every sequence's residual stream

    // ---- Pass 2: each layer adds what its heads find in its cache ----
    TokenStep result;
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        DecodeStepResult attended = decode_step(layers_[l], caches_[l], stream);  // (B, d_model), (B, H, t + 1)
        stream += attended.output;
        result.weights.push_back(std::move(attended.weights));
    }

    // ---- Pass 3: the read-out ----
    result.logits = model_.readout.forward(stream);  // (B, V)
    length_ = t + 1;
    return result;
}

Generation generate_greedy(const AttentionOnlyTransformer& model, const std::vector<std::size_t>& prompt,
                           std::size_t max_new_tokens, const std::function<void(std::size_t token)>& on_token) {
    const char* function = "generate_greedy";
    if (prompt.empty()) {
        fail(function, "the prompt is empty; it needs at least one token");
    }
    if (max_new_tokens == 0) {
        fail(function, "max_new_tokens is 0; ask for at least one token");
    }
    check_ids(function, prompt, model.vocabulary_size());
    if (prompt.size() + max_new_tokens - 1 > model.max_length()) {
        fail(function, "the prompt has " + number(prompt.size()) + " tokens and " + number(max_new_tokens) +
                           " more are asked for, but the position embedding covers only " +
                           number(model.max_length()) + " positions (prompt + new tokens − 1 must fit)");
    }
    TransformerDecoder decoder(model, 1);
    Generation generation;
    generation.logits = xt::zeros<double>({max_new_tokens, model.vocabulary_size()});  // (N, V)

    // The prompt: every token but the last only fills the caches.
    TokenStep step;
    for (const std::size_t token : prompt) {
        step = decoder.step({token});
    }
    for (std::size_t n = 0; n < max_new_tokens; ++n) {
        // Greedy: the highest logit, the first one on a tie.
        const auto row = xt::view(step.logits, 0, xt::all());  // (V)
        const std::size_t next = static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
        xt::view(generation.logits, n, xt::all()) = row;
        generation.tokens.push_back(next);
        if (on_token) {
            on_token(next);
        }
        if (n + 1 < max_new_tokens) {
            step = decoder.step({next});
        }
    }
    for (const Tensor3& weights : step.weights) {  // (1, H, length) per layer
        std::vector<Vector> heads;
        for (std::size_t h = 0; h < weights.shape(1); ++h) {
            heads.push_back(xt::view(weights, 0, h, xt::all()));  // (length)
        }
        generation.last_weights.push_back(std::move(heads));
    }
    return generation;
}

}  // namespace mha
