// Lesson 6 tests: the whole training step of the tiny transformer against
// PyTorch's autograd and torch.optim.Adam in float64 (fixtures written by
// scripts/generate_training_fixtures.py, format in
// tests/fixtures/lesson06/training/README.md): the loss, every parameter's
// gradient and three Adam steps, for both tasks' configurations.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/npy_file.hpp"
#include "reference/packed_projection.hpp"
#include "train/adam.hpp"
#include "train/attention_only_transformer.hpp"
#include "train/training_step.hpp"

namespace {

using mha::AttentionOnlyTransformer;
using mha::Matrix;

const std::string training_fixtures = std::string(MHA_FIXTURES_DIR) + "/lesson06/training/";

mha::Matrix read_matrix(const std::string& path) {
    const mha::NpyArray array = mha::read_npy(path);
    if (array.values.dimension() != 2) {
        throw std::runtime_error(path + " is not a matrix");
    }
    return array.values;
}

// The state_dict names, in the order of AttentionOnlyTransformer::parameters()
// (W_q, W_k and W_v are rows of one in_proj_weight in PyTorch).
struct Fixture {
    AttentionOnlyTransformer model;
    mha::TokenBatch tokens;
    std::vector<std::vector<std::size_t>> targets;
    std::vector<std::vector<bool>> counted;
};

// Loads the model and the batch of one configuration ("induction" or "coreference") from `folder`.
AttentionOnlyTransformer load_model(const std::string& folder, std::size_t layers, std::size_t heads, bool causal) {
    AttentionOnlyTransformer model;
    model.causal = causal;
    model.token_embedding.table = read_matrix(folder + "token_embedding.weight.npy");
    model.position_embedding.table = read_matrix(folder + "position_embedding.weight.npy");
    for (std::size_t l = 0; l < layers; ++l) {
        const std::string prefix = folder + "layers." + std::to_string(l) + ".";
        mha::Linear packed{read_matrix(prefix + "in_proj_weight.npy"), xt::zeros<double>({std::size_t{0}})};
        const mha::QueryKeyValueProjections parts = mha::split_packed_projection(packed);
        mha::MultiHeadAttention layer;
        layer.num_heads = heads;
        layer.query_projection = parts.query;
        layer.key_projection = parts.key;
        layer.value_projection = parts.value;
        layer.output_projection = {read_matrix(prefix + "out_proj.weight.npy"), xt::zeros<double>({std::size_t{0}})};
        model.layers.push_back(layer);
    }
    model.readout = {read_matrix(folder + "readout.weight.npy"), xt::zeros<double>({std::size_t{0}})};
    return model;
}

Fixture load_fixture(const std::string& name, bool causal) {
    const std::string folder = training_fixtures + name + "/";
    Fixture f{load_model(folder, 2, 2, causal), {}, {}, {}};
    const auto tokens = mha::read_npy_int64(folder + "tokens.npy");    // (B, L), exact integers
    const auto targets = mha::read_npy_int64(folder + "targets.npy");  // (B, L)
    const mha::NpyArray counted_file = mha::read_npy(folder + "counted.npy");  // (B, L)
    if (counted_file.type != mha::NpyType::boolean || counted_file.values.shape() != tokens.shape() ||
        targets.shape() != tokens.shape()) {
        throw std::runtime_error(folder + ": tokens.npy, targets.npy and counted.npy (bool) must have one shape");
    }
    const xt::xarray<bool> counted = xt::not_equal(counted_file.values, 0.0);
    for (std::size_t b = 0; b < tokens.shape(0); ++b) {
        f.tokens.emplace_back(), f.targets.emplace_back(), f.counted.emplace_back();
        for (std::size_t i = 0; i < tokens.shape(1); ++i) {
            f.tokens[b].push_back(static_cast<std::size_t>(tokens(b, i)));
            f.targets[b].push_back(static_cast<std::size_t>(targets(b, i)));
            f.counted[b].push_back(counted(b, i));
        }
    }
    return f;
}

// The parameters as PyTorch stores them: W_q, W_k, W_v stacked into in_proj_weight.
std::vector<std::pair<std::string, Matrix>> as_state_dict(const AttentionOnlyTransformer& model) {
    std::vector<std::pair<std::string, Matrix>> named = {{"token_embedding.weight", model.token_embedding.table},
                                                         {"position_embedding.weight", model.position_embedding.table}};
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
        const mha::MultiHeadAttention& layer = model.layers[l];
        const std::string prefix = "layers." + std::to_string(l) + ".";
        named.push_back({prefix + "in_proj_weight",
                         mha::stack_projections({layer.query_projection, layer.key_projection, layer.value_projection})
                             .weight});
        named.push_back({prefix + "out_proj.weight", layer.output_projection.weight});
    }
    named.push_back({"readout.weight", model.readout.weight});
    return named;
}

// max |actual − expected| over max |expected|.
double relative_error(const Matrix& actual, const Matrix& expected) {
    EXPECT_EQ(actual.shape(), expected.shape());
    double difference = 0.0, largest = 0.0;
    for (std::size_t i = 0; i < expected.size() && i < actual.size(); ++i) {
        difference = std::max(difference, std::abs(actual.data()[i] - expected.data()[i]));
        largest = std::max(largest, std::abs(expected.data()[i]));
    }
    return largest == 0.0 ? difference : difference / largest;
}

class PyTorchTraining : public ::testing::TestWithParam<const char*> {
protected:
    bool causal() const { return std::string(GetParam()) == "induction"; }
    std::string folder() const { return training_fixtures + GetParam() + "/"; }
};

TEST_P(PyTorchTraining, LossAndEveryGradientMatchAutograd) {
    Fixture f = load_fixture(GetParam(), causal());
    mha::TrainingStep step(f.model, f.tokens.size(), f.tokens[0].size());
    const double loss = step.forward_backward(f.model, f.tokens, f.targets, f.counted);
    const double expected_loss = mha::read_npy(folder() + "loss.npy").values(0);
    EXPECT_NEAR(loss, expected_loss, 1e-9 * std::abs(expected_loss));
    for (const auto& [name, gradient] : as_state_dict(step.gradients())) {
        const double error = relative_error(gradient, read_matrix(folder() + "grad/" + name + ".npy"));
        EXPECT_LE(error, 1e-9) << name;
        std::cout << "[ " << GetParam() << " gradient vs autograd ] " << name << ": " << error << "\n";
    }
}

TEST_P(PyTorchTraining, ThreeAdamStepsMatchTorchOptimAdam) {
    Fixture f = load_fixture(GetParam(), causal());
    mha::TrainingStep step(f.model, f.tokens.size(), f.tokens[0].size());
    mha::Adam adam({1e-2, 0.9, 0.999, 1e-8});
    const auto losses = mha::read_npy(folder() + "adam/losses.npy").values;
    for (std::size_t k = 1; k <= 3; ++k) {
        const double loss = step.forward_backward(f.model, f.tokens, f.targets, f.counted);
        EXPECT_NEAR(loss, losses(k - 1), 1e-9 * std::abs(losses(k - 1))) << "before step " << k;
        adam.step(f.model.parameters(), step.gradients().parameters());
        for (const auto& [name, parameter] : as_state_dict(f.model)) {
            const Matrix expected = read_matrix(folder() + "adam/step" + std::to_string(k) + "/" + name + ".npy");
            EXPECT_LE(relative_error(parameter, expected), 1e-9) << name << " after step " << k;
        }
    }
}

INSTANTIATE_TEST_SUITE_P(BothTasks, PyTorchTraining, ::testing::Values("induction", "coreference"),
                         [](const auto& info) { return std::string(info.param); });

TEST(PyTorchAdam, FourStepsOnAVectorMatchTorchOptimAdam) {
    // Gradients with a zero entry, a large one and a tiny one (tests/fixtures/lesson06/adam).
    const std::string folder = std::string(MHA_FIXTURES_DIR) + "/lesson06/adam/";
    const auto start = mha::read_npy(folder + "parameter.npy").values;       // (5)
    const auto gradients = mha::read_npy(folder + "gradients.npy").values;   // (4, 5)
    const auto expected = mha::read_npy(folder + "parameters_after.npy").values;  // (4, 5)
    const std::size_t n = start.size();
    Matrix parameter = xt::zeros<double>({std::size_t{1}, n});
    std::copy(start.begin(), start.end(), parameter.begin());
    mha::Adam adam({1e-2, 0.9, 0.999, 1e-8});
    for (std::size_t k = 0; k < gradients.shape(0); ++k) {
        Matrix gradient = xt::zeros<double>({std::size_t{1}, n});
        for (std::size_t i = 0; i < n; ++i) {
            gradient(0, i) = gradients(k, i);
        }
        adam.step({&parameter}, {&gradient});
        for (std::size_t i = 0; i < n; ++i) {
            EXPECT_NEAR(parameter(0, i), expected(k, i), 1e-12 * std::max(1.0, std::abs(expected(k, i))))
                << "entry " << i << " after step " << k + 1;
        }
    }
}

}  // namespace
