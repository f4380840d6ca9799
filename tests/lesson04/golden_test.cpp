// Lesson 4 tests: our MultiHeadAttention against PyTorch's nn.MultiheadAttention.
//
// scripts/generate_mha_fixtures.py built nn.MultiheadAttention(E, H,
// batch_first=True, ...) in float64 for a list of configurations (one head,
// eight heads, cross-attention, kdim/vdim, no bias, every kind of mask, the
// causal mask), ran it, and saved its parameters under PyTorch's names, its
// inputs and its answers as .npy files in tests/fixtures/lesson04/<config>/.
// Here we load the parameters with mha::load_parameters, exactly as a user
// loads an exported model, run MultiHeadAttention::forward on the same inputs,
// and compare the output (B, L, E) and the weights of every head (B, H, L, S)
// with PyTorch's. Each configuration is its own GoogleTest test, named after
// it, so a failure says which option broke.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "reference/multi_head_attention.hpp"
#include "io/npy_file.hpp"
#include "io/parameter_files.hpp"
#include "pytorch_fixtures.hpp"
#include "test_helpers.hpp"

namespace {

using mha::testing::config_name;
using mha::testing::GoldenCase;
using mha::testing::GoldenConfig;
using mha::testing::load_case;
using mha::testing::load_tensor;
using mha::testing::read_configs;
using mha::testing::tensors_near;

// Where the generator script writes lesson 4's fixtures. MHA_FIXTURES_DIR is a
// compile definition set in tests/CMakeLists.txt.
const std::string fixtures_dir = std::string(MHA_FIXTURES_DIR) + "/lesson04";
const std::string regenerate_hint =
    "generate the fixtures with: /usr/bin/python3 scripts/generate_mha_fixtures.py";

// Both sides compute in double precision, in a slightly different order; they
// agree to about 1e-15. The tolerance is the course's promise to a teacher
// comparing with PyTorch, with room for float32 models as well.
constexpr double tolerance = 1e-5;

// ---- One test per configuration ----

class PytorchGolden : public ::testing::TestWithParam<GoldenConfig> {};

TEST_P(PytorchGolden, OutputAndWeightsMatchPytorch) {
    const GoldenConfig& config = GetParam();
    if (!config.problem.empty()) {
        FAIL() << config.problem;
    }

    GoldenCase loaded;
    mha::Tensor3 expected_output;
    mha::Tensor4 expected_weights;
    const std::string folder = fixtures_dir + "/" + config.name;
    try {
        // The parameters under PyTorch's names (in_proj_weight.npy or q/k/v_proj_weight.npy, ...), inputs, masks.
        loaded = load_case(folder, config);
        expected_output = load_tensor<3>(folder + "/output.npy");    // (B, L, E)
        expected_weights = load_tensor<4>(folder + "/weights.npy");  // (B, H, L, S)
    } catch (const std::exception& error) {
        FAIL() << "cannot load configuration " << config.name << ": " << error.what() << "\n" << regenerate_hint;
    }

    const mha::MultiHeadAttentionResult result =
        loaded.module.forward(loaded.query, loaded.key, loaded.value, loaded.masks);

    double output_error = 0.0, weights_error = 0.0;
    EXPECT_TRUE(tensors_near(result.output, expected_output, tolerance, output_error)) << "output";
    EXPECT_TRUE(tensors_near(result.weights, expected_weights, tolerance, weights_error)) << "weights";
    // The measured agreement, in the XML report (--gtest_output=xml) and on the console.
    RecordProperty("output_error", std::to_string(output_error));
    RecordProperty("weights_error", std::to_string(weights_error));
    std::printf("[ largest error vs PyTorch ] %s: output %.1e, weights %.1e\n", config.name.c_str(), output_error,
                weights_error);
}

INSTANTIATE_TEST_SUITE_P(Lesson04, PytorchGolden, ::testing::ValuesIn(read_configs(fixtures_dir, regenerate_hint)),
                         config_name);

}  // namespace
