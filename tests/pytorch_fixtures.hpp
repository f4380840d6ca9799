// What the tests against PyTorch's fixtures share (lessons 4 and 6): the list
// of configurations scripts/generate_mha_fixtures.py wrote (configs.txt), and
// loading one configuration's module, inputs and masks from its .npy files.
#pragma once

#include <cmath>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/npy_file.hpp"
#include "io/parameter_files.hpp"
#include "reference/multi_head_attention.hpp"

namespace mha::testing {

using mha::NpyType;

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
inline void PrintTo(const GoldenConfig& config, std::ostream* out) {
    *out << config.name << " (num_heads=" << config.num_heads << ", attn_mask=" << config.attn_mask
         << ", key_padding_mask=" << config.key_padding_mask << ", causal=" << (config.causal ? "yes" : "no") << ")";
}

// Reads tests/fixtures/lesson04/configs.txt: one
// "<config> num_heads=H attn_mask=K key_padding_mask=K causal=yes|no" per line;
// blank lines and lines starting with '#' are comments. When the file is
// missing or empty, the list holds one entry whose `problem` says so, so that
// the suite fails with a clear message instead of silently running nothing.
inline std::vector<GoldenConfig> read_configs(const std::string& fixtures_dir, const std::string& regenerate_hint) {
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


// Checks that a .npy file read by read_npy holds `type` elements in `dimensions`
// dimensions; throws std::runtime_error naming the file otherwise.
inline void require(const std::string& path, const mha::NpyArray& array, NpyType type, std::size_t dimensions) {
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

inline NpyType type_of_kind(const std::string& kind) {
    if (kind == "bool") return NpyType::boolean;
    if (kind == "float") return NpyType::float64;
    throw std::runtime_error("configs.txt names the unknown mask kind '" + kind + "'; expected none, bool or float");
}

// attn_mask.npy as PyTorch took it: bool or float (as configs.txt says), (L, S) or (B·H, L, S).
inline mha::AttentionMask load_attention_mask(const std::string& path, const std::string& kind) {
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
inline mha::KeyPaddingMask load_key_padding_mask(const std::string& path, const std::string& kind) {
    const NpyType type = type_of_kind(kind);
    const mha::NpyArray array = mha::read_npy(path);
    require(path, array, type, 2);
    const mha::Matrix mask = array.values;  // (B, S)
    return type == NpyType::boolean ? mha::KeyPaddingMask(mha::BoolMatrix(xt::cast<bool>(mask)))
                                    : mha::KeyPaddingMask(mask);
}

// ---- Comparing tensors of any number of dimensions ----

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
    const std::vector<std::size_t> shape(actual.shape().begin(), actual.shape().end());
    return ::testing::AssertionFailure() << "worst element " << mha::shape_string(mha::unravel_index(worst_flat, shape))
                                         << " of "
                                         << mha::shape_string(actual) << ": got " << actual.data()[worst_flat]
                                         << ", expected " << expected.data()[worst_flat] << " (relative error "
                                         << worst << " > " << tolerance << ")";
}

// One configuration, loaded: the module under PyTorch's names, its inputs and its masks.
struct GoldenCase {
    mha::MultiHeadAttention module;
    mha::Tensor3 query;  // (B, L, E)
    mha::Tensor3 key;    // (B, S, kdim)
    mha::Tensor3 value;  // (B, S, vdim)
    mha::AttentionMasks masks;
};

// Loads <folder>: the parameters with mha::load_parameters, exactly as a user
// loads an exported model, the three inputs and the masks configs.txt names.
// PyTorch was given the causal mask as attn_mask triu(ones(L, S), 1); the
// course builds it itself from AttentionMasks::causal.
inline GoldenCase load_case(const std::string& folder, const GoldenConfig& config) {
    GoldenCase loaded;
    loaded.module = mha::load_parameters(folder, config.num_heads);
    loaded.query = load_tensor<3>(folder + "/query.npy");
    loaded.key = load_tensor<3>(folder + "/key.npy");
    loaded.value = load_tensor<3>(folder + "/value.npy");
    if (config.attn_mask != "none") {
        loaded.masks.attention_mask = load_attention_mask(folder + "/attn_mask.npy", config.attn_mask);
    }
    if (config.key_padding_mask != "none") {
        loaded.masks.key_padding_mask = load_key_padding_mask(folder + "/key_padding_mask.npy", config.key_padding_mask);
    }
    loaded.masks.causal = config.causal;
    return loaded;
}

// Names each parameterised test after its configuration. GoogleTest accepts
// only letters, digits and '_' in a name, so anything else becomes '_'.
inline std::string config_name(const ::testing::TestParamInfo<GoldenConfig>& info) {
    std::string name = info.param.name;
    for (char& c : name) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') {
            c = '_';
        }
    }
    return name;
}

}  // namespace mha::testing
