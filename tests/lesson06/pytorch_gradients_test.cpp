// Lesson 6 tests: the backward pass of multi-head attention against PyTorch's
// autograd in float64.
//
// scripts/generate_backward_fixtures.py took every configuration of lesson 4's
// golden tests (tests/fixtures/lesson04/: one head, eight heads, cross-attention,
// kdim/vdim, no bias, every kind of mask, the causal mask), built PyTorch's own
// nn.MultiheadAttention from its parameters, made query, key and value three
// separate leaf tensors, ran output.backward(grad_output) with a random
// grad_output, and saved what autograd computed in tests/fixtures/lesson06/:
// the three inputs' gradients, and every parameter's gradient under the
// parameter's own name (parameter_gradients/in_proj_weight.npy, ...). Here the
// course's multi_head_attention_backward runs on the same module, inputs,
// masks and grad_output, and every gradient must agree to 1e-9.
#include <cstdio>
#include <string>

#include <gtest/gtest.h>

#include "io/parameter_files.hpp"
#include "pytorch_fixtures.hpp"
#include "train/multi_head_attention_backward.hpp"

namespace {

using mha::testing::config_name;
using mha::testing::GoldenCase;
using mha::testing::GoldenConfig;
using mha::testing::load_case;
using mha::testing::load_tensor;
using mha::testing::read_configs;
using mha::testing::tensors_near;

const std::string lesson04_dir = std::string(MHA_FIXTURES_DIR) + "/lesson04";
const std::string gradients_dir = std::string(MHA_FIXTURES_DIR) + "/lesson06";
const std::string regenerate_hint =
    "generate the fixtures with: /usr/bin/python3 scripts/generate_mha_fixtures.py, then "
    "/usr/bin/python3 scripts/generate_backward_fixtures.py";

// Both sides compute in double precision, in a different order; they agree to about 1e-14.
constexpr double tolerance = 1e-9;

class PytorchGradients : public ::testing::TestWithParam<GoldenConfig> {};

TEST_P(PytorchGradients, EveryGradientMatchesAutograd) {
    const GoldenConfig& config = GetParam();
    if (!config.problem.empty()) {
        FAIL() << config.problem;
    }
    const std::string folder = gradients_dir + "/" + config.name;
    GoldenCase loaded;
    mha::Tensor3 grad_output, expected_query, expected_key, expected_value;
    mha::MultiHeadAttention expected_parameters;
    try {
        loaded = load_case(lesson04_dir + "/" + config.name, config);
        grad_output = load_tensor<3>(folder + "/grad_output.npy");        // (B, L, E)
        expected_query = load_tensor<3>(folder + "/query.grad.npy");      // (B, L, E)
        expected_key = load_tensor<3>(folder + "/key.grad.npy");          // (B, S, kdim)
        expected_value = load_tensor<3>(folder + "/value.grad.npy");      // (B, S, vdim)
        // The parameters' gradients under the parameters' names: read as a module of gradients.
        expected_parameters = mha::load_parameters(folder + "/parameter_gradients", config.num_heads);
    } catch (const std::exception& error) {
        FAIL() << "cannot load case " << config.name << ": " << error.what() << "\n" << regenerate_hint;
    }

    const mha::MultiHeadAttentionGradients gradients = mha::multi_head_attention_backward(
        loaded.module, loaded.query, loaded.key, loaded.value, loaded.masks, grad_output);

    double worst = 0.0, error = 0.0;
    EXPECT_TRUE(tensors_near(gradients.query, expected_query, tolerance, error)) << "dquery";
    worst = std::max(worst, error);
    EXPECT_TRUE(tensors_near(gradients.key, expected_key, tolerance, error)) << "dkey";
    worst = std::max(worst, error);
    EXPECT_TRUE(tensors_near(gradients.value, expected_value, tolerance, error)) << "dvalue";
    worst = std::max(worst, error);
    const std::pair<mha::Linear mha::MultiHeadAttention::*, const char*> layers[] = {
        {&mha::MultiHeadAttention::query_projection, "W_q"},
        {&mha::MultiHeadAttention::key_projection, "W_k"},
        {&mha::MultiHeadAttention::value_projection, "W_v"},
        {&mha::MultiHeadAttention::output_projection, "W_o"}};
    for (const auto& [layer, name] : layers) {
        EXPECT_TRUE(tensors_near((gradients.parameters.*layer).weight, (expected_parameters.*layer).weight,
                                 tolerance, error))
            << name;
        worst = std::max(worst, error);
        EXPECT_TRUE(tensors_near((gradients.parameters.*layer).bias, (expected_parameters.*layer).bias, tolerance,
                                 error))
            << name << "'s bias";
        worst = std::max(worst, error);
    }
    RecordProperty("largest_error", std::to_string(worst));
    std::printf("[ largest gradient error vs PyTorch ] %s: %.1e\n", config.name.c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(Lesson06, PytorchGradients, ::testing::ValuesIn(read_configs(lesson04_dir, regenerate_hint)),
                         config_name);

}  // namespace
