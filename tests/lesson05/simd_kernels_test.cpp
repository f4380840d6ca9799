// Lesson 5 tests: the SIMD kernels of every instruction set this CPU runs,
// against plain loops in double precision, on lengths that are and are not
// multiples of the SIMD width (so that the scalar tails are exercised).
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "fast/fast_multi_head_attention.hpp"
#include "fast/simd_dispatch.hpp"

namespace {

constexpr float minus_infinity = -std::numeric_limits<float>::infinity();
const std::size_t lengths[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 100};

// n varied floats in [-2, 2], different for each seed.
std::vector<float> varied(std::size_t n, double seed) {
    std::vector<float> x(n);
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = static_cast<float>(2.0 * std::sin(seed + 1.3 * i + 0.17 * i * i));
    }
    return x;
}

// |actual - expected| <= tolerance * (1 + |expected|)
bool near(double actual, double expected, double tolerance = 1e-5) {
    return std::abs(actual - expected) <= tolerance * (1.0 + std::abs(expected));
}

class SimdKernelsTest : public ::testing::TestWithParam<const mha::SimdKernels*> {};

std::string kernels_name(const ::testing::TestParamInfo<const mha::SimdKernels*>& info) {
    std::string name = info.param->instruction_set;
    for (char& c : name) {
        c = std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    }
    return name;
}

TEST_P(SimdKernelsTest, TableIsConsistent) {
    const mha::SimdKernels& k = *GetParam();
    EXPECT_GE(k.width, 1u);
    if (k.width > 1) {
        EXPECT_EQ(k.nr, 2 * k.width);  // the micro-kernel's tile is two registers wide
    }
    EXPECT_GE(k.mr, 1u);
    EXPECT_LE(k.mr * k.nr, 16u * 64u);
}

TEST_P(SimdKernelsTest, DotMatchesALoop) {
    const mha::SimdKernels& k = *GetParam();
    for (const std::size_t n : lengths) {
        const std::vector<float> a = varied(n, 1.0), b = varied(n, 2.0);
        double expected = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            expected += static_cast<double>(a[i]) * b[i];
        }
        EXPECT_TRUE(near(k.dot(a.data(), b.data(), n), expected)) << "n = " << n;
    }
}

TEST_P(SimdKernelsTest, MaxFindsTheLargestWherevereItIs) {
    const mha::SimdKernels& k = *GetParam();
    EXPECT_EQ(k.max(nullptr, 0), minus_infinity);
    for (const std::size_t n : lengths) {
        for (std::size_t where = 0; where < n; ++where) {  // the largest in every position, tail included
            std::vector<float> x = varied(n, 3.0);
            x[where] = 10.0f;
            EXPECT_EQ(k.max(x.data(), n), 10.0f) << "n = " << n << ", largest at " << where;
        }
    }
    const std::vector<float> masked(19, minus_infinity);
    EXPECT_EQ(k.max(masked.data(), masked.size()), minus_infinity);
}

TEST_P(SimdKernelsTest, ExpSumExponentiatesAndAdds) {
    const mha::SimdKernels& k = *GetParam();
    for (const std::size_t n : lengths) {
        std::vector<float> x = varied(n, 4.0);
        const std::vector<float> original = x;
        const float shift = 1.5f;
        const float sum = k.exp_sum(x.data(), n, shift);
        double expected_sum = 0.0;
        for (std::size_t i = 0; i < n; ++i) {
            const double e = std::exp(static_cast<double>(original[i]) - shift);
            EXPECT_TRUE(near(x[i], e, 1e-6)) << "n = " << n << ", i = " << i << ": " << x[i] << " vs " << e;
            expected_sum += e;
        }
        EXPECT_TRUE(near(sum, expected_sum)) << "n = " << n;
    }
}

TEST_P(SimdKernelsTest, ExpSumTurnsMinusInfinityIntoExactZero) {
    const mha::SimdKernels& k = *GetParam();
    std::vector<float> x = varied(37, 5.0);
    for (std::size_t i = 0; i < x.size(); i += 3) {
        x[i] = minus_infinity;  // masked, in the SIMD part and in the tail
    }
    k.exp_sum(x.data(), x.size(), 0.5f);
    for (std::size_t i = 0; i < x.size(); i += 3) {
        EXPECT_EQ(x[i], 0.0f) << "i = " << i;
    }
}

TEST_P(SimdKernelsTest, ScaleAndAxpyMatchLoops) {
    const mha::SimdKernels& k = *GetParam();
    for (const std::size_t n : lengths) {
        std::vector<float> x = varied(n, 6.0), y = varied(n, 7.0);
        const std::vector<float> x0 = x, y0 = y;
        k.scale(x.data(), n, -0.75f);
        k.axpy(0.3f, x0.data(), y.data(), n);
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_FLOAT_EQ(x[i], x0[i] * -0.75f) << "n = " << n << ", i = " << i;
            EXPECT_TRUE(near(y[i], y0[i] + 0.3 * x0[i], 1e-6)) << "n = " << n << ", i = " << i;
        }
    }
}

// The online softmax over columns, block by block, against the formulas in
// double: after the last block, each query's running max is its largest score,
// its running sum is Σ exp(s - max) over every key, the last block holds
// exp(s - max), and the correction is exp(max before - max after).
TEST_P(SimdKernelsTest, OnlineSoftmaxColumnsMatchesTheFormulaBlockByBlock) {
    const mha::SimdKernels& k = *GetParam();
    const std::size_t queries = 3 * k.width, ld = queries + 5;
    const std::size_t block_keys[] = {4, 1, 7};  // three blocks of keys
    std::vector<float> running_max(queries, minus_infinity), running_sum(queries, 0.0f), correction(queries, -1.0f);
    std::vector<std::vector<double>> seen(queries);  // every score of each query so far
    for (std::size_t block = 0; block < 3; ++block) {
        const std::size_t keys = block_keys[block];
        std::vector<float> scores = varied(keys * ld, 10.0 + block);
        for (std::size_t key = 0; key < keys; ++key) {
            scores[key * ld + 1] = minus_infinity;  // query 1: every key masked
            if (block == 0) {
                scores[key * ld + 2] = minus_infinity;  // query 2: masked in the first block only
            }
        }
        if (block == 2) {
            scores[0 * ld + 0] = 9.0f;  // query 0: a new, much larger maximum in the last block
        }
        const std::vector<float> before_max = running_max, original = scores;
        k.online_softmax_columns(scores.data(), keys, queries, ld, running_max.data(), running_sum.data(),
                                 correction.data());
        for (std::size_t q = 0; q < queries; ++q) {
            SCOPED_TRACE("block " + std::to_string(block) + ", query " + std::to_string(q));
            double largest = -std::numeric_limits<double>::infinity();
            for (std::size_t key = 0; key < keys; ++key) {
                seen[q].push_back(original[key * ld + q]);
            }
            for (const double s : seen[q]) {
                largest = std::max(largest, s);
            }
            EXPECT_EQ(running_max[q], static_cast<float>(largest));
            if (q == 1) {  // nothing visible yet: no weight, no sum, and a correction that keeps zeros zero
                EXPECT_EQ(running_sum[q], 0.0f);
                for (std::size_t key = 0; key < keys; ++key) {
                    EXPECT_EQ(scores[key * ld + q], 0.0f);
                }
                continue;
            }
            if (q == 2 && block == 0) {
                EXPECT_EQ(running_sum[q], 0.0f);
                continue;
            }
            double sum = 0.0;
            for (const double s : seen[q]) {
                sum += std::exp(s - largest);
            }
            EXPECT_TRUE(near(running_sum[q], sum)) << running_sum[q] << " vs " << sum;
            for (std::size_t key = 0; key < keys; ++key) {
                EXPECT_TRUE(near(scores[key * ld + q], std::exp(original[key * ld + q] - largest)));
            }
            const double expected_correction = std::exp(static_cast<double>(before_max[q]) - largest);
            EXPECT_TRUE(near(correction[q], expected_correction)) << correction[q] << " vs " << expected_correction;
        }
        for (std::size_t key = 0; key < keys; ++key) {
            for (std::size_t column = queries; column < ld; ++column) {
                EXPECT_EQ(scores[key * ld + column], original[key * ld + column]) << "beyond the queries";
            }
        }
    }
}

INSTANTIATE_TEST_SUITE_P(EveryInstructionSet, SimdKernelsTest, ::testing::ValuesIn(mha::available_simd_kernels()),
                         kernels_name);

// ---- The dispatch ----

TEST(SimdDispatch, ReportsTheChosenTable) {
    const std::string chosen = mha::simd_instruction_set();
    EXPECT_TRUE(chosen == "avx512f" || chosen == "avx2+fma" || chosen == "scalar") << chosen;
    EXPECT_EQ(chosen, mha::simd_kernels().instruction_set);
    EXPECT_EQ(&mha::simd_kernels(), &mha::simd_kernels());  // chosen once
}

TEST(SimdDispatch, AvailableTablesStartWithTheChosenOneAndEndWithScalar) {
    const auto tables = mha::available_simd_kernels();
    ASSERT_FALSE(tables.empty());
    EXPECT_EQ(tables.back(), &mha::scalar_kernel_table());
    EXPECT_EQ(std::string(tables.back()->instruction_set), "scalar");
    if (std::getenv("MHA_SIMD") == nullptr) {
        EXPECT_EQ(tables.front(), &mha::simd_kernels());
    }
    for (std::size_t i = 1; i < tables.size(); ++i) {
        EXPECT_LT(tables[i]->width, tables[i - 1]->width) << "best first";
    }
}

}  // namespace
