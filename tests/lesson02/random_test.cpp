// Lesson 2 tests: the seeded random generator behind every "random" weight.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include <gtest/gtest.h>

#include "core/random.hpp"

namespace {

using mha::RandomGenerator;

TEST(RandomGenerator, UniformStaysInItsRangeAndCoversIt) {
    RandomGenerator random(11);
    const int draws = 10000;
    double smallest = std::numeric_limits<double>::infinity(), largest = -smallest, sum = 0.0;
    for (int n = 0; n < draws; ++n) {
        const double x = random.uniform(-2.0, 3.0);
        ASSERT_GE(x, -2.0);
        ASSERT_LT(x, 3.0);
        smallest = std::min(smallest, x);
        largest = std::max(largest, x);
        sum += x;
    }
    EXPECT_LT(smallest, -1.99);  // 10000 draws leave gaps of about 5 / 10000 at the ends
    EXPECT_GT(largest, 2.99);
    EXPECT_NEAR(sum / draws, 0.5, 0.06);  // the mean (low + high) / 2; standard error 0.014
}

TEST(RandomGenerator, SameSeedSameSequenceDifferentSeedDifferentSequence) {
    RandomGenerator a(42), b(42), c(43);
    int equal_to_c = 0;
    for (int n = 0; n < 100; ++n) {
        const double x = a.uniform(0.0, 1.0);
        EXPECT_EQ(x, b.uniform(0.0, 1.0)) << "draw " << n;
        equal_to_c += x == c.uniform(0.0, 1.0);
    }
    EXPECT_EQ(equal_to_c, 0);
    RandomGenerator d(42), e(42);
    for (int n = 0; n < 100; ++n) {
        EXPECT_EQ(d.normal(), e.normal()) << "draw " << n;
    }
}

TEST(RandomGenerator, SequenceIsFixedByTheCppStandard) {
    // The C++ standard ([rand.predef]) requires the 10000th output of a
    // default-seeded (5489) std::mt19937_64 to be 9981545732273789042. The
    // generator turns an output u into (u >> 11) * 2^-53, so its 10000th
    // uniform(0, 1) is known on every machine without running anything.
    RandomGenerator random(5489);
    for (int n = 1; n < 10000; ++n) {
        random.uniform(0.0, 1.0);
    }
    const std::uint64_t output = 9981545732273789042ULL;
    const double expected = static_cast<double>(output >> 11) / 9007199254740992.0;  // 2^53
    EXPECT_EQ(random.uniform(0.0, 1.0), expected);
}

TEST(RandomGenerator, NormalHasMeanZeroAndVarianceOne) {
    RandomGenerator random(2024);
    const int draws = 100000;
    double sum = 0.0, sum_of_squares = 0.0;
    int within_one = 0;
    for (int n = 0; n < draws; ++n) {
        const double x = random.normal();
        ASSERT_TRUE(std::isfinite(x));
        sum += x;
        sum_of_squares += x * x;
        within_one += std::abs(x) < 1.0;
    }
    const double mean = sum / draws;
    EXPECT_NEAR(mean, 0.0, 0.02);                                // standard error 0.003
    EXPECT_NEAR(sum_of_squares / draws - mean * mean, 1.0, 0.03);  // standard error 0.0045
    // P(|x| < 1) = erf(1 / sqrt 2) = 0.6827 for N(0, 1); standard error 0.0015.
    EXPECT_NEAR(static_cast<double>(within_one) / draws, std::erf(1.0 / std::sqrt(2.0)), 0.01);
}

TEST(RandomGenerator, UniformWithLowAboveHighThrows) {
    RandomGenerator random(1);
    EXPECT_THROW(random.uniform(1.0, 0.0), std::invalid_argument);
    EXPECT_EQ(random.uniform(0.5, 0.5), 0.5);  // an empty range [a, a) can only give a
}

}  // namespace
