// Lesson 2: one self-attention head with learned projections.
#include "reference/self_attention.hpp"

#include "reference/mask.hpp"

namespace mha {

AttentionResult SelfAttention::forward(const Matrix& X, const Matrix& additive_mask) const {
    // EXERCISE self_attention (lesson 2)
    // HINT: Make Q, K and V with the three projections: query_projection.forward(X), and so on.
    // HINT: Then hand them and the mask to lesson 1's scaled_dot_product_attention.
    // [projections]
    // Three views of the same tokens. Each projection is a separate learned
    // question: what do I look for (Q), what do I offer (K), what do I pass on (V)?
    const Matrix Q = query_projection.forward(X);  // (L, d_model) -> (L, d_k)
    const Matrix K = key_projection.forward(X);    // (L, d_model) -> (L, d_k)
    const Matrix V = value_projection.forward(X);  // (L, d_model) -> (L, d_v)
    return scaled_dot_product_attention(Q, K, V, additive_mask);
    // [projections]
    // END EXERCISE
}

AttentionResult SelfAttention::forward(const Matrix& X, const BoolMatrix& mask) const {
    return forward(X, additive_mask(mask));  // true becomes -infinity
}

AttentionResult SelfAttention::forward(const Matrix& X) const {
    const Matrix no_mask = xt::zeros<double>({X.shape(0), X.shape(0)});  // (L, L), nothing masked
    return forward(X, no_mask);
}

SelfAttention random_self_attention(std::size_t d_model, std::size_t d_k, std::size_t d_v, bool with_bias,
                                    RandomGenerator& random) {
    SelfAttention head;
    head.query_projection = xavier_uniform_linear(d_model, d_k, with_bias, random);
    head.key_projection = xavier_uniform_linear(d_model, d_k, with_bias, random);
    head.value_projection = xavier_uniform_linear(d_model, d_v, with_bias, random);
    return head;
}

}  // namespace mha
