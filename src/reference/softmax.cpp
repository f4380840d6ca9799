// Lesson 1: the numerically stable softmax.
#include "reference/softmax.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "reference/mask.hpp"

namespace mha {

Matrix softmax(const Matrix& logits) {
    // A NaN or +infinity logit throws std::invalid_argument; the tests read its message, which must contain
    // "softmax", the place as "row I, column J" (such as "row 1, column 2"), and "NaN" or "+infinity".
    // EXERCISE stable_softmax (lesson 1)
    // HINT: Work row by row. First find the row's maximum; exp(x - max) never overflows and gives the same weights.
    // HINT: Reject NaN and +infinity with std::invalid_argument; its test reads the message, which must contain "softmax", "row I, column J" (such as "row 1, column 2") and "NaN" or "+infinity".
    // HINT: A row that is all -infinity (every key masked) becomes all zeros.
    // HINT: Then exponentiate the shifted logits, add them up, and divide each by the sum.
    const std::size_t rows = logits.shape(0), columns = logits.shape(1);
    Matrix weights = xt::zeros<double>({rows, columns});  // (L, S)

    // [softmax_passes]
    for (std::size_t i = 0; i < rows; ++i) {
        // Pass 1: the row's maximum, rejecting values softmax cannot handle.
        double row_max = -std::numeric_limits<double>::infinity();
        for (std::size_t j = 0; j < columns; ++j) {
            const double x = logits(i, j);
            if (!is_finite_or_minus_infinity(x)) {  // NaN or +infinity
                throw std::invalid_argument("softmax: logit at row " + std::to_string(i) + ", column " +
                                            std::to_string(j) + " of " + shape_string(logits) + " is " +
                                            (std::isnan(x) ? "NaN" : "+infinity") +
                                            "; logits must be finite, or -infinity for a masked entry");
            }
            row_max = std::max(row_max, x);
        }
        // Every entry masked: nothing to attend to, so the weights stay zero.
        if (row_max == -std::numeric_limits<double>::infinity()) {
            continue;
        }

        // Pass 2: exponentiate the shifted logits. The largest becomes exp(0) = 1,
        // so the sum is at least 1 and at most `columns`: no overflow, no division by 0.
        double sum = 0.0;
        for (std::size_t j = 0; j < columns; ++j) {
            weights(i, j) = std::exp(logits(i, j) - row_max);  // exp(-inf) = 0 for masked entries
            sum += weights(i, j);
        }

        // Pass 3: normalise so that the row sums to 1.
        for (std::size_t j = 0; j < columns; ++j) {
            weights(i, j) /= sum;
        }
    }
    // [softmax_passes]
    return weights;
    // END EXERCISE
}

}  // namespace mha
