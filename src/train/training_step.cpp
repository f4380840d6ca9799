// Lesson 6: one training step of the tiny transformer, on flat buffers.
//
// The passes are those of attention_only_transformer.cpp; what differs is
// only how the arithmetic is laid out: flat buffers allocated once, and every
// matrix product one call of small_products.hpp, which runs in place on one
// head's columns of Q, K or V (head h of Q is the (L, d_k) block starting at
// column h·d_k, rows 3d apart).
#include "train/training_step.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <stdexcept>
#include <string>

#include "train/cross_entropy.hpp"
#include "train/small_products.hpp"


namespace mha {

namespace {

void set_zero(std::vector<double>& buffer) { std::fill(buffer.begin(), buffer.end(), 0.0); }
void set_zero(Matrix& matrix) { std::fill(matrix.begin(), matrix.end(), 0.0); }

/// The three input projections of a layer, W_q, W_k, W_v (d, d) each.
std::array<const Linear*, 3> input_projections(const MultiHeadAttention& layer) {
    return {&layer.query_projection, &layer.key_projection, &layer.value_projection};
}

}  // namespace

TrainingStep::TrainingStep(const AttentionOnlyTransformer& model, std::size_t batch, std::size_t length)
    : batch_(batch),
      length_(length),
      d_model_(model.d_model()),
      heads_(model.num_heads()),
      vocabulary_(model.vocabulary_size()),
      causal_(model.causal),
      gradients_(model) {
    if (batch == 0 || length == 0 || length > model.max_length()) {
        throw std::invalid_argument("TrainingStep: batch " + std::to_string(batch) + " and length " +
                                    std::to_string(length) + " must be at least 1, and the length at most " +
                                    std::to_string(model.max_length()) + " (the position embedding's rows)");
    }
    if (model.layers.empty() || heads_ == 0 || d_model_ % heads_ != 0) {
        throw std::invalid_argument("TrainingStep: the model needs at least one layer, and H (" +
                                    std::to_string(heads_) + ") must divide d_model (" + std::to_string(d_model_) +
                                    ")");
    }
    const std::size_t N = batch * length, d = d_model_;
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
        layers_.push_back({std::vector<double>(N * d), std::vector<double>(N * 3 * d), std::vector<double>(d * N),
                           std::vector<double>(batch * heads_ * length * length), std::vector<double>(N * d)});
    }
    stream_.resize(N * d);
    logits_ = xt::zeros<double>({N, vocabulary_});
    grad_stream_.resize(N * d);
    grad_heads_.resize(N * d);
    grad_qkv_.resize(N * 3 * d);
    value_transposed_.resize(d * N);
    grad_weights_.resize(length * length);
    stacked_.resize(3 * d * d);
    transposed_.resize(d * std::max(3 * d, vocabulary_));
}

void TrainingStep::check_shapes(const AttentionOnlyTransformer& model, const TokenBatch& tokens) const {
    if (model.d_model() != d_model_ || model.num_heads() != heads_ || model.vocabulary_size() != vocabulary_ ||
        model.layers.size() != layers_.size() || model.causal != causal_ || model.max_length() < length_) {
        throw std::invalid_argument("TrainingStep: the model's shapes differ from those the step was made for");
    }
    if (tokens.size() != batch_) {
        throw std::invalid_argument("TrainingStep: the batch has " + std::to_string(tokens.size()) +
                                    " sequences but the step was made for " + std::to_string(batch_));
    }
    for (std::size_t b = 0; b < batch_; ++b) {
        if (tokens[b].size() != length_) {
            throw std::invalid_argument("TrainingStep: sequence " + std::to_string(b) + " has " +
                                        std::to_string(tokens[b].size()) + " tokens but the step was made for " +
                                        std::to_string(length_));
        }
        for (std::size_t i = 0; i < length_; ++i) {
            if (tokens[b][i] >= vocabulary_) {
                throw std::invalid_argument("TrainingStep: token " + std::to_string(tokens[b][i]) + " at (" +
                                            std::to_string(b) + ", " + std::to_string(i) +
                                            ") is not below the vocabulary size " + std::to_string(vocabulary_));
            }
        }
    }
}

void TrainingStep::forward(const AttentionOnlyTransformer& model, const TokenBatch& tokens) {
    check_shapes(model, tokens);
    const std::size_t B = batch_, L = length_, d = d_model_, H = heads_, d_k = d / H, N = B * L;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_k));

    // Pass 1: the embeddings, token vector + position vector, into the first layer's input.
    double* x = layers_.front().input.data();  // (N, d)
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t i = 0; i < L; ++i) {
            const double* token_row = model.token_embedding.table.data() + tokens[b][i] * d;
            const double* position_row = model.position_embedding.table.data() + i * d;
            for (std::size_t c = 0; c < d; ++c) {
                x[(b * L + i) * d + c] = token_row[c] + position_row[c];
            }
        }
    }

    // Pass 2: the layers. Each writes x + attention(x) into the next layer's input.
    for (std::size_t l = 0; l < layers_.size(); ++l) {
        LayerBuffers& layer = layers_[l];
        const MultiHeadAttention& weights = model.layers[l];
        double* next = l + 1 < layers_.size() ? layers_[l + 1].input.data() : stream_.data();  // (N, d)
        x = layer.input.data();

        // The three projections as one product, for every position of every
        // sequence: [Q K V] = x [W_q; W_k; W_v]ᵀ, (N, 3d), as PyTorch's packed in_proj.
        for (std::size_t p = 0; p < 3; ++p) {
            const Matrix& W = input_projections(weights)[p]->weight;  // (d, d)
            for (std::size_t r = 0; r < d; ++r) {
                for (std::size_t c = 0; c < d; ++c) {
                    transposed_[c * 3 * d + p * d + r] = W(r, c);  // (d, 3d)
                }
            }
        }
        set_zero(layer.qkv);
        add_product(layer.qkv.data(), 3 * d, x, d, transposed_.data(), 3 * d, N, d, 3 * d);
        transpose(layer.key_transposed, layer.qkv.data() + d, 3 * d, N, d);  // Kᵀ, (d, N)

        // Attention, one sequence and one head at a time: lesson 1's three passes.
        set_zero(layer.heads);
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t h = 0; h < H; ++h) {
                const double* Q_h = layer.qkv.data() + b * L * 3 * d + h * d_k;            // (L, d_k), rows 3d apart
                const double* V_h = Q_h + 2 * d;                                           // (L, d_k), rows 3d apart
                const double* K_h_transposed = layer.key_transposed.data() + h * d_k * N + b * L;  // (d_k, L), rows N apart
                double* P = layer.weights.data() + (b * H + h) * L * L;                   // (L, L)
                std::fill(P, P + L * L, 0.0);
                add_product(P, L, Q_h, 3 * d, K_h_transposed, N, L, d_k, L);  // the scores Q_h K_hᵀ
                for (std::size_t i = 0; i < L; ++i) {
                    double* row = P + i * L;
                    const std::size_t visible = causal_ ? i + 1 : L;  // the keys j < visible may be seen
                    double row_max = row[0] * scale;
                    for (std::size_t j = 0; j < visible; ++j) {
                        row[j] *= scale;
                        row_max = std::max(row_max, row[j]);
                    }
                    double sum = 0.0;
                    for (std::size_t j = 0; j < visible; ++j) {
                        row[j] = std::exp(row[j] - row_max);
                        sum += row[j];
                    }
                    for (std::size_t j = 0; j < L; ++j) {
                        row[j] = j < visible ? row[j] / sum : 0.0;  // the future gets weight 0
                    }
                }
                // P V_h (L, d_k), into head h's columns of the concatenation (N, d).
                add_product(layer.heads.data() + b * L * d + h * d_k, d, P, L, V_h, 3 * d, L, L, d_k);
            }
        }

        // The output projection and the residual: next = x + concat(heads) W_oᵀ.
        std::copy(x, x + N * d, next);
        transpose(transposed_, weights.output_projection.weight.data(), d, d, d);
        add_product(next, d, layer.heads.data(), d, transposed_.data(), d, N, d, d);
    }

    // Pass 3: the read-out, (N, d) · (d, V).
    set_zero(logits_);
    transpose(transposed_, model.readout.weight.data(), d, vocabulary_, d);
    add_product(logits_.data(), vocabulary_, stream_.data(), d, transposed_.data(), vocabulary_, N, d, vocabulary_);
}

double TrainingStep::forward_backward(const AttentionOnlyTransformer& model, const TokenBatch& tokens,
                                      const std::vector<std::vector<std::size_t>>& targets,
                                      const std::vector<std::vector<bool>>& counted) {
    forward(model, tokens);
    const std::size_t B = batch_, L = length_, d = d_model_, H = heads_, d_k = d / H, N = B * L, V = vocabulary_;
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_k));

    // The loss and dL/dlogits (N, V).
    if (targets.size() != B || counted.size() != B) {
        throw std::invalid_argument("TrainingStep: " + std::to_string(targets.size()) + " rows of targets and " +
                                    std::to_string(counted.size()) + " of counted flags for a batch of " +
                                    std::to_string(B));
    }
    std::vector<std::size_t> flat_targets;
    std::vector<bool> flat_counted;
    for (std::size_t b = 0; b < B; ++b) {
        if (targets[b].size() != L || counted[b].size() != L) {
            throw std::invalid_argument("TrainingStep: row " + std::to_string(b) + " of targets or counted flags "
                                        "does not have the sequences' length " + std::to_string(L));
        }
        flat_targets.insert(flat_targets.end(), targets[b].begin(), targets[b].end());
        flat_counted.insert(flat_counted.end(), counted[b].begin(), counted[b].end());
    }
    const CrossEntropyResult loss = cross_entropy(logits_, flat_targets, flat_counted);
    const double* grad_logits = loss.grad_logits.data();  // (N, V)

    // Pass 3 backwards: dW_r = dlogitsᵀ x (V, d); dx = dlogits W_r (N, d).
    set_zero(gradients_.readout.weight);
    add_transposed_product(gradients_.readout.weight.data(), d, grad_logits, V, stream_.data(), d, V, N, d);
    set_zero(grad_stream_);
    add_product(grad_stream_.data(), d, grad_logits, V, model.readout.weight.data(), d, N, V, d);

    // Pass 2 backwards, the last layer first. grad_stream_ holds dL/d(the layer's output).
    for (std::size_t l = layers_.size(); l-- > 0;) {
        const LayerBuffers& layer = layers_[l];
        const MultiHeadAttention& weights = model.layers[l];
        MultiHeadAttention& grads = gradients_.layers[l];

        // The output projection: dW_o = dYᵀ concat (d, d); dconcat = dY W_o (N, d).
        set_zero(grads.output_projection.weight);
        add_transposed_product(grads.output_projection.weight.data(), d, grad_stream_.data(), d, layer.heads.data(),
                               d, d, N, d);
        set_zero(grad_heads_);
        add_product(grad_heads_.data(), d, grad_stream_.data(), d, weights.output_projection.weight.data(), d, N, d,
                    d);

        // Every head: attention_backward's three passes, reversed, into [dQ dK dV] (N, 3d).
        set_zero(grad_qkv_);
        transpose(value_transposed_, layer.qkv.data() + 2 * d, 3 * d, N, d);  // Vᵀ, (d, N)
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t h = 0; h < H; ++h) {
                const std::size_t block = b * L * 3 * d + h * d_k;       // head h of sequence b in (N, 3d)
                const double* Q_h = layer.qkv.data() + block;            // (L, d_k), rows 3d apart
                const double* K_h = Q_h + d;                             // (L, d_k)
                const double* V_h_transposed = value_transposed_.data() + h * d_k * N + b * L;  // (d_k, L), rows N apart
                double* dQ_h = grad_qkv_.data() + block;                 // (L, d_k), rows 3d apart
                double* dK_h = dQ_h + d;
                double* dV_h = dQ_h + 2 * d;
                const double* P = layer.weights.data() + (b * H + h) * L * L;        // (L, L)
                const double* dO = grad_heads_.data() + b * L * d + h * d_k;         // (L, d_k), rows d apart
                double* dP = grad_weights_.data();                                   // (L, L)
                std::fill(dP, dP + L * L, 0.0);
                add_product(dP, L, dO, d, V_h_transposed, N, L, d_k, L);  // dP = dO V_hᵀ
                add_transposed_product(dV_h, 3 * d, P, L, dO, d, L, L, d_k);  // dV_h = Pᵀ dO
                // The softmax: dZ = P ⊙ (dP − rowsum(P ⊙ dP)), then the 1/√d_k of the scores.
                for (std::size_t i = 0; i < L; ++i) {
                    double dot = 0.0;
                    for (std::size_t j = 0; j < L; ++j) {
                        dot += P[i * L + j] * dP[i * L + j];
                    }
                    for (std::size_t j = 0; j < L; ++j) {
                        dP[i * L + j] = P[i * L + j] * (dP[i * L + j] - dot) * scale;  // 0 where P is 0: masked
                    }
                }
                add_product(dQ_h, 3 * d, dP, L, K_h, 3 * d, L, L, d_k);             // dQ_h = dZ K_h
                add_transposed_product(dK_h, 3 * d, dP, L, Q_h, 3 * d, L, L, d_k);  // dK_h = dZᵀ Q_h
            }
        }

        // The projections: [dW_q; dW_k; dW_v] = [dQ dK dV]ᵀ x (3d, d), and
        // dx = dY (the residual's shortcut) + [dQ dK dV] [W_q; W_k; W_v].
        std::fill(stacked_.begin(), stacked_.end(), 0.0);
        add_transposed_product(stacked_.data(), d, grad_qkv_.data(), 3 * d, layer.input.data(), d, 3 * d, N, d);
        for (std::size_t p = 0; p < 3; ++p) {
            Matrix& dW = const_cast<Linear*>(input_projections(grads)[p])->weight;  // (d, d)
            std::copy(stacked_.begin() + p * d * d, stacked_.begin() + (p + 1) * d * d, dW.begin());
            const Matrix& W = input_projections(weights)[p]->weight;
            std::copy(W.begin(), W.end(), stacked_.begin() + p * d * d);  // (3d, d): W_q, W_k, W_v stacked
        }
        add_product(grad_stream_.data(), d, grad_qkv_.data(), 3 * d, stacked_.data(), d, N, 3 * d, d);
    }

    // Pass 1 backwards: each position's gradient to its token's row and its position's row.
    set_zero(gradients_.token_embedding.table);
    set_zero(gradients_.position_embedding.table);
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t i = 0; i < L; ++i) {
            const double* g = grad_stream_.data() + (b * L + i) * d;
            double* token_row = gradients_.token_embedding.table.data() + tokens[b][i] * d;
            double* position_row = gradients_.position_embedding.table.data() + i * d;
            for (std::size_t c = 0; c < d; ++c) {
                token_row[c] += g[c];
                position_row[c] += g[c];
            }
        }
    }
    return loss.loss;
}

}  // namespace mha
