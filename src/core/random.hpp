// Lesson 2 introduces this header: a seeded random generator, so that the
// "random" initial weights are the same on every machine.
#pragma once

#include <cstdint>
#include <random>

/// @file
/// @brief A reproducible random generator (introduced in @ref lesson02).

namespace mha {

/// Random numbers that depend only on the seed: the same seed gives the same
/// sequence with any compiler and standard library.
///
/// It uses the standard's Mersenne Twister, whose output the C++ standard fixes
/// bit for bit, and turns its integers into doubles itself, because
/// `std::uniform_real_distribution` and `std::normal_distribution` may differ
/// between standard libraries.
class RandomGenerator {
public:
    /// @param seed any number; equal seeds give equal sequences.
    explicit RandomGenerator(std::uint64_t seed);

    /// A number drawn uniformly from [low, high).
    /// @throws std::invalid_argument if `low > high`.
    /// @see @ref lesson02
    double uniform(double low, double high);

    /// A number drawn from the standard normal distribution N(0, 1).
    /// @see @ref lesson02
    double normal();

private:
    std::mt19937_64 engine_;
};

}  // namespace mha
