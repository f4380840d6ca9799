// Lesson 3: several attention heads, separate and packed.
#include "reference/attention_heads.hpp"

#include <stdexcept>
#include <string>

#include <xtensor/xview.hpp>

namespace mha {
namespace {

std::size_t head_size(const char* function, std::size_t width, std::size_t num_heads) {
    if (num_heads == 0 || width % num_heads != 0) {
        throw std::invalid_argument(std::string(function) + ": " + std::to_string(width) +
                                    " columns cannot be split into " + std::to_string(num_heads) +
                                    " heads of equal size; d_model must be a multiple of the number of heads");
    }
    return width / num_heads;
}

}  // namespace

std::vector<Matrix> split_heads(const Matrix& projected, std::size_t num_heads) {
    const std::size_t d_k = head_size("split_heads", projected.shape(1), num_heads);
    // EXERCISE split_heads (lesson 3)
    // HINT: Head h owns the d_k adjacent columns [h·d_k, (h+1)·d_k) of the projected matrix.
    // HINT: xt::view(projected, xt::all(), xt::range(first, last)) selects columns; assign it to a Matrix.
    // [split_heads]
    std::vector<Matrix> heads;
    for (std::size_t h = 0; h < num_heads; ++h) {
        // Head h owns a block of d_k adjacent columns: (L, H·d_k) -> (L, d_k).
        heads.push_back(xt::view(projected, xt::all(), xt::range(h * d_k, (h + 1) * d_k)));
    }
    return heads;
    // [split_heads]
    // END EXERCISE
}

Matrix concat_heads(const std::vector<Matrix>& heads) {
    if (heads.empty()) {
        throw std::invalid_argument("concat_heads: there are no heads to concatenate");
    }
    // Heads of different shapes throw std::invalid_argument; the tests read its message, which must contain
    // "concat_heads: head H is (L, d) but head 0 is (L0, d0)", such as "head 2 is (1, 2) but head 0 is (2, 2)".
    // EXERCISE concat_heads (lesson 4)
    // HINT: The result is (L, H·d_k); head h fills the columns [h·d_k, (h+1)·d_k).
    // HINT: Check that every head has head 0's shape and throw std::invalid_argument naming both if not.
    // HINT: The test reads the message: "concat_heads: head 2 is (1, 2) but head 0 is (2, 2)" (shape_string gives "(1, 2)").
    // [concat_heads]
    const std::size_t L = heads[0].shape(0), d_k = heads[0].shape(1);
    Matrix concatenated = xt::zeros<double>({L, heads.size() * d_k});  // (L, H·d_k)
    for (std::size_t h = 0; h < heads.size(); ++h) {
        if (heads[h].shape() != heads[0].shape()) {
            throw std::invalid_argument("concat_heads: head " + std::to_string(h) + " is " +
                                        shape_string(heads[h]) + " but head 0 is " + shape_string(heads[0]) +
                                        "; all heads must have the same shape");
        }
        xt::view(concatenated, xt::all(), xt::range(h * d_k, (h + 1) * d_k)) = heads[h];
    }
    return concatenated;
    // [concat_heads]
    // END EXERCISE
}

HeadsResult AttentionHeads::forward(const Matrix& X) const {
    const BoolMatrix no_mask = xt::zeros<bool>({X.shape(0), X.shape(0)});  // (L, L), nothing masked
    return forward(X, no_mask);
}

HeadsResult AttentionHeads::forward(const Matrix& X, const BoolMatrix& mask) const {
    if (mask.shape(0) != X.shape(0) || mask.shape(1) != X.shape(0)) {
        throw std::invalid_argument("AttentionHeads::forward: the mask is " + shape_string(mask) + " but X is " +
                                    shape_string(X) + "; self-attention needs an (L, L) mask");
    }
    if (heads.empty()) {
        throw std::invalid_argument("AttentionHeads::forward: there are no heads");
    }
    // EXERCISE attention_heads (lesson 3)
    // HINT: Every head is a lesson 2 SelfAttention: call head.forward(X, mask) for each one.
    // HINT: Collect each head's output (L, d_k) and weights (L, L) in the two vectors of a HeadsResult.
    HeadsResult result;
    // The heads share nothing but their input: each could run on its own core.
    for (const auto& head : heads) {
        auto attention = head.forward(X, mask);
        result.outputs.push_back(std::move(attention.output));   // (L, d_k)
        result.weights.push_back(std::move(attention.weights));  // (L, L)
    }
    return result;
    // END EXERCISE
}

AttentionHeads random_attention_heads(std::size_t d_model, std::size_t num_heads, bool with_bias,
                                      RandomGenerator& random) {
    const std::size_t d_k = head_size("random_attention_heads", d_model, num_heads);
    AttentionHeads result;
    for (std::size_t h = 0; h < num_heads; ++h) {
        result.heads.push_back(random_self_attention(d_model, d_k, d_k, with_bias, random));
    }
    return result;
}

HeadsResult attend_each_head(const Matrix& Q, const Matrix& K, const Matrix& V, std::size_t num_heads,
                             const std::vector<Matrix>& masks) {
    if (!masks.empty() && masks.size() != num_heads) {
        throw std::invalid_argument("attend_each_head: " + std::to_string(masks.size()) + " masks for " +
                                    std::to_string(num_heads) + " heads; give one (L, S) mask per head, or none");
    }
    // (L, H·d_k) -> H x (L, d_k): the reshape-and-transpose of PyTorch, as column blocks.
    const auto Q_heads = split_heads(Q, num_heads);  // H x (L, d_k)
    const auto K_heads = split_heads(K, num_heads);  // H x (S, d_k)
    const auto V_heads = split_heads(V, num_heads);  // H x (S, d_v)
    HeadsResult result;
    // The heads share nothing but their input: each could run on its own core.
    for (std::size_t h = 0; h < num_heads; ++h) {
        auto attention = masks.empty() ? scaled_dot_product_attention(Q_heads[h], K_heads[h], V_heads[h])
                                       : scaled_dot_product_attention(Q_heads[h], K_heads[h], V_heads[h], masks[h]);
        result.outputs.push_back(std::move(attention.output));   // (L, d_v)
        result.weights.push_back(std::move(attention.weights));  // (L, S)
    }
    return result;
}

}  // namespace mha
