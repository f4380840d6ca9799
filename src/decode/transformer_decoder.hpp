// Lesson 7 introduces this header: lesson 6's trained transformer run one token
// at a time with a KV cache per layer, and greedy generation from a prompt.
#pragma once

#include <cstddef>
#include <functional>
#include <vector>

#include "core/tensor.hpp"
#include "decode/grouped_query_attention.hpp"
#include "decode/key_value_cache.hpp"
#include "train/attention_only_transformer.hpp"

/// @file
/// @brief Decoding lesson 6's transformer token by token (introduced in @ref lesson07).

namespace mha {

/// What one decoding step of the whole model gives.
struct TokenStep {
    /// (B, V): the scores of the next token, what row t of transformer_forward's logits holds.
    Matrix logits;
    /// One per layer, (B, H, t + 1): every head's weights from the new position over positions 0 … t.
    std::vector<Tensor3> weights;
};

/// Lesson 6's AttentionOnlyTransformer, decoding one position at a time:
///
///     x_t = token_embedding[token] + position_embedding[t]      (B, d_model)
///     for each layer l:  x_t = x_t + decode_step(layer l, cache l, x_t)
///     logits_t = x_t readoutᵀ                                     (B, V)
///
/// Each layer has its own KeyValueCache (B, H, max_length, d_k): the keys and
/// values of layer l depend on what earlier layers wrote into the stream, so
/// they cannot be shared.
class TransformerDecoder {
public:
    /// @param model a causal model; it is referred to, not copied, and must outlive the decoder.
    /// @param batch_size B, the sequences decoded side by side.
    /// @throws std::invalid_argument if the model is not causal (a position would
    ///         need to see later tokens, which do not exist yet) or B is 0.
    /// @see @ref lesson07
    TransformerDecoder(const AttentionOnlyTransformer& model, std::size_t batch_size);

    /// Feeds the next position of every sequence.
    ///
    /// @param tokens B ids, one per sequence, each below V.
    /// @return the next token's logits (B, V) and every layer's weights (B, H, t + 1).
    /// @throws std::invalid_argument if there are not B ids, an id is not below V,
    ///         or the sequences already have max_length positions.
    /// @see @ref lesson07
    TokenStep step(const std::vector<std::size_t>& tokens);

    /// t, the positions fed so far.
    std::size_t length() const { return length_; }

    /// The cache of each layer.
    const std::vector<KeyValueCache>& caches() const { return caches_; }

private:
    const AttentionOnlyTransformer& model_;
    std::vector<GroupedQueryAttention> layers_;  // lesson 6's layers with G = H
    std::vector<KeyValueCache> caches_;          // one per layer, (B, H, max_length, d_k)
    std::size_t length_ = 0;
};

/// What greedy generation gives.
struct Generation {
    /// The tokens generated, in order (not the prompt).
    std::vector<std::size_t> tokens;
    /// The logits each generated token was chosen from: one (V) row per token, as a (new tokens, V) matrix.
    Matrix logits;
    /// The last step's weights, [layer][head], each (length) over positions 0 … the last fed.
    std::vector<std::vector<Vector>> last_weights;
};

/// Greedy decoding: feeds the prompt one token at a time, then repeatedly
/// takes the highest-scoring next token (the lowest id on a tie) and feeds it
/// back, until `max_new_tokens` tokens are generated.
///
/// @param model a causal model.
/// @param prompt at least one id, each below V.
/// @param max_new_tokens N ≥ 1; prompt length + N − 1 ≤ max_length (the last token is never fed back).
/// @param on_token if set, called with each token as soon as it is chosen.
/// @return the tokens, their logits, and the last step's weights.
/// @throws std::invalid_argument if the model is not causal, the prompt is empty,
///         an id is not below V, N is 0, or prompt length + N − 1 exceeds max_length.
/// @see @ref lesson07
Generation generate_greedy(const AttentionOnlyTransformer& model, const std::vector<std::size_t>& prompt,
                           std::size_t max_new_tokens,
                           const std::function<void(std::size_t token)>& on_token = {});

}  // namespace mha
