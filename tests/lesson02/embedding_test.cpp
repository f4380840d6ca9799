// Lesson 2 tests: token embeddings and sinusoidal positional encodings.
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/embedding.hpp"
#include "reference/positional_encoding.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

using mha::Matrix;
using mha::sinusoidal_positional_encoding;
using mha::testing::matrices_near;
using mha::testing::thrown_message;

// ---- Embedding: a lookup table ----

TEST(Embedding, ForwardCopiesTheRowOfEachId) {
    mha::Embedding embedding;
    embedding.table = Matrix{{0.0, 0.1, 0.2}, {1.0, 1.1, 1.2}, {2.0, 2.1, 2.2}, {3.0, 3.1, 3.2}};  // (4, 3)
    const Matrix expected = {{2.0, 2.1, 2.2}, {0.0, 0.1, 0.2}, {2.0, 2.1, 2.2}, {3.0, 3.1, 3.2}};  // (L=4, 3)
    EXPECT_TRUE(matrices_near(embedding.forward({2, 0, 2, 3}), expected, 0.0));
    const Matrix none = embedding.forward({});
    EXPECT_EQ(none.shape(0), 0u);
    EXPECT_EQ(none.shape(1), 3u);
}

TEST(Embedding, OutOfRangeIdThrowsNamingIt) {
    mha::Embedding embedding;
    embedding.table = xt::zeros<double>({4, 3});
    const std::string message = thrown_message([&] { embedding.forward({1, 4}); });
    EXPECT_NE(message.find("token id 4"), std::string::npos) << message;
    EXPECT_NE(message.find("position 1"), std::string::npos) << message;
    EXPECT_NE(message.find("(4, 3)"), std::string::npos) << message;
}

TEST(Embedding, RandomTableHasTheShapeAndDependsOnlyOnTheSeed) {
    mha::RandomGenerator first(5), second(5);
    const mha::Embedding a = mha::random_embedding(15, 16, first);
    const mha::Embedding b = mha::random_embedding(15, 16, second);
    ASSERT_EQ(a.table.shape(0), 15u);
    ASSERT_EQ(a.table.shape(1), 16u);
    EXPECT_TRUE(matrices_near(a.table, b.table, 0.0));
    EXPECT_THROW(mha::random_embedding(0, 16, first), std::invalid_argument);
    EXPECT_THROW(mha::random_embedding(15, 0, first), std::invalid_argument);
}

// ---- Positional encodings ----

// PE(pos, 2i) = sin(pos / 10000^(2i / d_model)), PE(pos, 2i + 1) = cos(the same angle),
// written here straight from the paper's formula.
double paper_formula(std::size_t pos, std::size_t column, std::size_t d_model) {
    const double two_i = static_cast<double>(column - column % 2);
    const double angle = static_cast<double>(pos) / std::pow(10000.0, two_i / static_cast<double>(d_model));
    return column % 2 == 0 ? std::sin(angle) : std::cos(angle);
}

TEST(PositionalEncoding, RowZeroIsZeroOneZeroOne) {
    // At position 0 every angle is 0: sin 0 = 0, cos 0 = 1.
    const Matrix expected = {{0.0, 1.0, 0.0, 1.0, 0.0, 1.0}};
    EXPECT_TRUE(matrices_near(sinusoidal_positional_encoding(1, 6), expected, 0.0));
}

TEST(PositionalEncoding, HandComputedRowOne) {
    // d_model = 4: the frequencies are 1 / 10000^0 = 1 and 1 / 10000^(2/4) = 1/100.
    const Matrix expected = {{0.0, 1.0, 0.0, 1.0},
                             {0.8414709848078965, 0.5403023058681398,    // sin 1, cos 1
                              0.009999833334166664, 0.9999500004166653}};  // sin 0.01, cos 0.01
    EXPECT_TRUE(matrices_near(sinusoidal_positional_encoding(2, 4), expected, 1e-15));
}

TEST(PositionalEncoding, MatchesThePaperFormulaEvenAndOddWidths) {
    for (const std::size_t d_model : {1, 2, 5, 8, 16}) {
        const std::size_t length = 50;
        const Matrix encoding = sinusoidal_positional_encoding(length, d_model);
        ASSERT_EQ(encoding.shape(0), length);
        ASSERT_EQ(encoding.shape(1), d_model);
        for (std::size_t pos = 0; pos < length; ++pos) {
            for (std::size_t column = 0; column < d_model; ++column) {
                EXPECT_NEAR(encoding(pos, column), paper_formula(pos, column, d_model), 1e-12)
                    << "d_model " << d_model << ", position " << pos << ", column " << column;
            }
        }
    }
}

TEST(PositionalEncoding, OddWidthEndsWithASineWithoutItsCosine) {
    // d_model = 5: the last column is PE(pos, 4) = sin(pos / 10000^(4/5)) = sin(pos / 1584.89...).
    const Matrix encoding = sinusoidal_positional_encoding(3, 5);
    EXPECT_NEAR(encoding(2, 4), std::sin(2.0 / std::pow(10.0, 3.2)), 1e-15);
    EXPECT_EQ(encoding(0, 4), 0.0);
}

TEST(PositionalEncoding, EntriesInMinusOneToOneAndRowsDistinct) {
    const Matrix encoding = sinusoidal_positional_encoding(200, 33);
    for (const double value : encoding) {
        EXPECT_GE(value, -1.0);
        EXPECT_LE(value, 1.0);
    }
    for (std::size_t a = 0; a < 200; ++a) {
        for (std::size_t b = a + 1; b < 200; ++b) {
            double distance = 0.0;
            for (std::size_t c = 0; c < 33; ++c) {
                distance += std::abs(encoding(a, c) - encoding(b, c));
            }
            ASSERT_GT(distance, 1e-3) << "positions " << a << " and " << b << " look the same";
        }
    }
}

TEST(PositionalEncoding, ShiftingThePositionRotatesEachPair) {
    // (sin w(p+k), cos w(p+k)) is (sin wp, cos wp) rotated by the angle wk, whatever p:
    // a fixed offset is a fixed linear map, which is why attention can read relative positions.
    const std::size_t d_model = 8, k = 3;
    const Matrix encoding = sinusoidal_positional_encoding(20, d_model);
    for (std::size_t column = 0; column < d_model; column += 2) {
        const double w = std::pow(10000.0, -static_cast<double>(column) / d_model);
        for (std::size_t p = 0; p + k < 20; ++p) {
            const double s = encoding(p, column), c = encoding(p, column + 1);
            EXPECT_NEAR(encoding(p + k, column), s * std::cos(w * k) + c * std::sin(w * k), 1e-12);
            EXPECT_NEAR(encoding(p + k, column + 1), c * std::cos(w * k) - s * std::sin(w * k), 1e-12);
        }
    }
}

TEST(PositionalEncoding, ZeroWidthThrowsZeroLengthIsEmpty) {
    EXPECT_THROW(sinusoidal_positional_encoding(4, 0), std::invalid_argument);
    const Matrix empty = sinusoidal_positional_encoding(0, 4);
    EXPECT_EQ(empty.shape(0), 0u);
    EXPECT_EQ(empty.shape(1), 4u);
}

}  // namespace
