// Lesson 2: sinusoidal positional encodings.
#include "reference/positional_encoding.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace mha {

Matrix sinusoidal_positional_encoding(std::size_t length, std::size_t d_model) {
    if (d_model == 0) {
        throw std::invalid_argument("sinusoidal_positional_encoding: d_model must be at least 1");
    }
    // EXERCISE positional_encoding (lesson 2)
    // HINT: Columns 2i and 2i + 1 share the angle pos / 10000^(2i / d_model): step a column counter by 2 and fill both.
    // HINT: Compute the exponent in double, std::pow(10000.0, -static_cast<double>(column) / d_model): in std::size_t, -column / d_model is a huge whole number and the encoding turns NaN.
    // HINT: Even columns hold the sine of that angle, odd columns its cosine; an odd d_model ends with a sine.
    Matrix encoding = xt::zeros<double>({length, d_model});  // (L, d_model)
    for (std::size_t pos = 0; pos < length; ++pos) {
        for (std::size_t column = 0; column < d_model; column += 2) {
            // Columns 2i and 2i + 1 share the frequency 1 / 10000^(2i / d_model).
            const double frequency = std::pow(10000.0, -static_cast<double>(column) / static_cast<double>(d_model));
            const double angle = static_cast<double>(pos) * frequency;
            encoding(pos, column) = std::sin(angle);
            if (column + 1 < d_model) {
                encoding(pos, column + 1) = std::cos(angle);
            }
        }
    }
    return encoding;
    // END EXERCISE
}

}  // namespace mha
