// Lesson 6: a tiny attention-only transformer, forward and backward.
#include "train/attention_only_transformer.hpp"

#include <stdexcept>
#include <string>

#include "train/embedding_backward.hpp"
#include "train/linear_backward.hpp"
#include "train/multi_head_attention_backward.hpp"

namespace mha {

namespace {

/// (B, L, C) as (B·L, C): one row per position of every sequence, the shape lesson 2's layers take.
Matrix rows_of(const Tensor3& batch) {
    Matrix rows = xt::zeros<double>({batch.shape(0) * batch.shape(1), batch.shape(2)});
    std::copy(batch.begin(), batch.end(), rows.begin());
    return rows;
}

/// (B·L, C) back to (B, L, C).
Tensor3 batch_of(const Matrix& rows, std::size_t B, std::size_t L) {
    Tensor3 batch = xt::zeros<double>({B, L, rows.shape(1)});
    std::copy(rows.begin(), rows.end(), batch.begin());
    return batch;
}

/// The ids of every position of every sequence, row after row, and the position of each: (B·L) each.
void flat_ids(const TokenBatch& tokens, std::vector<std::size_t>& token_ids, std::vector<std::size_t>& positions) {
    for (const auto& sequence : tokens) {
        for (std::size_t i = 0; i < sequence.size(); ++i) {
            token_ids.push_back(sequence[i]);
            positions.push_back(i);
        }
    }
}

AttentionMasks layer_masks(const AttentionOnlyTransformer& model) {
    AttentionMasks masks;
    masks.causal = model.causal;
    return masks;
}

}  // namespace

std::vector<Matrix*> AttentionOnlyTransformer::parameters() {
    std::vector<Matrix*> list{&token_embedding.table, &position_embedding.table};
    for (MultiHeadAttention& layer : layers) {
        for (Linear* projection : {&layer.query_projection, &layer.key_projection, &layer.value_projection,
                                   &layer.output_projection}) {
            list.push_back(&projection->weight);
        }
    }
    list.push_back(&readout.weight);
    return list;
}

std::vector<const Matrix*> AttentionOnlyTransformer::parameters() const {
    std::vector<const Matrix*> list;
    for (Matrix* parameter : const_cast<AttentionOnlyTransformer*>(this)->parameters()) {
        list.push_back(parameter);
    }
    return list;
}

AttentionOnlyTransformer random_attention_only_transformer(std::size_t vocabulary_size, std::size_t max_length,
                                                           std::size_t d_model, std::size_t num_layers,
                                                           std::size_t num_heads, bool causal,
                                                           RandomGenerator& random) {
    if (num_layers == 0) {
        throw std::invalid_argument("random_attention_only_transformer: num_layers is 0; it needs at least one layer");
    }
    AttentionOnlyTransformer model;
    model.token_embedding = random_embedding(vocabulary_size, d_model, random);  // (V, d_model)
    model.position_embedding = random_embedding(max_length, d_model, random);    // (max L, d_model)
    for (std::size_t l = 0; l < num_layers; ++l) {
        model.layers.push_back(random_multi_head_attention(d_model, num_heads, /*with_bias=*/false, random));
    }
    model.readout = default_linear(d_model, vocabulary_size, /*with_bias=*/false, random);  // (V, d_model)
    model.causal = causal;
    return model;
}

TransformerActivations transformer_forward(const AttentionOnlyTransformer& model, const TokenBatch& tokens) {
    if (tokens.empty() || tokens.front().empty()) {
        throw std::invalid_argument("transformer_forward: the batch is empty; it needs at least one token");
    }
    const std::size_t B = tokens.size(), L = tokens.front().size();
    for (std::size_t b = 0; b < B; ++b) {
        if (tokens[b].size() != L) {
            throw std::invalid_argument("transformer_forward: sequence " + std::to_string(b) + " has " +
                                        std::to_string(tokens[b].size()) + " tokens but sequence 0 has " +
                                        std::to_string(L) + "; all must have the same length");
        }
    }
    if (L > model.max_length()) {
        throw std::invalid_argument("transformer_forward: the sequences have " + std::to_string(L) +
                                    " tokens but the position embedding covers only " +
                                    std::to_string(model.max_length()));
    }
    std::vector<std::size_t> token_ids, positions;
    flat_ids(tokens, token_ids, positions);

    TransformerActivations activations;
    // Pass 1: the embeddings. A token's vector says what it is, a position's
    // vector where it is; the sum is all a layer sees.
    const Matrix embedded = model.token_embedding.forward(token_ids) + model.position_embedding.forward(positions);
    activations.stream.push_back(batch_of(embedded, B, L));  // (B, L, d)

    // Pass 2: the layers. Attention is the only operation here that mixes
    // positions; each layer adds what it gathered to the stream.
    for (const MultiHeadAttention& layer : model.layers) {
        const Tensor3& x = activations.stream.back();                   // (B, L, d)
        MultiHeadAttentionResult attended = layer.forward(x, x, x, layer_masks(model));
        activations.stream.push_back(x + attended.output);             // (B, L, d): the residual
        activations.weights.push_back(std::move(attended.weights));    // (B, H, L, L)
    }

    // Pass 3: the read-out, a score per token id at every position.
    const Matrix logits = model.readout.forward(rows_of(activations.stream.back()));  // (B·L, V)
    activations.logits = batch_of(logits, B, L);                                      // (B, L, V)
    return activations;
}

AttentionOnlyTransformer transformer_backward(const AttentionOnlyTransformer& model, const TokenBatch& tokens,
                                              const TransformerActivations& activations, const Tensor3& grad_logits) {
    const std::size_t B = tokens.size(), L = tokens.front().size(), V = model.vocabulary_size();
    if (grad_logits.shape(0) != B || grad_logits.shape(1) != L || grad_logits.shape(2) != V) {
        throw std::invalid_argument("transformer_backward: grad_logits is " + shape_string(grad_logits) +
                                    " but the logits are (" + std::to_string(B) + ", " + std::to_string(L) + ", " +
                                    std::to_string(V) + ")");
    }
    AttentionOnlyTransformer gradients = model;  // the same shapes; every tensor is overwritten below

    // Pass 3 backwards: the read-out.
    const LinearGradients readout = linear_backward(model.readout, rows_of(activations.stream.back()),
                                                    rows_of(grad_logits));
    gradients.readout.weight = readout.weight;  // (V, d)
    Tensor3 grad_stream = batch_of(readout.input, B, L);  // dL/dx after the last layer, (B, L, d)

    // Pass 2 backwards: the layers, last first. x_next = x + layer(x, x, x):
    // dL/dx is dL/dx_next (the residual's shortcut) plus what the layer sends
    // back to its query, its key and its value, which are all x.
    for (std::size_t l = model.layers.size(); l-- > 0;) {
        const Tensor3& x = activations.stream[l];  // (B, L, d)
        MultiHeadAttentionGradients layer = multi_head_attention_backward(model.layers[l], x, x, x,
                                                                          layer_masks(model), grad_stream);
        grad_stream += layer.query + layer.key + layer.value;  // (B, L, d)
        gradients.layers[l] = std::move(layer.parameters);
    }

    // Pass 1 backwards: every position's gradient goes to its token's row and to its position's row.
    std::vector<std::size_t> token_ids, positions;
    flat_ids(tokens, token_ids, positions);
    const Matrix grad_embedded = rows_of(grad_stream);  // (B·L, d)
    gradients.token_embedding.table = embedding_backward(token_ids, grad_embedded, V);
    gradients.position_embedding.table = embedding_backward(positions, grad_embedded, model.max_length());
    return gradients;
}

AttentionOnlyTransformer without_head(const AttentionOnlyTransformer& model, std::size_t layer, std::size_t head) {
    if (layer >= model.layers.size() || head >= model.num_heads()) {
        throw std::invalid_argument("without_head: layer " + std::to_string(layer) + ", head " +
                                    std::to_string(head) + " does not exist; the model has " +
                                    std::to_string(model.layers.size()) + " layers of " +
                                    std::to_string(model.num_heads()) + " heads");
    }
    AttentionOnlyTransformer silenced = model;
    Matrix& W_o = silenced.layers[layer].output_projection.weight;  // (d, d): column block h reads head h
    const std::size_t d_k = model.layers[layer].head_dim();
    for (std::size_t row = 0; row < W_o.shape(0); ++row) {
        for (std::size_t c = head * d_k; c < (head + 1) * d_k; ++c) {
            W_o(row, c) = 0.0;
        }
    }
    return silenced;
}

}  // namespace mha
