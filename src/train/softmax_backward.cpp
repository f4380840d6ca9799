// Lesson 6: the backward pass of the row softmax.
#include "train/softmax_backward.hpp"

#include <stdexcept>
#include <string>

namespace mha {

Matrix softmax_backward(const Matrix& weights, const Matrix& grad_weights) {
    if (weights.shape() != grad_weights.shape()) {
        throw std::invalid_argument("softmax_backward: the weights are " + shape_string(weights) +
                                    " but their gradient is " + shape_string(grad_weights) + "; they must match");
    }
    // EXERCISE softmax_backward (lesson 6)
    // HINT: Work row by row. First the row's weighted average of the gradient: Σ_k dP(i, k) · P(i, k).
    // HINT: Then dS(i, j) = P(i, j) · (dP(i, j) − that average).
    // HINT: Masked entries have P = 0 and get 0 without any special case.
    const std::size_t rows = weights.shape(0), columns = weights.shape(1);
    Matrix grad_scores = xt::zeros<double>({rows, columns});  // (L, S)
    // [softmax_backward]
    for (std::size_t i = 0; i < rows; ++i) {
        // What a uniform push on the whole row would do: the weights sum to 1, so it cancels out.
        double average = 0.0;
        for (std::size_t k = 0; k < columns; ++k) {
            average += grad_weights(i, k) * weights(i, k);
        }
        for (std::size_t j = 0; j < columns; ++j) {
            grad_scores(i, j) = weights(i, j) * (grad_weights(i, j) - average);
        }
    }
    // [softmax_backward]
    return grad_scores;
    // END EXERCISE
}

}  // namespace mha
