// Lesson 5 tests: every version of the fast attention against the lesson 4
// reference (double precision, PyTorch's numbers), on shapes chosen to hit the
// edges: L = 1, S = 1, odd head sizes (d_k = 3, 7), sizes that are not
// multiples of 16 or 32, cross-attention, B = 2, kdim and vdim of their own,
// every kind of mask, with and without the weights.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "fast/fast_multi_head_attention.hpp"
#include "reference/multi_head_attention.hpp"
#include "fast/parallel_for.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

using mha::FastAttentionOptions;
using mha::FastMultiHeadAttention;
using mha::FastVersion;
using mha::MultiHeadAttention;

constexpr double tolerance = 1e-5;  // |fast - reference| <= 1e-5 (1 + |reference|)

const FastVersion all_versions[] = {FastVersion::blas, FastVersion::simd, FastVersion::blocked, FastVersion::fused,
                                    FastVersion::threaded};

// Which masks a configuration uses.
enum class Masks {
    none,
    boolean,         // attn_mask (L, S), boolean, with some fully masked rows
    additive,        // attn_mask (L, S), float: finite values and -inf
    per_head,        // attn_mask (B·H, L, S), boolean
    padding,         // key_padding_mask (B, S): entry 1 has padding; with B = 2
    causal,          // causal
    causal_padding,  // causal + key_padding_mask + a float attn_mask
    everything_masked_in_entry_1  // key_padding_mask hides every key of entry 1
};

struct Config {
    const char* name;
    std::size_t B, L, S, E, H;
    std::size_t kdim = 0, vdim = 0;  // 0: E
    bool bias = true;
    Masks masks = Masks::none;
};

const Config configs[] = {
    {"Tiny_1x1", 1, 1, 1, 4, 1},
    {"OneQuery", 1, 1, 9, 12, 4},
    {"OneKey", 2, 5, 1, 12, 4},
    {"HeadDim3", 1, 17, 17, 12, 4},
    {"HeadDim7Cross", 2, 33, 20, 21, 3},
    {"L100", 1, 100, 100, 32, 2},
    {"ManyKeyBlocks", 1, 70, 300, 16, 2},
    {"KdimVdim", 2, 9, 11, 16, 2, 5, 7},
    {"NoBias", 1, 13, 13, 24, 3, 0, 0, false},
    {"BoolMask", 1, 17, 23, 16, 4, 0, 0, true, Masks::boolean},
    {"AdditiveMask", 2, 12, 19, 12, 2, 0, 0, true, Masks::additive},
    {"PerHeadMask", 2, 10, 14, 12, 3, 0, 0, true, Masks::per_head},
    {"PerHeadMaskManyBlocks", 1, 130, 250, 16, 2, 0, 0, true, Masks::per_head},  // 2 query, 3 key blocks
    {"Padding", 2, 15, 15, 16, 2, 0, 0, true, Masks::padding},
    {"Causal", 1, 33, 33, 16, 4, 0, 0, true, Masks::causal},
    {"CausalLong", 1, 200, 200, 8, 1, 0, 0, true, Masks::causal},
    {"CausalMoreQueriesThanKeys", 1, 40, 9, 12, 2, 0, 0, true, Masks::causal},
    {"WideHead", 1, 3, 4, 776, 1},  // d_k = 776: deeper than a cache block (KC = 768)
    {"CausalCrossPaddingFloat", 2, 20, 150, 12, 2, 0, 0, true, Masks::causal_padding},
    {"EveryKeyMasked", 2, 6, 8, 8, 2, 0, 0, true, Masks::everything_masked_in_entry_1},
};

// What a failing test prints for its parameters.
void PrintTo(const Config& config, std::ostream* os) { *os << config.name; }

}  // namespace

namespace mha {
void PrintTo(FastVersion version, std::ostream* os) { *os << fast_version_name(version); }
}  // namespace mha

namespace {

// Float inputs and the same numbers in double for the reference: both see identical inputs.
struct Problem {
    MultiHeadAttention reference;
    xt::xtensor<float, 3> query, key, value;
    mha::AttentionMasks masks;
    mha::MultiHeadAttentionResult expected;  // the reference's output and weights
};

xt::xtensor<float, 3> random_input(std::size_t B, std::size_t rows, std::size_t columns, mha::RandomGenerator& random) {
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({B, rows, columns});
    for (float& v : x) {
        v = static_cast<float>(random.uniform(-1.0, 1.0));
    }
    return x;
}

mha::Tensor3 to_double(const xt::xtensor<float, 3>& x) {
    mha::Tensor3 d = mha::Tensor3::from_shape(x.shape());
    std::copy(x.begin(), x.end(), d.begin());
    return d;
}

mha::AttentionMasks make_masks(const Config& c, mha::RandomGenerator& random) {
    mha::AttentionMasks masks;
    const double minus_infinity = -std::numeric_limits<double>::infinity();
    switch (c.masks) {
        case Masks::none: break;
        case Masks::boolean: {
            mha::BoolMatrix mask = xt::zeros<bool>({c.L, c.S});
            for (std::size_t i = 0; i < c.L; ++i) {
                for (std::size_t j = 0; j < c.S; ++j) {
                    mask(i, j) = random.uniform(0.0, 1.0) < 0.4 || i == 3;  // row 3: every key hidden
                }
            }
            masks.attention_mask = mask;
            break;
        }
        case Masks::additive: {
            mha::Matrix mask = xt::zeros<double>({c.L, c.S});
            for (std::size_t i = 0; i < c.L; ++i) {
                for (std::size_t j = 0; j < c.S; ++j) {
                    const double u = random.uniform(0.0, 1.0);
                    mask(i, j) = u < 0.2 ? minus_infinity : 4.0 * (u - 0.5);
                }
            }
            masks.attention_mask = mask;
            break;
        }
        case Masks::per_head: {
            mha::BoolTensor3 mask = xt::zeros<bool>({c.B * c.H, c.L, c.S});
            for (bool& m : mask) {
                m = random.uniform(0.0, 1.0) < 0.5;
            }
            masks.attention_mask = mask;
            break;
        }
        case Masks::padding: {
            mha::BoolMatrix padding = xt::zeros<bool>({c.B, c.S});
            for (std::size_t j = 9; j < c.S; ++j) {
                padding(1, j) = true;  // entry 1: keys 9.. are padding
            }
            masks.key_padding_mask = padding;
            break;
        }
        case Masks::causal: masks.causal = true; break;
        case Masks::causal_padding: {
            masks.causal = true;
            mha::BoolMatrix padding = xt::zeros<bool>({c.B, c.S});
            for (std::size_t j = 0; j < c.S; j += 3) {
                padding(0, j) = true;  // entry 0: every third key, key 0 included
            }
            masks.key_padding_mask = padding;
            mha::Matrix mask = xt::zeros<double>({c.L, c.S});
            for (double& m : mask) {
                m = random.uniform(-1.0, 1.0);
            }
            masks.attention_mask = mask;
            break;
        }
        case Masks::everything_masked_in_entry_1: {
            mha::BoolMatrix padding = xt::zeros<bool>({c.B, c.S});
            xt::view(padding, 1, xt::all()) = true;
            masks.key_padding_mask = padding;
            break;
        }
    }
    return masks;
}

// Problems are built once and shared by the versions' tests: the reference is the slow part.
const Problem& problem(const Config& c) {
    static std::map<std::string, Problem> problems;
    auto found = problems.find(c.name);
    if (found != problems.end()) {
        return found->second;
    }
    mha::RandomGenerator random(1000 + c.L * 31 + c.S * 7 + c.E);
    Problem p;
    p.reference = mha::random_multi_head_attention(c.E, c.H, c.bias, random, c.kdim, c.vdim);
    if (c.bias) {  // PyTorch starts biases at 0; make them matter
        for (mha::Linear* layer : {&p.reference.query_projection, &p.reference.key_projection,
                                   &p.reference.value_projection, &p.reference.output_projection}) {
            for (double& b : layer->bias) {
                b = random.uniform(-0.5, 0.5);
            }
        }
    }
    p.query = random_input(c.B, c.L, c.E, random);
    p.key = random_input(c.B, c.S, c.kdim == 0 ? c.E : c.kdim, random);
    p.value = random_input(c.B, c.S, c.vdim == 0 ? c.E : c.vdim, random);
    p.masks = make_masks(c, random);
    p.expected = p.reference.forward(to_double(p.query), to_double(p.key), to_double(p.value), p.masks);
    return problems.emplace(c.name, std::move(p)).first->second;
}

// Element by element, |actual - expected| <= tolerance (1 + |expected|); on failure, the worst element.
template <std::size_t N>
::testing::AssertionResult tensors_near(const xt::xtensor<float, N>& actual, const xt::xtensor<double, N>& expected) {
    if (actual.shape() != expected.shape()) {
        return ::testing::AssertionFailure() << "shape " << mha::shape_string(actual) << " but expected "
                                             << mha::shape_string(expected);
    }
    double worst = 0.0;
    std::size_t worst_index = 0;
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const double e = expected.data()[i];
        const double error = std::abs(actual.data()[i] - e) / (1.0 + std::abs(e));
        if (!(error <= worst)) {  // NaN counts as the worst
            worst = std::isnan(error) ? INFINITY : error;
            worst_index = i;
        }
    }
    if (worst <= tolerance) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "worst element: flat index " << worst_index << " of "
                                         << mha::shape_string(actual) << ": got " << actual.data()[worst_index]
                                         << ", expected " << expected.data()[worst_index] << " (relative error "
                                         << worst << " > " << tolerance << ")";
}

// ---- Every version, every configuration, with and without the weights ----

class FastAttentionTest : public ::testing::TestWithParam<std::tuple<Config, FastVersion>> {};

TEST_P(FastAttentionTest, MatchesTheReference) {
    const auto& [config, version] = GetParam();
    const Problem& p = problem(config);
    const FastMultiHeadAttention fast(p.reference);
    for (const bool need_weights : {false, true}) {
        SCOPED_TRACE(need_weights ? "need_weights = true" : "need_weights = false");
        FastAttentionOptions options;
        options.version = version;
        options.threads = 2;
        options.need_weights = need_weights;
        const mha::FastAttentionResult result = fast.forward(p.query, p.key, p.value, p.masks, options);
        EXPECT_TRUE(tensors_near(result.output, p.expected.output));
        if (need_weights) {
            EXPECT_TRUE(tensors_near(result.weights, p.expected.weights));
        } else {
            EXPECT_EQ(result.weights.size(), 0u);
            EXPECT_EQ(result.weights.dimension(), 4u);
        }
    }
}

std::string test_name(const ::testing::TestParamInfo<std::tuple<Config, FastVersion>>& info) {
    std::string name = std::string(std::get<0>(info.param).name) + "_" + mha::fast_version_name(std::get<1>(info.param));
    for (char& c : name) {
        c = c == '-' ? '_' : c;
    }
    return name;
}

INSTANTIATE_TEST_SUITE_P(EveryVersion, FastAttentionTest,
                         ::testing::Combine(::testing::ValuesIn(configs), ::testing::ValuesIn(all_versions)),
                         test_name);

// ---- Self-attention: one tensor as query, key and value ----

// forward(x, x, x) takes another path in v3 to v5: Q, K and V from one product
// with the three weights stacked, read with a row stride of 3E.
TEST(FastAttention, SelfAttentionWithOneTensorMatchesTheReference) {
    for (const Config& config : {Config{"SelfAttentionCausalPadding", 2, 100, 100, 32, 4, 0, 0, true,
                                        Masks::causal_padding},
                                 Config{"SelfAttentionNoBias", 1, 37, 37, 12, 3, 0, 0, false}}) {
        SCOPED_TRACE(config.name);
        const Problem& p = problem(config);
        const mha::MultiHeadAttentionResult expected =
            p.reference.forward(to_double(p.query), to_double(p.query), to_double(p.query), p.masks);
        const FastMultiHeadAttention fast(p.reference);
        for (const FastVersion version : all_versions) {
            for (const std::size_t threads : {1, 2}) {
                SCOPED_TRACE(mha::fast_version_name(version) + " on " + std::to_string(threads) + " thread(s)");
                FastAttentionOptions options;
                options.version = version;
                options.threads = threads;
                options.need_weights = false;
                EXPECT_TRUE(tensors_near(fast.forward(p.query, p.query, p.query, p.masks, options).output,
                                         expected.output));
                options.need_weights = true;
                const mha::FastAttentionResult result = fast.forward(p.query, p.query, p.query, p.masks, options);
                EXPECT_TRUE(tensors_near(result.output, expected.output));
                EXPECT_TRUE(tensors_near(result.weights, expected.weights));
            }
        }
    }
}

// ---- Fully masked queries ----

TEST(FastAttention, AFullyMaskedQueryGetsZeroWeightsAndTheOutputBias) {
    const Config config = {"EveryKeyMasked", 2, 6, 8, 8, 2, 0, 0, true, Masks::everything_masked_in_entry_1};
    const Problem& p = problem(config);
    const FastMultiHeadAttention fast(p.reference);
    for (const FastVersion version : all_versions) {
        SCOPED_TRACE(mha::fast_version_name(version));
        FastAttentionOptions options;
        options.version = version;
        options.need_weights = true;
        const mha::FastAttentionResult result = fast.forward(p.query, p.key, p.value, p.masks, options);
        for (std::size_t h = 0; h < config.H; ++h) {
            for (std::size_t i = 0; i < config.L; ++i) {
                for (std::size_t j = 0; j < config.S; ++j) {
                    ASSERT_EQ(result.weights(1, h, i, j), 0.0f) << "head " << h << ", query " << i << ", key " << j;
                }
            }
        }
        // Zero attention output: the output row is W_o 0 + b_o = b_o.
        for (std::size_t i = 0; i < config.L; ++i) {
            for (std::size_t e = 0; e < config.E; ++e) {
                ASSERT_FLOAT_EQ(result.output(1, i, e), static_cast<float>(p.reference.output_projection.bias(e)));
            }
        }
        options.need_weights = false;  // the fused versions without weights take another path
        const mha::FastAttentionResult fused = fast.forward(p.query, p.key, p.value, p.masks, options);
        EXPECT_TRUE(tensors_near(fused.output, p.expected.output));
    }
}

// ---- v5's threads ----

TEST(FastAttention, ThreadedGivesTheSameResultWithOneOrTwoThreads) {
    const Config config = {"ThreadsCausal", 2, 150, 140, 16, 2, 0, 0, true, Masks::causal};
    const Problem& p = problem(config);
    const FastMultiHeadAttention fast(p.reference);
    FastAttentionOptions options;
    options.version = FastVersion::threaded;
    for (const bool need_weights : {false, true}) {
        options.need_weights = need_weights;
        options.threads = 1;
        const mha::FastAttentionResult one = fast.forward(p.query, p.key, p.value, p.masks, options);
        options.threads = 2;
        const mha::FastAttentionResult two = fast.forward(p.query, p.key, p.value, p.masks, options);
        EXPECT_EQ(one.output, two.output) << "need_weights = " << need_weights;  // the same arithmetic, bit for bit
        EXPECT_EQ(one.weights, two.weights);
        EXPECT_TRUE(tensors_near(two.output, p.expected.output));
    }
}

TEST(FastAttention, ForwardCanRunOnSeveralThreadsAtOnce) {
    const Config config = {"HeadDim3", 1, 17, 17, 12, 4};
    const Problem& p = problem(config);
    const FastMultiHeadAttention fast(p.reference);
    std::vector<mha::FastAttentionResult> results(4);
    mha::parallel_for(4, results.size(), [&](std::size_t i) {
        FastAttentionOptions options;
        options.version = all_versions[i % 5];
        results[i] = fast.forward(p.query, p.key, p.value, p.masks, options);
    });
    for (const auto& result : results) {
        EXPECT_TRUE(tensors_near(result.output, p.expected.output));
    }
}

// ---- The module and its names ----

TEST(FastAttention, KnowsItsSizesAndTheVersionsNames) {
    const Problem& p = problem(configs[4]);  // E = 21, H = 3
    const FastMultiHeadAttention fast(p.reference);
    EXPECT_EQ(fast.embed_dim(), 21u);
    EXPECT_EQ(fast.num_heads(), 3u);
    EXPECT_EQ(mha::fast_version_name(FastVersion::blas), "v1-blas");
    EXPECT_EQ(mha::fast_version_name(FastVersion::simd), "v2-simd");
    EXPECT_EQ(mha::fast_version_name(FastVersion::blocked), "v3-blocked");
    EXPECT_EQ(mha::fast_version_name(FastVersion::fused), "v4-fused");
    EXPECT_EQ(mha::fast_version_name(FastVersion::threaded), "v5-threaded");
    EXPECT_THROW(mha::fast_version_name(static_cast<FastVersion>(6)), std::invalid_argument);
    EXPECT_EQ(FastAttentionOptions{}.version, FastVersion::threaded);
    EXPECT_EQ(FastAttentionOptions{}.threads, 1u);
    EXPECT_FALSE(FastAttentionOptions{}.need_weights);
}

TEST(FastAttention, AnEmptyBatchGivesEmptyResults) {
    const Problem& p = problem(configs[3]);  // E = 12, H = 4
    const FastMultiHeadAttention fast(p.reference);
    const xt::xtensor<float, 3> none = xt::xtensor<float, 3>::from_shape({0, 5, 12});
    for (const FastVersion version : all_versions) {
        FastAttentionOptions options;
        options.version = version;
        options.need_weights = true;
        const auto result = fast.forward(none, none, none, {}, options);
        EXPECT_EQ(result.output.shape(), (std::array<std::size_t, 3>{0, 5, 12}));
        EXPECT_EQ(result.weights.shape(), (std::array<std::size_t, 4>{0, 4, 5, 5}));
    }
}

}  // namespace
