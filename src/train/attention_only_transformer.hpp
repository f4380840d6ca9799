// Lesson 6 introduces this header: the smallest model in which attention
// heads learn something: embeddings, a few attention layers on a residual
// stream, and a read-out, with its forward and backward passes.
#pragma once

#include <cstddef>
#include <vector>

#include "core/random.hpp"
#include "core/tensor.hpp"
#include "reference/embedding.hpp"
#include "reference/linear.hpp"
#include "reference/multi_head_attention.hpp"

/// @file
/// @brief A tiny attention-only transformer to train (introduced in @ref lesson06).

namespace mha {

/// A batch of token sequences, all of the same length L: B rows of L ids.
using TokenBatch = std::vector<std::vector<std::size_t>>;

/// An attention-only transformer, PyTorch's modules and names in brackets:
///
///     x = token_embedding[tokens] + position_embedding[0 … L)    (B, L, d_model)
///     for each layer:  x = x + layer(x, x, x)                      the residual stream
///     logits = x readoutᵀ                                          (B, L, V)
///
/// No LayerNorm, no feed-forward block and no biases: the tasks of lesson 6
/// do not need them, and without them every number can be followed by hand.
/// The residual stream x is where layers talk to each other: each layer reads
/// all of it and adds what it found, so layer 1 can attend using what layer 0
/// wrote (that is how an induction head is built from a previous-token head).
struct AttentionOnlyTransformer {
    /// (V, d_model): one vector per token id (`token_embedding`, an nn.Embedding).
    Embedding token_embedding;
    /// (longest L, d_model): one learned vector per position (`position_embedding`, an nn.Embedding).
    Embedding position_embedding;
    /// The attention layers, d_model → d_model each, without biases (`layers.0`, `layers.1`, …).
    std::vector<MultiHeadAttention> layers;
    /// (V, d_model): the read-out, from the stream to a score per token id (`readout`, an nn.Linear without bias).
    Linear readout;
    /// Whether position i may attend only to positions ≤ i (next-token prediction) or to all.
    bool causal = true;

    /// V, the number of token ids.
    std::size_t vocabulary_size() const { return token_embedding.table.shape(0); }
    /// The longest sequence the position embedding covers.
    std::size_t max_length() const { return position_embedding.table.shape(0); }
    /// d_model, the width of the residual stream.
    std::size_t d_model() const { return token_embedding.table.shape(1); }
    /// H, the heads of each layer.
    std::size_t num_heads() const { return layers.empty() ? 0 : layers.front().num_heads; }

    /// Every parameter tensor, in a fixed order: token and position embeddings,
    /// then W_q, W_k, W_v, W_o of each layer, then the read-out.
    std::vector<Matrix*> parameters();
    /// The same list, read-only.
    std::vector<const Matrix*> parameters() const;
};

/// A freshly initialised model: embeddings from N(0, 1) and the attention
/// layers as PyTorch initialises nn.MultiheadAttention (lesson 4), the
/// read-out as nn.Linear (default_linear): all as PyTorch would.
///
/// @param vocabulary_size V.
/// @param max_length the longest sequence.
/// @param d_model the width of the residual stream.
/// @param num_layers the attention layers.
/// @param num_heads H per layer; must divide d_model.
/// @param causal whether attention is causal.
/// @param random the generator; the same seed gives the same model.
/// @return the model.
/// @throws std::invalid_argument if a size is 0 or H does not divide d_model.
/// @see @ref lesson06
AttentionOnlyTransformer random_attention_only_transformer(std::size_t vocabulary_size, std::size_t max_length,
                                                           std::size_t d_model, std::size_t num_layers,
                                                           std::size_t num_heads, bool causal,
                                                           RandomGenerator& random);

/// What the forward pass keeps for the backward pass (and for looking at the heads).
struct TransformerActivations {
    /// The residual stream before each layer and after the last: num_layers + 1 tensors (B, L, d_model).
    std::vector<Tensor3> stream;
    /// Every layer's attention weights, (B, H, L, L) each.
    std::vector<Tensor4> weights;
    /// (B, L, V): the score of every token id at every position.
    Tensor3 logits;
};

/// Runs the model on a batch.
///
/// @param model the model.
/// @param tokens B sequences of the same length L ≤ max_length, ids below V.
/// @return the residual streams, every head's weights and the logits.
/// @throws std::invalid_argument if the batch is empty, the sequences differ in length or are too long, or an id is not below V.
/// @see @ref lesson06
TransformerActivations transformer_forward(const AttentionOnlyTransformer& model, const TokenBatch& tokens);

/// Backpropagates dL/dlogits through the whole model.
///
/// The forward pass in reverse: the read-out (linear_backward), then each
/// layer from the last, where the residual x + layer(x) hands dL/dx on
/// unchanged and adds what comes back through the layer
/// (multi_head_attention_backward; x is its query, key and value, so x gets
/// the sum of the three), then the two embeddings (embedding_backward).
///
/// @param model the model of the forward pass.
/// @param tokens the batch of the forward pass.
/// @param activations what transformer_forward returned.
/// @param grad_logits dL/dlogits, shape (B, L, V).
/// @return the gradient of every parameter, as a model of the same shapes.
/// @throws std::invalid_argument if grad_logits is not (B, L, V).
/// @see @ref lesson06
AttentionOnlyTransformer transformer_backward(const AttentionOnlyTransformer& model, const TokenBatch& tokens,
                                              const TransformerActivations& activations, const Tensor3& grad_logits);

/// The model with one head silenced: the columns of W_o that read that head's
/// output set to zero, so that the head adds nothing to the residual stream
/// (the ablation of Michel et al. 2019).
///
/// @param model the model.
/// @param layer the layer of the head.
/// @param head the head.
/// @return a copy of the model without that head.
/// @throws std::invalid_argument if the layer or head does not exist.
/// @see @ref lesson06
AttentionOnlyTransformer without_head(const AttentionOnlyTransformer& model, std::size_t layer, std::size_t head);

}  // namespace mha
