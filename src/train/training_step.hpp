// Lesson 6 introduces this header: the forward and backward passes of the
// tiny transformer once more, written for speed: flat buffers allocated once,
// plain loops the compiler vectorises, no copies. The trainer runs this; the
// tests check it against transformer_forward and transformer_backward.
#pragma once

#include <cstddef>
#include <vector>

#include "core/tensor.hpp"
#include "train/attention_only_transformer.hpp"

/// @file
/// @brief One training step of the tiny transformer, fast (introduced in @ref lesson06).

namespace mha {

/// The forward pass, the loss and the backward pass of an AttentionOnlyTransformer,
/// for batches of one size, with every buffer allocated once.
///
/// It computes what transformer_forward, cross_entropy and transformer_backward
/// compute, in the same order of passes, in double; only the arithmetic is
/// arranged differently (sums in another order), so results agree to about 1e-13.
/// Lesson 5 made the same move for the forward pass: the reference is the
/// truth, the fast version is checked against it.
class TrainingStep {
public:
    /// Allocates the buffers for one model's shapes.
    ///
    /// @param model the model to train (only its shapes are read).
    /// @param batch B, the sequences per batch.
    /// @param length L, their length; at most the model's max_length().
    /// @throws std::invalid_argument if B or L is 0 or L is longer than the position embedding.
    /// @see @ref lesson06
    TrainingStep(const AttentionOnlyTransformer& model, std::size_t batch, std::size_t length);

    /// The forward pass: fills logits() and weights().
    ///
    /// @param model the model (of the shapes given to the constructor).
    /// @param tokens B sequences of L ids below V.
    /// @throws std::invalid_argument if the batch or the model does not have the constructor's shapes, or an id is not below V.
    /// @see @ref lesson06
    void forward(const AttentionOnlyTransformer& model, const TokenBatch& tokens);

    /// The forward pass, the mean cross-entropy over the counted positions
    /// and the backward pass: fills gradients().
    ///
    /// @param model the model.
    /// @param tokens B sequences of L ids.
    /// @param targets the id each position should predict, B rows of L.
    /// @param counted whether each position is part of the loss, B rows of L.
    /// @return the loss, as cross_entropy computes it.
    /// @throws std::invalid_argument as forward(), or if targets or counted do not have the tokens' shape, or a counted target is not below V.
    /// @see @ref lesson06
    double forward_backward(const AttentionOnlyTransformer& model, const TokenBatch& tokens,
                            const std::vector<std::vector<std::size_t>>& targets,
                            const std::vector<std::vector<bool>>& counted);

    /// (B·L, V): the logits of the last forward pass, row b·L + i for position i of sequence b.
    const Matrix& logits() const { return logits_; }

    /// Layer l's attention weight from query i to key j in sequence b, head h, of the last forward pass.
    double weight(std::size_t layer, std::size_t b, std::size_t h, std::size_t i, std::size_t j) const {
        return layers_[layer].weights[((b * heads_ + h) * length_ + i) * length_ + j];
    }

    /// The gradients of the last forward_backward, as a model of the same shapes.
    const AttentionOnlyTransformer& gradients() const { return gradients_; }

private:
    /// What one layer keeps from the forward pass for the backward pass; all row-major.
    struct LayerBuffers {
        std::vector<double> input;           // (B·L, d): the stream the layer reads
        std::vector<double> qkv;             // (B·L, 3d): Q, K and V side by side, each with every head
        std::vector<double> key_transposed;  // (d, B·L): Kᵀ, so that the scores run along rows
        std::vector<double> weights;         // (B, H, L, L): P of every head
        std::vector<double> heads;           // (B·L, d): the concatenated head outputs
    };

    void check_shapes(const AttentionOnlyTransformer& model, const TokenBatch& tokens) const;

    std::size_t batch_, length_, d_model_, heads_, vocabulary_;
    bool causal_;
    std::vector<LayerBuffers> layers_;
    std::vector<double> stream_;  // (B·L, d): the stream after the last layer
    Matrix logits_;               // (B·L, V)
    AttentionOnlyTransformer gradients_;
    // Scratch.
    std::vector<double> grad_stream_, grad_heads_;  // (B·L, d) each
    std::vector<double> grad_qkv_;                  // (B·L, 3d): [dQ dK dV]
    std::vector<double> value_transposed_;          // (d, B·L): Vᵀ
    std::vector<double> grad_weights_;              // (L, L): dP, then dZ
    std::vector<double> stacked_;                   // (3d, d): [W_q; W_k; W_v] or their gradients
    std::vector<double> transposed_;                // (d, max(3d, V)): a weight matrix transposed
};

}  // namespace mha
