// Lesson 5 tests: the online softmax gives the two-pass softmax of lesson 1,
// however the row is cut into blocks, and the parallel loop runs every task once.
#include <atomic>
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <vector>

#include <gtest/gtest.h>

#include "fast/online_softmax.hpp"
#include "fast/parallel_for.hpp"
#include "fast/simd_dispatch.hpp"
#include "test_helpers.hpp"

namespace {

constexpr float minus_infinity = -std::numeric_limits<float>::infinity();

// Lesson 1's softmax in double: max, exp, divide; an all -inf row gives zeros.
std::vector<double> two_pass_softmax(const std::vector<float>& scores) {
    double row_max = -INFINITY;
    for (const float s : scores) {
        row_max = std::max(row_max, static_cast<double>(s));
    }
    std::vector<double> weights(scores.size(), 0.0);
    if (row_max == -INFINITY) {
        return weights;
    }
    double sum = 0.0;
    for (std::size_t j = 0; j < scores.size(); ++j) {
        weights[j] = std::exp(scores[j] - row_max);
        sum += weights[j];
    }
    for (double& w : weights) {
        w /= sum;
    }
    return weights;
}

// The online softmax shown the row in blocks of the given lengths. Each block's
// unnormalised weights are kept and multiplied by every later correction, as
// FlashAttention's accumulator is; at the end they are normalised.
std::vector<double> online_softmax(const mha::SimdKernels& kernels, const std::vector<float>& scores,
                                   const std::vector<std::size_t>& block_lengths) {
    mha::OnlineSoftmax state;
    std::vector<double> weights;  // the blocks seen so far, relative to the current maximum
    std::size_t start = 0;
    for (const std::size_t length : block_lengths) {
        std::vector<float> block(scores.begin() + static_cast<std::ptrdiff_t>(start),
                                 scores.begin() + static_cast<std::ptrdiff_t>(start + length));
        const float correction = state.absorb(kernels, block.data(), block.size());
        for (double& w : weights) {
            w *= correction;
        }
        weights.insert(weights.end(), block.begin(), block.end());
        start += length;
    }
    for (double& w : weights) {
        w *= state.normaliser();
    }
    return weights;
}

std::vector<float> row_of(std::size_t n, double seed) {
    std::vector<float> row(n);
    for (std::size_t j = 0; j < n; ++j) {
        row[j] = static_cast<float>(3.0 * std::sin(seed + 0.9 * j + 0.05 * j * j));
    }
    return row;
}

void expect_near(const std::vector<double>& actual, const std::vector<double>& expected, const char* what) {
    ASSERT_EQ(actual.size(), expected.size()) << what;
    for (std::size_t j = 0; j < actual.size(); ++j) {
        EXPECT_NEAR(actual[j], expected[j], 1e-6 * (1.0 + expected[j])) << what << ", entry " << j;
    }
}

TEST(OnlineSoftmax, EqualsTheTwoPassSoftmaxForAnyBlocks) {
    for (const mha::SimdKernels* kernels : mha::available_simd_kernels()) {
        SCOPED_TRACE(kernels->instruction_set);
        const std::vector<float> row = row_of(50, 1.0);
        const std::vector<double> expected = two_pass_softmax(row);
        expect_near(online_softmax(*kernels, row, {50}), expected, "one block");
        expect_near(online_softmax(*kernels, row, {1, 2, 3, 4, 40}), expected, "growing blocks");
        expect_near(online_softmax(*kernels, row, {17, 0, 33}), expected, "with an empty block");
        std::vector<std::size_t> ones(50, 1);
        expect_near(online_softmax(*kernels, row, ones), expected, "one score at a time");
    }
}

TEST(OnlineSoftmax, RescalesWhenALaterBlockHoldsALargerScore) {
    const mha::SimdKernels& kernels = mha::simd_kernels();
    mha::OnlineSoftmax state;
    std::vector<float> first = {0.0f, 1.0f}, second = {3.0f};
    EXPECT_EQ(state.absorb(kernels, first.data(), first.size()), 0.0f);  // nothing accumulated before
    EXPECT_EQ(state.max, 1.0f);
    EXPECT_FLOAT_EQ(state.sum, std::exp(-1.0f) + 1.0f);
    const float correction = state.absorb(kernels, second.data(), second.size());
    EXPECT_FLOAT_EQ(correction, std::exp(1.0f - 3.0f));  // exp(m_old - m_new)
    EXPECT_EQ(state.max, 3.0f);
    EXPECT_FLOAT_EQ(state.sum, (std::exp(-1.0f) + 1.0f) * std::exp(-2.0f) + 1.0f);
    EXPECT_FLOAT_EQ(second[0], 1.0f);  // exp(3 - 3)
}

TEST(OnlineSoftmax, MaskedScoresGetZeroWeightEvenInAFullyMaskedFirstBlock) {
    const mha::SimdKernels& kernels = mha::simd_kernels();
    std::vector<float> row = row_of(30, 2.0);
    for (std::size_t j = 0; j < 12; ++j) {
        row[j] = minus_infinity;  // the whole first block of 12, and more below
    }
    row[20] = minus_infinity;
    const std::vector<double> weights = online_softmax(kernels, row, {12, 9, 9});
    expect_near(weights, two_pass_softmax(row), "masked");
    for (std::size_t j = 0; j < 12; ++j) {
        EXPECT_EQ(weights[j], 0.0) << j;
    }
    EXPECT_EQ(weights[20], 0.0);
}

TEST(OnlineSoftmax, AFullyMaskedRowGivesZeros) {
    const mha::SimdKernels& kernels = mha::simd_kernels();
    const std::vector<float> row(20, minus_infinity);
    const std::vector<double> weights = online_softmax(kernels, row, {8, 8, 4});
    EXPECT_EQ(weights, std::vector<double>(20, 0.0));
    mha::OnlineSoftmax state;
    EXPECT_EQ(state.normaliser(), 0.0f);  // nothing seen: the output row stays zero
}

// ---- parallel_for ----

TEST(ParallelFor, RunsEveryTaskExactlyOnce) {
    for (const std::size_t threads : {1u, 2u, 3u, 8u}) {
        std::vector<std::atomic<int>> runs(100);
        mha::parallel_for(threads, runs.size(), [&](std::size_t i) { ++runs[i]; });
        for (std::size_t i = 0; i < runs.size(); ++i) {
            EXPECT_EQ(runs[i].load(), 1) << "task " << i << " with " << threads << " threads";
        }
    }
    mha::parallel_for(2, 0, [](std::size_t) { FAIL() << "no task to run"; });
}

TEST(ParallelFor, PassesOnTheExceptionOfATask) {
    EXPECT_THROW(mha::parallel_for(2, 10,
                                   [](std::size_t i) {
                                       if (i == 7) {
                                           throw std::runtime_error("task 7");
                                       }
                                   }),
                 std::runtime_error);
}

TEST(ParallelFor, RefusesZeroThreads) {
    const std::string message =
        mha::testing::thrown_message([] { mha::parallel_for(0, 3, [](std::size_t) {}); });
    mha::testing::expect_contains(message, {"parallel_for", "threads is 0"});
}

}  // namespace
