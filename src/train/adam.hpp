// Lesson 6 introduces this header: Adam, the optimiser that turns gradients
// into better parameters, as torch.optim.Adam does.
#pragma once

#include <cstddef>
#include <vector>

#include "core/tensor.hpp"

/// @file
/// @brief The Adam optimiser (introduced in @ref lesson06).

namespace mha {

/// Adam's settings, with torch.optim.Adam's defaults (the course trains with learning_rate 1e-2).
struct AdamSettings {
    /// The step size, lr.
    double learning_rate = 1e-3;
    /// β₁, how slowly the running mean of the gradient forgets.
    double beta1 = 0.9;
    /// β₂, how slowly the running mean of the squared gradient forgets.
    double beta2 = 0.999;
    /// ε, added to the denominator so that a zero gradient does not divide by zero.
    double epsilon = 1e-8;
};

/// The running means Adam keeps for one parameter tensor, of its shape.
struct AdamMoments {
    /// m, the running mean of the gradient (its direction, smoothed).
    Matrix first;
    /// v, the running mean of the squared gradient (its typical size).
    Matrix second;
};

/// One Adam update of one parameter tensor, as torch.optim.Adam (no weight decay, no AMSGrad):
///
///     m ← β₁ m + (1 − β₁) g                     v ← β₂ v + (1 − β₂) g²
///     parameter ← parameter − lr / (1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// Each entry gets its own step size: dividing by √v makes a parameter whose
/// gradient is always tiny move as far as one whose gradient is large, about
/// lr per step. The corrections 1 − βᵗ undo the start of m and v at zero.
///
/// @param parameter the tensor to update, any shape (updated in place).
/// @param gradient dL/dparameter, the same shape.
/// @param moments m and v of this tensor, the same shape (zeros before the first step; updated in place).
/// @param step t, the number of this update: 1 for the first.
/// @param settings lr, β₁, β₂ and ε.
/// @throws std::invalid_argument if the shapes differ or step is 0.
/// @see @ref lesson06
void adam_update(Matrix& parameter, const Matrix& gradient, AdamMoments& moments, std::size_t step,
                 const AdamSettings& settings);

/// Adam over a list of parameter tensors: it keeps every tensor's moments and counts the steps.
class Adam {
public:
    /// @param settings lr, β₁, β₂ and ε.
    /// @see @ref lesson06
    explicit Adam(AdamSettings settings) : settings_(settings) {}

    /// Updates every parameter by its gradient (adam_update on each pair).
    ///
    /// @param parameters the tensors to update, the same list in the same order at every step.
    /// @param gradients one gradient per parameter, of its shape.
    /// @throws std::invalid_argument if the lists differ in length, or from one step to the next, or a shape differs.
    /// @see @ref lesson06
    void step(const std::vector<Matrix*>& parameters, const std::vector<const Matrix*>& gradients);

    /// Changes the step size from the next step on (for a schedule such as warm-up).
    /// @param learning_rate the new lr.
    /// @see @ref lesson06
    void set_learning_rate(double learning_rate) { settings_.learning_rate = learning_rate; }

    /// The number of steps taken so far.
    std::size_t steps() const { return steps_; }

private:
    AdamSettings settings_;
    std::size_t steps_ = 0;
    std::vector<AdamMoments> moments_;
};

}  // namespace mha
