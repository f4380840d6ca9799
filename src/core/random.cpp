// Lesson 2: a reproducible random generator.
#include "core/random.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace mha {

RandomGenerator::RandomGenerator(std::uint64_t seed) : engine_(seed) {}

double RandomGenerator::uniform(double low, double high) {
    if (low > high) {
        throw std::invalid_argument("RandomGenerator::uniform: low (" + std::to_string(low) +
                                    ") is greater than high (" + std::to_string(high) + ")");
    }
    // The top 53 bits of a 64-bit draw, scaled by 2^-53: every double in [0, 1) this can hit is equally likely.
    const double unit = static_cast<double>(engine_() >> 11) * 0x1.0p-53;
    return low + (high - low) * unit;
}

double RandomGenerator::normal() {
    // Box-Muller: two uniform numbers give one normally distributed number.
    // 1 - uniform is in (0, 1], so the logarithm is finite.
    const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform(0.0, 1.0)));
    constexpr double pi = 3.14159265358979323846;
    const double angle = 2.0 * pi * uniform(0.0, 1.0);
    return radius * std::cos(angle);
}

}  // namespace mha
