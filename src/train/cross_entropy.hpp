// Lesson 6 introduces this header: the loss a language model is trained on,
// and its gradient, where training starts going backwards.
#pragma once

#include <cstddef>
#include <vector>

#include "core/tensor.hpp"

/// @file
/// @brief Cross-entropy over selected positions (introduced in @ref lesson06).

namespace mha {

/// The loss of one batch and its gradient.
struct CrossEntropyResult {
    /// The mean of −log p(target) over the counted positions; 0 when none is counted.
    double loss = 0.0;
    /// dL/dlogits, shape (N, V): zero in the rows not counted.
    Matrix grad_logits;
};

/// Cross-entropy of the logits against the targets, averaged over the
/// positions that count, as PyTorch's `F.cross_entropy` with the other
/// positions' targets set to its ignore_index.
///
/// For a counted row i with p = softmax(logits row i):
///
///     loss_i = −log p[target_i] = logsumexp(logits row i) − logits(i, target_i)
///     dloss/dlogits(i, j) = (p[j] − [j = target_i]) / (number of counted rows)
///
/// the predicted probabilities minus the one-hot answer: push the right token
/// up and every other down, each in proportion to how much it was believed.
///
/// @param logits shape (N, V): N positions, a score per vocabulary entry.
/// @param targets N token ids, each below V where counted.
/// @param counted N flags: whether position i is part of the loss.
/// @return the mean loss and dL/dlogits.
/// @throws std::invalid_argument if the sizes differ, or a counted target is not below V.
/// @see @ref lesson06
CrossEntropyResult cross_entropy(const Matrix& logits, const std::vector<std::size_t>& targets,
                                 const std::vector<bool>& counted);

}  // namespace mha
