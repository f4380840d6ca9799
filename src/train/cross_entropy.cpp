// Lesson 6: cross-entropy over selected positions, and its gradient.
#include "train/cross_entropy.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace mha {

CrossEntropyResult cross_entropy(const Matrix& logits, const std::vector<std::size_t>& targets,
                                 const std::vector<bool>& counted) {
    const std::size_t N = logits.shape(0), V = logits.shape(1);
    if (targets.size() != N || counted.size() != N) {
        throw std::invalid_argument("cross_entropy: the logits are " + shape_string(logits) + " but there are " +
                                    std::to_string(targets.size()) + " targets and " + std::to_string(counted.size()) +
                                    " counted flags; there must be one of each per row");
    }
    const std::size_t count = static_cast<std::size_t>(std::count(counted.begin(), counted.end(), true));
    CrossEntropyResult result;
    result.grad_logits = xt::zeros<double>({N, V});  // (N, V)
    for (std::size_t i = 0; i < N; ++i) {
        if (!counted[i]) {
            continue;
        }
        if (targets[i] >= V) {
            throw std::invalid_argument("cross_entropy: the target of row " + std::to_string(i) + " is " +
                                        std::to_string(targets[i]) + " but there are only " + std::to_string(V) +
                                        " classes (the logits are " + shape_string(logits) + ")");
        }
        // log Σ exp(logits), shifted by the row's maximum as lesson 1's softmax is, so nothing overflows.
        double row_max = logits(i, 0);
        for (std::size_t j = 1; j < V; ++j) {
            row_max = std::max(row_max, logits(i, j));
        }
        double sum = 0.0;
        for (std::size_t j = 0; j < V; ++j) {
            sum += std::exp(logits(i, j) - row_max);
        }
        const double log_sum = row_max + std::log(sum);
        result.loss += (log_sum - logits(i, targets[i])) / static_cast<double>(count);
        for (std::size_t j = 0; j < V; ++j) {
            const double probability = std::exp(logits(i, j) - log_sum);
            result.grad_logits(i, j) = (probability - (j == targets[i] ? 1.0 : 0.0)) / static_cast<double>(count);
        }
    }
    return result;
}

}  // namespace mha
