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
#include "test_helpers.hpp"

namespace {

using mha::NpyType;

// Where the generator script writes lesson 4's fixtures. MHA_FIXTURES_DIR is a
// compile definition set in tests/CMakeLists.txt.
const std::string fixtures_dir = std::string(MHA_FIXTURES_DIR) + "/lesson04";
const std::string regenerate_hint =
    "generate the fixtures with: /usr/bin/python3 scripts/generate_mha_fixtures.py";

// Both sides compute in double precision, in a slightly different order; they
// agree to about 1e-15. The tolerance is the course's promise to a teacher
// comparing with PyTorch, with room for float32 models as well.
constexpr double tolerance = 1e-5;

// ---- The configuration list ----

// One line of configs.txt.
struct GoldenConfig {
    std::string name;
    std::size_t num_heads = 0;
    std::string attn_mask = "none";         // none, bool or float: the element type of attn_mask.npy
    std::string key_padding_mask = "none";  // none, bool or float: the element type of key_padding_mask.npy
    bool causal = false;                    // set AttentionMasks::causal
    std::string problem;                    // non-empty: configs.txt could not be used
};

// Printed by GoogleTest when a test fails, instead of the bytes of the struct.
void PrintTo(const GoldenConfig& config, std::ostream* out) {
    *out << config.name << " (num_heads=" << config.num_heads << ", attn_mask=" << config.attn_mask
         << ", key_padding_mask=" << config.key_padding_mask << ", causal=" << (config.causal ? "yes" : "no") << ")";
}

// Reads tests/fixtures/lesson04/configs.txt: one
// "<config> num_heads=H attn_mask=K key_padding_mask=K causal=yes|no" per line;
// blank lines and lines starting with '#' are comments. When the file is
// missing or empty, the list holds one entry whose `problem` says so, so that
// the suite fails with a clear message instead of silently running nothing.
std::vector<GoldenConfig> read_configs() {
    const std::string listing_path = fixtures_dir + "/configs.txt";
    std::ifstream listing(listing_path);
    std::vector<GoldenConfig> configs;
    std::string line;
    while (std::getline(listing, line)) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        std::istringstream fields(line);
        GoldenConfig config;
        fields >> config.name;
        std::string field;
        while (fields >> field) {
            const auto equals = field.find('=');
            const std::string key = field.substr(0, equals);
            const std::string value = equals == std::string::npos ? "" : field.substr(equals + 1);
            if (key == "num_heads") {
                config.num_heads = static_cast<std::size_t>(std::stoul(value));
            } else if (key == "attn_mask") {
                config.attn_mask = value;
            } else if (key == "key_padding_mask") {
                config.key_padding_mask = value;
            } else if (key == "causal") {
                config.causal = value == "yes";
            } else {
                config.problem = "configs.txt gives " + config.name + " the unknown field '" + field + "'";
            }
        }
        if (!config.name.empty()) {
            configs.push_back(config);
        }
    }
    if (configs.empty()) {
        GoldenConfig missing;
        missing.name = "fixtures_missing";
        missing.problem = "no configurations found in " + listing_path + "; " + regenerate_hint;
        configs.push_back(missing);
    }
    return configs;
}

// ---- Loading the fixtures ----

std::string config_file(const GoldenConfig& config, const std::string& file_name) {
    return fixtures_dir + "/" + config.name + "/" + file_name;
}

// Checks that a .npy file read by read_npy holds `type` elements in `dimensions`
// dimensions; throws std::runtime_error naming the file otherwise.
void require(const std::string& path, const mha::NpyArray& array, NpyType type, std::size_t dimensions) {
    if (array.type != type) {
        throw std::runtime_error(path + ": holds " + mha::npy_type_name(array.type) + " but should hold " +
                                 mha::npy_type_name(type));
    }
    if (array.values.dimension() != dimensions) {
        throw std::runtime_error(path + ": has shape " + mha::shape_string(array.values) + " but should have " +
                                 std::to_string(dimensions) + " dimensions");
    }
}

// Reads an N-dimensional float64 .npy file (read_npy names the file when it is
// missing or unreadable).
template <std::size_t N>
xt::xtensor<double, N> load_tensor(const std::string& path) {
    mha::NpyArray array = mha::read_npy(path);
    require(path, array, NpyType::float64, N);
    return array.values;
}

NpyType type_of_kind(const std::string& kind) {
    if (kind == "bool") return NpyType::boolean;
    if (kind == "float") return NpyType::float64;
    throw std::runtime_error("configs.txt names the unknown mask kind '" + kind + "'; expected none, bool or float");
}

// attn_mask.npy as PyTorch took it: bool or float (as configs.txt says), (L, S) or (B·H, L, S).
mha::AttentionMask load_attention_mask(const std::string& path, const std::string& kind) {
    const NpyType type = type_of_kind(kind);
    const mha::NpyArray array = mha::read_npy(path);
    const bool per_head = array.values.dimension() == 3;
    require(path, array, type, per_head ? 3 : 2);
    if (per_head) {
        const mha::Tensor3 mask = array.values;  // (B·H, L, S)
        return type == NpyType::boolean ? mha::AttentionMask(mha::BoolTensor3(xt::cast<bool>(mask)))
                                        : mha::AttentionMask(mask);
    }
    const mha::Matrix mask = array.values;  // (L, S)
    return type == NpyType::boolean ? mha::AttentionMask(mha::BoolMatrix(xt::cast<bool>(mask)))
                                    : mha::AttentionMask(mask);
}

// key_padding_mask.npy: bool or float (as configs.txt says), (B, S).
mha::KeyPaddingMask load_key_padding_mask(const std::string& path, const std::string& kind) {
    const NpyType type = type_of_kind(kind);
    const mha::NpyArray array = mha::read_npy(path);
    require(path, array, type, 2);
    const mha::Matrix mask = array.values;  // (B, S)
    return type == NpyType::boolean ? mha::KeyPaddingMask(mha::BoolMatrix(xt::cast<bool>(mask)))
                                    : mha::KeyPaddingMask(mask);
}

// ---- Comparing tensors of any number of dimensions ----

// "(1, 0, 3, 2)": the index of element `flat` of a row-major tensor of this shape.
template <class Shape>
std::string index_string(const Shape& shape, std::size_t flat) {
    std::vector<std::size_t> index(shape.size());
    for (std::size_t axis = shape.size(); axis-- > 0;) {
        index[axis] = flat % shape[axis];
        flat /= shape[axis];
    }
    std::string text = "(";
    for (std::size_t axis = 0; axis < index.size(); ++axis) {
        text += (axis ? ", " : "") + std::to_string(index[axis]);
    }
    return text + ")";
}

// mha::testing::matrices_near for any number of dimensions: compares element
// by element, |actual - expected| <= tolerance * (1 + |expected|), and names
// the worst element on failure. `worst` receives the largest error found.
template <class Tensor>
::testing::AssertionResult tensors_near(const Tensor& actual, const Tensor& expected, double tolerance,
                                        double& worst) {
    worst = 0.0;
    if (actual.shape() != expected.shape()) {
        worst = INFINITY;
        return ::testing::AssertionFailure() << "shape " << mha::shape_string(actual) << " but expected "
                                             << mha::shape_string(expected);
    }
    std::size_t worst_flat = 0;
    for (std::size_t flat = 0; flat < actual.size(); ++flat) {
        const double a = actual.data()[flat], e = expected.data()[flat];
        const double error = std::isnan(a) ? INFINITY : std::abs(a - e) / (1.0 + std::abs(e));
        if (error > worst) {
            worst = error;
            worst_flat = flat;
        }
    }
    if (worst <= tolerance) {
        return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure() << "worst element " << index_string(actual.shape(), worst_flat) << " of "
                                         << mha::shape_string(actual) << ": got " << actual.data()[worst_flat]
                                         << ", expected " << expected.data()[worst_flat] << " (relative error "
                                         << worst << " > " << tolerance << ")";
}

// ---- One test per configuration ----

class PytorchGolden : public ::testing::TestWithParam<GoldenConfig> {};

TEST_P(PytorchGolden, OutputAndWeightsMatchPytorch) {
    const GoldenConfig& config = GetParam();
    if (!config.problem.empty()) {
        FAIL() << config.problem;
    }

    mha::MultiHeadAttention module;
    mha::Tensor3 query, key, value, expected_output;
    mha::Tensor4 expected_weights;
    mha::AttentionMasks masks;
    try {
        // The parameters, under PyTorch's names: in_proj_weight.npy or q/k/v_proj_weight.npy, ...
        module = mha::load_parameters(fixtures_dir + "/" + config.name, config.num_heads);
        query = load_tensor<3>(config_file(config, "query.npy"));  // (B, L, E)
        key = load_tensor<3>(config_file(config, "key.npy"));      // (B, S, kdim)
        value = load_tensor<3>(config_file(config, "value.npy"));  // (B, S, vdim)
        expected_output = load_tensor<3>(config_file(config, "output.npy"));    // (B, L, E)
        expected_weights = load_tensor<4>(config_file(config, "weights.npy"));  // (B, H, L, S)
        if (config.attn_mask != "none") {
            masks.attention_mask = load_attention_mask(config_file(config, "attn_mask.npy"), config.attn_mask);
        }
        if (config.key_padding_mask != "none") {
            masks.key_padding_mask =
                load_key_padding_mask(config_file(config, "key_padding_mask.npy"), config.key_padding_mask);
        }
    } catch (const std::exception& error) {
        FAIL() << "cannot load configuration " << config.name << ": " << error.what() << "\n" << regenerate_hint;
    }
    // PyTorch was given triu(ones(L, S), diagonal=1) as attn_mask; we build it ourselves.
    masks.causal = config.causal;

    const mha::MultiHeadAttentionResult result = module.forward(query, key, value, masks);

    double output_error = 0.0, weights_error = 0.0;
    EXPECT_TRUE(tensors_near(result.output, expected_output, tolerance, output_error)) << "output";
    EXPECT_TRUE(tensors_near(result.weights, expected_weights, tolerance, weights_error)) << "weights";
    // The measured agreement, in the XML report (--gtest_output=xml) and on the console.
    RecordProperty("output_error", std::to_string(output_error));
    RecordProperty("weights_error", std::to_string(weights_error));
    std::printf("[ largest error vs PyTorch ] %s: output %.1e, weights %.1e\n", config.name.c_str(), output_error,
                weights_error);
}

// Names each test after its configuration, e.g.
// Lesson04/PytorchGolden.OutputAndWeightsMatchPytorch/kdim_vdim. GoogleTest
// accepts only letters, digits and '_' in a name, so anything else becomes '_'.
std::string config_name(const ::testing::TestParamInfo<GoldenConfig>& info) {
    std::string name = info.param.name;
    std::replace_if(
        name.begin(), name.end(), [](unsigned char c) { return !std::isalnum(c) && c != '_'; }, '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(Lesson04, PytorchGolden, ::testing::ValuesIn(read_configs()), config_name);

}  // namespace
