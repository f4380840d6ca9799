// Helpers shared by the test suites of every lesson.
#pragma once

#include <cmath>
#include <initializer_list>
#include <sstream>
#include <string>

#include <gtest/gtest.h>

#include "core/tensor.hpp"

namespace mha::testing {

/// Compares two matrices element by element, |actual - expected| <= tolerance * (1 + |expected|),
/// and on failure names the shapes or the worst element, so that a failing test says where it broke.
inline ::testing::AssertionResult matrices_near(const Matrix& actual, const Matrix& expected, double tolerance) {
    if (actual.shape() != expected.shape()) {
        return ::testing::AssertionFailure()
               << "shape " << shape_string(actual) << " but expected " << shape_string(expected);
    }
    double worst = -1.0;
    std::size_t worst_row = 0, worst_column = 0;
    for (std::size_t i = 0; i < actual.shape(0); ++i) {
        for (std::size_t j = 0; j < actual.shape(1); ++j) {
            const double error = std::abs(actual(i, j) - expected(i, j)) / (1.0 + std::abs(expected(i, j)));
            if (!(error <= worst) || std::isnan(actual(i, j))) {
                worst = std::isnan(actual(i, j)) ? INFINITY : error;
                worst_row = i;
                worst_column = j;
            }
        }
    }
    if (worst <= tolerance) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "worst element (" << worst_row << ", " << worst_column << "): got "
                                         << actual(worst_row, worst_column) << ", expected "
                                         << expected(worst_row, worst_column) << " (relative error " << worst
                                         << " > " << tolerance << ")";
}

/// Runs `action`, expects it to throw `Exception`, and returns the message ("" and a failure if it did not).
template <class Exception = std::invalid_argument, class Action>
std::string thrown_message(Action&& action) {
    try {
        action();
    } catch (const Exception& error) {
        return error.what();
    }
    ADD_FAILURE() << "expected an exception, none was thrown";
    return "";
}

/// A deterministic matrix with varied entries in [-1, 1], so tests need no random generator.
inline Matrix varied(std::size_t rows, std::size_t columns, double seed) {
    Matrix m = xt::zeros<double>({rows, columns});
    for (std::size_t i = 0; i < rows; ++i) {
        for (std::size_t j = 0; j < columns; ++j) {
            m(i, j) = std::sin(seed + 1.7 * i + 0.61 * j * j);
        }
    }
    return m;
}

/// Expects every one of `parts` in an error message, naming the missing part and the message.
inline void expect_contains(const std::string& message, std::initializer_list<const char*> parts) {
    for (const char* part : parts) {
        EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
}

}  // namespace mha::testing
