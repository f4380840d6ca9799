// Lesson 7 tests: grouped-query attention against NumPy in float64
// (scripts/generate_decoding_fixtures.py, which repeats the key/value heads with
// np.repeat). The parameters are read by load_grouped_query_parameters; the
// whole causal forward and every cached decoding step must match to 1e-12.
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <xtensor/xview.hpp>

#include "decode/key_value_cache.hpp"
#include "decoding_helpers.hpp"
#include "io/grouped_parameter_files.hpp"
#include "io/npy_file.hpp"
#include "test_helpers.hpp"

namespace {

using mha::Tensor3;
using mha::testing::expect_contains;
using mha::testing::max_difference;
using mha::testing::thrown_message;

struct Fixture {
    std::size_t E = 0, H = 0, G = 0, B = 0, L = 0;
    std::string folder;
};

Fixture read_fixture(const std::string& name) {
    Fixture fixture;
    fixture.folder = std::string(MHA_FIXTURES_DIR) + "/lesson07/" + name;
    std::ifstream config(fixture.folder + "/config.txt");
    if (!(config >> fixture.E >> fixture.H >> fixture.G >> fixture.B >> fixture.L)) {
        ADD_FAILURE() << fixture.folder << "/config.txt is missing or unreadable; "
                      << "run /usr/bin/python3 scripts/generate_decoding_fixtures.py";
    }
    return fixture;
}

template <std::size_t N>
xt::xtensor<double, N> load(const Fixture& fixture, const std::string& file) {
    return mha::read_npy(fixture.folder + "/" + file).values;
}

class NumpyGroupedQueryAttention : public ::testing::TestWithParam<const char*> {};

TEST_P(NumpyGroupedQueryAttention, CausalForwardMatchesNumpy) {
    const Fixture fixture = read_fixture(GetParam());
    const mha::GroupedQueryAttention layer = mha::load_grouped_query_parameters(fixture.folder, fixture.H, fixture.G);
    ASSERT_EQ(layer.key_projection.weight.shape(0), fixture.G * (fixture.E / fixture.H));
    const Tensor3 x = load<3>(fixture, "x.npy");  // (B, L, E)
    const mha::MultiHeadAttentionResult result = layer.forward(x, true);
    EXPECT_LE(max_difference(result.output, load<3>(fixture, "expected_output.npy")), 1e-12);
    EXPECT_LE(max_difference(result.weights, load<4>(fixture, "expected_weights.npy")), 1e-12);
}

TEST_P(NumpyGroupedQueryAttention, CachedDecodingMatchesNumpyStepByStep) {
    const Fixture fixture = read_fixture(GetParam());
    const mha::GroupedQueryAttention layer = mha::load_grouped_query_parameters(fixture.folder, fixture.H, fixture.G);
    const Tensor3 x = load<3>(fixture, "x.npy");                              // (B, L, E)
    const Tensor3 expected = load<3>(fixture, "expected_output.npy");         // (B, L, E)
    const mha::Tensor4 expected_weights = load<4>(fixture, "expected_weights.npy");  // (B, H, L, L)
    mha::KeyValueCache cache = mha::empty_key_value_cache(fixture.B, fixture.G, fixture.L, fixture.E / fixture.H);
    for (std::size_t t = 0; t < fixture.L; ++t) {
        const mha::DecodeStepResult step = mha::decode_step(layer, cache, xt::view(x, xt::all(), t, xt::all()));
        const mha::Matrix expected_row = xt::view(expected, xt::all(), t, xt::all());
        const Tensor3 expected_step_weights = xt::view(expected_weights, xt::all(), xt::all(), t, xt::range(0, t + 1));
        EXPECT_LE(max_difference(step.output, expected_row), 1e-12) << "step " << t;
        EXPECT_LE(max_difference(step.weights, expected_step_weights), 1e-12) << "step " << t;
    }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, NumpyGroupedQueryAttention,
                         ::testing::Values("grouped", "multi_query", "groups_of_three"));

TEST(GroupedParameterFiles, WrongGroupCountIsNamedWithTheFileAndShapes) {
    const Fixture fixture = read_fixture("grouped");  // E 8, H 4, G 2: k_proj_weight (4, 8)
    const std::string message = thrown_message<std::runtime_error>(
        [&] { mha::load_grouped_query_parameters(fixture.folder, 4, 4); });
    expect_contains(message, {"k_proj_weight.npy", "has shape (4, 8)", "(G·d_k, E) with G = 4", "(8, 8)"});
    expect_contains(thrown_message([&] { mha::load_grouped_query_parameters(fixture.folder, 4, 3); }),
                    {"num_kv_heads 3 does not divide num_heads 4"});
    expect_contains(thrown_message([&] { mha::load_grouped_query_parameters(fixture.folder, 3, 1); }),
                    {"embed_dim 8", "not divisible by num_heads 3"});
}

}  // namespace
