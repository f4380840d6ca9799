// Lesson 6: the backward pass of scaled dot-product attention.
#include "train/attention_backward.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/matmul.hpp"
#include "train/softmax_backward.hpp"

namespace mha {

AttentionGradients attention_backward(const Matrix& Q, const Matrix& K, const Matrix& V, const Matrix& weights,
                                      const Matrix& grad_output) {
    const std::size_t L = Q.shape(0), S = K.shape(0), d_k = Q.shape(1), d_v = V.shape(1);
    if (K.shape(1) != d_k || V.shape(0) != S || weights.shape(0) != L || weights.shape(1) != S ||
        grad_output.shape(0) != L || grad_output.shape(1) != d_v) {
        throw std::invalid_argument("attention_backward: Q is " + shape_string(Q) + ", K " + shape_string(K) +
                                    ", V " + shape_string(V) + ", the weights " + shape_string(weights) +
                                    " and grad_output " + shape_string(grad_output) +
                                    "; they must be (L, d_k), (S, d_k), (S, d_v), (L, S) and (L, d_v)");
    }
    // EXERCISE attention_backward (lesson 6)
    // HINT: Undo the three passes in reverse order. Pass 3 was O = P V: dV = Pᵀ dO and dP = dO Vᵀ.
    // HINT: matmul_transposed(A, B) is A Bᵀ; for Pᵀ dO, transpose P first (xt::transpose, assigned to a Matrix).
    // HINT: Pass 2 was the softmax: dZ = softmax_backward(P, dP).
    // HINT: Pass 1 was Z = Q Kᵀ / sqrt(d_k): dQ = dZ K / sqrt(d_k) and dK = dZᵀ Q / sqrt(d_k).
    // [attention_backward]
    const Matrix weights_transposed = xt::transpose(weights);  // (S, L)
    // Pass 3 reversed: each value row received weight P(i, j) from query i.
    Matrix grad_value = matmul(weights_transposed, grad_output);  // (S, L) · (L, d_v) = (S, d_v)
    const Matrix grad_weights = matmul_transposed(grad_output, V);  // (L, d_v) · (d_v, S) = (L, S)

    // Pass 2 reversed: the softmax mixes each row.
    const Matrix grad_scores = softmax_backward(weights, grad_weights);  // (L, S)

    // Pass 1 reversed: a score is a dot product of a query row and a key row, scaled.
    const double scale = 1.0 / std::sqrt(static_cast<double>(d_k));
    Matrix grad_query = matmul(grad_scores, K) * scale;                   // (L, S) · (S, d_k) = (L, d_k)
    const Matrix grad_scores_transposed = xt::transpose(grad_scores);     // (S, L)
    Matrix grad_key = matmul(grad_scores_transposed, Q) * scale;          // (S, L) · (L, d_k) = (S, d_k)
    // [attention_backward]
    return {std::move(grad_query), std::move(grad_key), std::move(grad_value)};
    // END EXERCISE
}

}  // namespace mha
