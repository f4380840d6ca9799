// The inputs of one attention call on .npy files (lesson 4's `mha forward`, and
// lesson 6's `mha backward`): the options that name them, and every file loaded
// and checked before anything is computed.
//
// The file reads from top to bottom, as a subcommand uses it:
//   1. the options           (declared on CLI11)
//   2. loading and checking  (the parameters, the query, key and value, the masks)
//   3. writing               (the results, in the query's dtype)
#include "cli/attention_inputs.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cli/command_line.hpp"
#include "cli/npy_inputs.hpp"
#include "io/parameter_files.hpp"

namespace mha::cli {

namespace fs = std::filesystem;

// ============================================================================
// 1. The options
// ============================================================================

void add_attention_input_options(CLI::App& command, AttentionInputOptions& options) {
    add_path_option(command, "--weights", "DIR", options.weights_dir)->required();
    add_whole_number_option(command, "--num-heads", "H", options.num_heads)->required();
    add_path_option(command, "--query", "Q.npy", options.query_path)->required();
    add_path_option(command, "--key", "K.npy", options.key_path);
    add_path_option(command, "--value", "V.npy", options.value_path);
    add_path_option(command, "--attn-mask", "M.npy", options.attn_mask_path);
    add_path_option(command, "--key-padding-mask", "P.npy", options.key_padding_mask_path);
    add_flag_option(command, "--causal", options.causal);
}

// ============================================================================
// 2. Loading and checking
// ============================================================================

mha::Tensor3 as_batch(const xt::xarray<double>& values) {
    const auto shape = shape_of(values);
    mha::Tensor3 batch = xt::zeros<double>(shape.size() == 3
                                               ? std::array<std::size_t, 3>{shape[0], shape[1], shape[2]}
                                               : std::array<std::size_t, 3>{1, shape[0], shape[1]});
    std::copy(values.data(), values.data() + values.size(), batch.data());  // both row-major
    return batch;
}

std::string shape_as_given(const mha::Tensor3& tensor, bool batched) {
    const std::vector<std::size_t> shape(tensor.shape().begin() + (batched ? 0 : 1), tensor.shape().end());
    return numpy_shape_string(shape);
}

namespace {

mha::MultiHeadAttention load_module(const AttentionInputOptions& options) {
    std::error_code error;
    if (!fs::is_directory(options.weights_dir, error)) {
        fail(options.weights_dir, fs::exists(options.weights_dir, error)
                                      ? "is not a folder; --weights needs the folder of the parameter files"
                                      : "no such folder (--weights)");
    }
    mha::MultiHeadAttention module;
    try {
        // Its runtime_errors start with the file at fault; they pass through to main.
        module = mha::load_parameters(options.weights_dir, options.num_heads);
    } catch (const std::invalid_argument& error) {
        // The only way loaded parameters can disagree with H: E is not divisible by it.
        std::string what = error.what();
        what = what.substr(what.find(": ") == std::string::npos ? 0 : what.find(": ") + 2);
        fail("--num-heads", what + "; H must divide E, so that every head gets E / H columns");
    }
    const std::pair<const mha::Linear*, const char*> projections[] = {{&module.query_projection, "query"},
                                                                      {&module.key_projection, "key"},
                                                                      {&module.value_projection, "value"},
                                                                      {&module.output_projection, "output"}};
    const auto finite = [](double x) { return std::isfinite(x); };
    for (const auto& [projection, name] : projections) {
        if (!std::all_of(projection->weight.begin(), projection->weight.end(), finite) ||
            !std::all_of(projection->bias.begin(), projection->bias.end(), finite)) {
            fail(options.weights_dir, std::string("the ") + name + " projection holds NaN or infinity");
        }
    }
    return module;
}

// attn_mask: (L, S), the same for every batch entry and head, or (B·H, L, S).
mha::AttentionMask load_attention_mask(const std::string& path, std::size_t B, std::size_t H, std::size_t L,
                                       std::size_t S, bool batched) {
    const mha::NpyArray mask = read_mask(path, "--attn-mask");
    const auto shape = shape_of(mask.values);
    const bool fits = (shape.size() == 2 && shape[0] == L && shape[1] == S) ||
                      (shape.size() == 3 && shape[0] == B * H && shape[1] == L && shape[2] == S);
    if (!fits) {
        fail(path, "has shape " + numpy_shape_string(shape) + " but --attn-mask must be (L, S) = " +
                       numpy_shape_string({L, S}) + " or (" + (batched ? "B·H" : "H") +
                       ", L, S) = " + numpy_shape_string({B * H, L, S}));
    }
    const bool is_bool = mask.type == mha::NpyType::boolean;
    if (shape.size() == 2) {
        return is_bool ? mha::AttentionMask(mha::BoolMatrix(xt::not_equal(mask.values, 0.0)))
                       : mha::AttentionMask(mha::Matrix(mask.values));
    }
    return is_bool ? mha::AttentionMask(mha::BoolTensor3(xt::not_equal(mask.values, 0.0)))
                   : mha::AttentionMask(mha::Tensor3(mask.values));
}

// key_padding_mask: (B, S), one row of keys per batch entry, or (S) for unbatched input.
mha::KeyPaddingMask load_key_padding_mask(const std::string& path, std::size_t B, std::size_t S, bool batched) {
    const mha::NpyArray mask = read_mask(path, "--key-padding-mask");
    const auto shape = shape_of(mask.values);
    const std::vector<std::size_t> expected = batched ? std::vector<std::size_t>{B, S} : std::vector<std::size_t>{S};
    if (shape != expected) {
        fail(path, "has shape " + numpy_shape_string(shape) + " but --key-padding-mask must be " +
                       (batched ? "(B, S) = " : "(S) = ") + numpy_shape_string(expected) +
                       (batched ? "" : ", because the query is unbatched"));
    }
    mha::Matrix rows = xt::zeros<double>({B, S});  // (B, S); B = 1 for unbatched input
    std::copy(mask.values.data(), mask.values.data() + mask.values.size(), rows.data());
    return mask.type == mha::NpyType::boolean ? mha::KeyPaddingMask(mha::BoolMatrix(xt::not_equal(rows, 0.0)))
                                              : mha::KeyPaddingMask(rows);
}

}  // namespace

AttentionInputs load_attention_inputs(const AttentionInputOptions& options) {
    AttentionInputs inputs;
    inputs.module = load_module(options);
    const std::size_t E = inputs.module.embed_dim(), H = options.num_heads;

    // ---- The query fixes B and L, and whether the input is batched ----
    const xt::xarray<double> query = read_sequences(options.query_path, "--query", std::nullopt, &inputs.output_type);
    inputs.batched = query.dimension() == 3;
    if (query.shape(query.dimension() - 1) != E) {
        fail(options.query_path, "has shape " + numpy_shape_string(shape_of(query)) +
                                     " but its last axis must be E = " + std::to_string(E) +
                                     ", the embed_dim of the weights in " + options.weights_dir);
    }
    inputs.query = as_batch(query);
    const std::size_t B = inputs.query.shape(0), L = inputs.query.shape(1);

    // ---- Key and value: the same B as the query, the same S as each other ----
    const std::string key_path = options.key_path.value_or(options.query_path);
    const std::string value_path = options.value_path.value_or(options.query_path);
    inputs.key = options.key_path ? as_batch(read_sequences(key_path, "--key", inputs.batched)) : inputs.query;
    inputs.value = options.value_path ? as_batch(read_sequences(value_path, "--value", inputs.batched)) : inputs.query;
    const std::size_t S = inputs.key.shape(1);
    const auto described = [&](const mha::Tensor3& tensor) { return shape_as_given(tensor, inputs.batched); };
    if (inputs.key.shape(0) != B) {
        fail(key_path, "has shape " + described(inputs.key) + " but the query " + described(inputs.query) +
                           " has B = " + std::to_string(B) + " sequences; --key must have as many");
    }
    if (inputs.value.shape(0) != B || inputs.value.shape(1) != S) {
        const std::string rule = std::string("key and value must have the same number of ") +
                                 (inputs.batched ? "sequences B and " : "") + "positions S";
        if (options.value_path) {
            fail(value_path, "has shape " + described(inputs.value) + " but --key " + key_path + " has shape " +
                                 described(inputs.key) + "; " + rule);
        }
        fail("--value", "missing, so the value is the query " + value_path + ", of shape " + described(inputs.value) +
                            ", which does not fit --key " + key_path + ", of shape " + described(inputs.key) + "; " +
                            rule + ": give --value V.npy");
    }
    if (inputs.key.shape(2) != inputs.module.kdim()) {
        fail(key_path, "has shape " + described(inputs.key) + " but its last axis must be kdim = " +
                           std::to_string(inputs.module.kdim()) + ", the width of the key projection in " +
                           options.weights_dir + (options.key_path ? "" : " (--key defaults to the query)"));
    }
    if (inputs.value.shape(2) != inputs.module.vdim()) {
        fail(value_path, "has shape " + described(inputs.value) + " but its last axis must be vdim = " +
                             std::to_string(inputs.module.vdim()) + ", the width of the value projection in " +
                             options.weights_dir + (options.value_path ? "" : " (--value defaults to the query)"));
    }

    // ---- The masks ----
    if (options.attn_mask_path) {
        inputs.masks.attention_mask = load_attention_mask(*options.attn_mask_path, B, H, L, S, inputs.batched);
    }
    if (options.key_padding_mask_path) {
        inputs.masks.key_padding_mask = load_key_padding_mask(*options.key_padding_mask_path, B, S, inputs.batched);
    }
    inputs.masks.causal = options.causal;
    return inputs;
}

void check_destination(const std::string& path, const std::string& option) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
        fail(path, "is a folder; " + option + " needs a file name, such as " + (fs::path(path) / "out.npy").string());
    }
    const fs::path folder = fs::path(path).parent_path();
    if (!folder.empty() && !fs::is_directory(folder, error)) {
        fail(path, "cannot be written (" + option + "): " + folder.string() +
                       (fs::exists(folder, error) ? " is not a folder" : " does not exist"));
    }
}

// ============================================================================
// 3. Writing
// ============================================================================

xt::xarray<double> without_batch_axis(const xt::xarray<double>& values) {
    const auto shape = shape_of(values);
    xt::xarray<double> result = xt::zeros<double>(std::vector<std::size_t>(shape.begin() + 1, shape.end()));
    std::copy(values.data(), values.data() + values.size(), result.data());  // both row-major
    return result;
}

void write_result(const std::string& command, const std::string& path, const std::string& option,
                  const xt::xarray<double>& values, mha::NpyType type) {
    try {
        mha::write_npy(path, values, type);
    } catch (const std::runtime_error&) {
        fail(path, "cannot be written (" + option + "); check that its folder exists and that you may write there");
    }
    std::cout << "mha " << command << ": wrote " << path << ", " << numpy_shape_string(shape_of(values)) << " "
              << mha::npy_type_name(type) << "\n";
}

}  // namespace mha::cli
