// Lesson 6: the Adam optimiser.
#include "train/adam.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace mha {

void adam_update(Matrix& parameter, const Matrix& gradient, AdamMoments& moments, std::size_t step,
                 const AdamSettings& settings) {
    if (gradient.shape() != parameter.shape() || moments.first.shape() != parameter.shape() ||
        moments.second.shape() != parameter.shape()) {
        throw std::invalid_argument("adam_update: the parameter is " + shape_string(parameter) + ", the gradient " +
                                    shape_string(gradient) + " and the moments " + shape_string(moments.first) +
                                    " and " + shape_string(moments.second) + ": all four must have the same shape");
    }
    if (step == 0) {
        throw std::invalid_argument("adam_update: step is 0; the first update is step 1");
    }
    // EXERCISE adam_step (lesson 6)
    // HINT: First the moments, entry by entry: m = β₁ m + (1 − β₁) g and v = β₂ v + (1 − β₂) g².
    // HINT: Then the bias corrections of step t: c₁ = 1 − β₁ᵗ and c₂ = 1 − β₂ᵗ (std::pow(beta1, step)).
    // HINT: The update: parameter −= (lr / c₁) · m / (√v / √c₂ + ε), in that order, as PyTorch computes it.
    // [adam_update]
    const double beta1 = settings.beta1, beta2 = settings.beta2;
    const double t = static_cast<double>(step);
    const double step_size = settings.learning_rate / (1.0 - std::pow(beta1, t));  // lr / c₁
    const double sqrt_correction2 = std::sqrt(1.0 - std::pow(beta2, t));            // √c₂
    for (std::size_t i = 0; i < parameter.size(); ++i) {
        const double g = gradient.flat(i);
        double& m = moments.first.flat(i);
        double& v = moments.second.flat(i);
        m = beta1 * m + (1.0 - beta1) * g;      // the gradient's running mean
        v = beta2 * v + (1.0 - beta2) * g * g;  // its square's running mean
        parameter.flat(i) -= step_size * m / (std::sqrt(v) / sqrt_correction2 + settings.epsilon);
    }
    // [adam_update]
    // END EXERCISE
}

void Adam::step(const std::vector<Matrix*>& parameters, const std::vector<const Matrix*>& gradients) {
    if (parameters.size() != gradients.size()) {
        throw std::invalid_argument("Adam::step: " + std::to_string(parameters.size()) + " parameters but " +
                                    std::to_string(gradients.size()) + " gradients");
    }
    if (steps_ == 0) {
        for (const Matrix* parameter : parameters) {  // m and v start at zero
            moments_.push_back({xt::zeros_like(*parameter), xt::zeros_like(*parameter)});
        }
    } else if (moments_.size() != parameters.size()) {
        throw std::invalid_argument("Adam::step: " + std::to_string(parameters.size()) +
                                    " parameters, but the first step had " + std::to_string(moments_.size()));
    }
    ++steps_;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
        adam_update(*parameters[i], *gradients[i], moments_[i], steps_, settings_);
    }
}

}  // namespace mha
