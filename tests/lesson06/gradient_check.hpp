// What lesson 6's tests share: the gradient by central differences, the
// independent check of every backward pass.
//
//   df/dx_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h
//
// The error of this estimate is O(h²) (the even terms of the Taylor series
// cancel) plus the rounding of f, about 1e-16 |f| / h: with h = 1e-6 in double
// both are near 1e-12, far below the 1e-6 the tests allow.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <functional>

#include <gtest/gtest.h>

#include "core/tensor.hpp"

namespace mha::testing {

/// df/dx for every element of x, by central differences; f is called 2·size(x) times.
template <class Tensor>
Tensor numerical_gradient(const Tensor& x, const std::function<double(const Tensor&)>& f, double h = 1e-6) {
    Tensor gradient = xt::zeros<double>(x.shape());
    Tensor nudged = x;
    for (std::size_t i = 0; i < x.size(); ++i) {
        const double original = nudged.data()[i];
        nudged.data()[i] = original + h;
        const double above = f(nudged);
        nudged.data()[i] = original - h;
        const double below = f(nudged);
        nudged.data()[i] = original;
        gradient.data()[i] = (above - below) / (2.0 * h);
    }
    return gradient;
}

/// Σ a ⊙ b: the scalar "loss" L = Σ dY ⊙ Y whose gradient with respect to Y is dY.
template <class A, class B>
double dot_all(const A& a, const B& b) {
    double sum = 0.0;
    for (std::size_t i = 0; i < a.size(); ++i) {
        sum += a.data()[i] * b.data()[i];
    }
    return sum;
}

/// How far an analytic gradient is from a numerical one: the largest
/// difference over the largest entry. A gradient that is zero in truth (the
/// key projection's bias: adding it shifts every score of a row alike, which
/// the softmax ignores) is compared absolutely instead, against 1e-9, since
/// the central differences' rounding (about 1e-10 here) has nothing to be
/// relative to.
template <class A, class B>
::testing::AssertionResult gradients_agree(const A& analytic, const B& numerical, double tolerance = 1e-6) {
    if (analytic.shape() != numerical.shape()) {
        return ::testing::AssertionFailure() << "the analytic gradient is " << shape_string(analytic)
                                             << " but the numerical one " << shape_string(numerical);
    }
    double largest = 0.0, difference = 0.0;
    for (std::size_t i = 0; i < analytic.size(); ++i) {
        largest = std::max({largest, std::abs(analytic.data()[i]), std::abs(numerical.data()[i])});
        difference = std::max(difference, std::abs(analytic.data()[i] - numerical.data()[i]));
    }
    const bool zero_in_truth = largest < 1e-6;
    const double error = zero_in_truth ? difference : difference / largest;
    if (error <= (zero_in_truth ? 1e-9 : tolerance)) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "relative error " << error << " (largest difference " << difference
                                         << ", largest entry " << largest << ") is over " << tolerance;
}

}  // namespace mha::testing
