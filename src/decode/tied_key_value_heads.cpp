// Lesson 7: grouped key/value heads as tied rows of a multi-head layer's W_k and W_v.
#include "decode/tied_key_value_heads.hpp"

#include <stdexcept>
#include <string>

namespace mha {

namespace {

/// The rows of W_k or W_v (E, E) that belong to query head h: [h·d_k, (h+1)·d_k).
/// A group's query heads are neighbours: group g is heads [g·H/G, (g+1)·H/G).
struct HeadRows {
    std::size_t heads, groups, head_dim;
    std::size_t heads_per_group() const { return heads / groups; }
    std::size_t first_head(std::size_t group) const { return group * heads_per_group(); }
    std::size_t row(std::size_t head, std::size_t r) const { return head * head_dim + r; }
};

HeadRows head_rows(const AttentionOnlyTransformer& model, std::size_t num_kv_heads, const std::string& who) {
    if (model.layers.empty()) {
        throw std::invalid_argument(who + ": the model has no attention layer, so no key/value heads to group");
    }
    check_head_counts(who.c_str(), model.num_heads(), num_kv_heads);
    return {model.num_heads(), num_kv_heads, model.layers.front().head_dim()};
}

/// Every head of a group gets the rows of the group's first head.  weight: (E, E)
void copy_first_head_rows(Matrix& weight, const HeadRows& rows) {
    const std::size_t E = weight.shape(1);
    for (std::size_t g = 0; g < rows.groups; ++g) {
        const std::size_t first = rows.first_head(g);
        for (std::size_t h = first + 1; h < first + rows.heads_per_group(); ++h) {
            for (std::size_t r = 0; r < rows.head_dim; ++r) {
                for (std::size_t c = 0; c < E; ++c) {
                    weight(rows.row(h, r), c) = weight(rows.row(first, r), c);
                }
            }
        }
    }
}

/// Every head of a group gets the sum of the group's rows.  gradient: (E, E)
void sum_rows_within_groups(Matrix& gradient, const HeadRows& rows) {
    const std::size_t E = gradient.shape(1);
    for (std::size_t g = 0; g < rows.groups; ++g) {
        const std::size_t first = rows.first_head(g), end = first + rows.heads_per_group();
        for (std::size_t r = 0; r < rows.head_dim; ++r) {
            for (std::size_t c = 0; c < E; ++c) {
                // Started from the first head's entry, not from 0: a group of one head
                // (G = H) keeps its gradient bit for bit, even the sign of a zero.
                double sum = gradient(rows.row(first, r), c);
                for (std::size_t h = first + 1; h < end; ++h) {
                    sum += gradient(rows.row(h, r), c);
                }
                for (std::size_t h = first; h < end; ++h) {
                    gradient(rows.row(h, r), c) = sum;
                }
            }
        }
    }
}

bool rows_tied(const Matrix& weight, const HeadRows& rows) {
    const std::size_t E = weight.shape(1);
    for (std::size_t h = 0; h < rows.heads; ++h) {
        const std::size_t first = rows.first_head(h / rows.heads_per_group());
        for (std::size_t r = 0; r < rows.head_dim; ++r) {
            for (std::size_t c = 0; c < E; ++c) {
                if (weight(rows.row(h, r), c) != weight(rows.row(first, r), c)) {
                    return false;
                }
            }
        }
    }
    return true;
}

}  // namespace

void tie_key_value_heads(AttentionOnlyTransformer& model, std::size_t num_kv_heads) {
    const HeadRows rows = head_rows(model, num_kv_heads, "tie_key_value_heads");
    for (MultiHeadAttention& layer : model.layers) {
        copy_first_head_rows(layer.key_projection.weight, rows);    // W_k (E, E)
        copy_first_head_rows(layer.value_projection.weight, rows);  // W_v (E, E)
    }
}

void tie_key_value_gradients(AttentionOnlyTransformer& gradients, std::size_t num_kv_heads) {
    const HeadRows rows = head_rows(gradients, num_kv_heads, "tie_key_value_gradients");
    for (MultiHeadAttention& layer : gradients.layers) {
        sum_rows_within_groups(layer.key_projection.weight, rows);    // dL/dW_k (E, E)
        sum_rows_within_groups(layer.value_projection.weight, rows);  // dL/dW_v (E, E)
    }
}

bool key_value_groups_are_tied(const AttentionOnlyTransformer& model, std::size_t num_kv_heads) {
    const HeadRows rows = head_rows(model, num_kv_heads, "key_value_groups_are_tied");
    for (const MultiHeadAttention& layer : model.layers) {
        if (!rows_tied(layer.key_projection.weight, rows) || !rows_tied(layer.value_projection.weight, rows)) {
            return false;
        }
    }
    return true;
}

void train_with_key_value_groups(TrainingOptions& options, std::size_t num_kv_heads) {
    check_head_counts("train_with_key_value_groups", options.heads, num_kv_heads);
    options.constrain_initial_model = [num_kv_heads](AttentionOnlyTransformer& model) {
        tie_key_value_heads(model, num_kv_heads);
    };
    options.constrain_gradients = [num_kv_heads](AttentionOnlyTransformer& gradients) {
        tie_key_value_gradients(gradients, num_kv_heads);
    };
}

}  // namespace mha
