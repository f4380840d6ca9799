// The inputs of one attention call on .npy files (lesson 4's `mha forward`, and
// lesson 6's `mha backward`): the options that name them, and every file loaded
// and checked before anything is computed.
//
// The file reads from top to bottom, as a subcommand uses it:
//   1. the options           (declared on CLI11)
//   2. loading and checking  (the parameters, the query, key and value, the masks)
//   3. writing               (the results, in the query's dtype)
#include "cli/attention_inputs.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cli/command_line.hpp"
#include "cli/npy_inputs.hpp"
#include "io/file_status.hpp"
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

// A number in 6 significant digits, such as 1e+308 or 9.15927e+38.
std::string short_number(double x) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", x);
    return text;
}

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

// Both masks are added to the scores: attn_mask[·, i, j] + key_padding_mask[b, j]. Two huge
// finite values (1e308 each) would add up to +inf, which attention refuses; say so here,
// naming both files, rather than blaming the query later. -inf and the causal mask's -inf
// only ever remove a key, so only the largest finite values that meet need checking.
void check_masks_add_up(const mha::AttentionMasks& masks, const std::string& attn_mask_path,
                        const std::string& key_padding_mask_path, std::size_t B, std::size_t H, std::size_t L,
                        std::size_t S, bool batched) {
    const mha::Tensor3& attention = masks.attention_mask->additive();  // (1 or B·H, L, S)
    const mha::Matrix& padding = masks.key_padding_mask->additive();    // (B, S)
    const bool per_head = masks.attention_mask->per_head();
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t j = 0; j < S; ++j) {
            const double pad = padding(b, j);
            if (!std::isfinite(pad)) {
                continue;
            }
            for (std::size_t index = per_head ? b * H : 0; index < (per_head ? (b + 1) * H : 1); ++index) {
                for (std::size_t i = masks.causal ? std::min(j, L) : 0; i < L; ++i) {  // causal: keys j <= i
                    const double added = attention(index, i, j);
                    if (std::isfinite(added) && !std::isfinite(added + pad)) {
                        const std::string where = per_head ? numpy_shape_string({index, i, j})
                                                           : numpy_shape_string({i, j});
                        fail(key_padding_mask_path,
                             "holds " + short_number(pad) + " at index " +
                                 numpy_shape_string(batched ? std::vector<std::size_t>{b, j}
                                                            : std::vector<std::size_t>{j}) +
                                 ", which added to the " + short_number(added) + " at index " + where +
                                 " of --attn-mask " + attn_mask_path +
                                 " overflows to infinity; the masks must add up to finite numbers or -inf");
                    }
                }
            }
        }
    }
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
    if (options.attn_mask_path && options.key_padding_mask_path) {
        check_masks_add_up(inputs.masks, *options.attn_mask_path, *options.key_padding_mask_path, B, H, L, S,
                           inputs.batched);
    }
    return inputs;
}

std::vector<NamedFile> input_files(const AttentionInputOptions& options) {
    std::vector<NamedFile> files;
    for (const char* name : {"in_proj_weight.npy", "q_proj_weight.npy", "k_proj_weight.npy", "v_proj_weight.npy",
                             "in_proj_bias.npy", "out_proj.weight.npy", "out_proj.bias.npy"}) {
        const std::string path = (fs::path(options.weights_dir) / name).string();
        if (mha::path_exists(path)) {
            files.push_back({path, "--weights"});
        }
    }
    files.push_back({options.query_path, "--query"});
    const std::pair<const std::optional<std::string>*, const char*> optional_files[] = {
        {&options.key_path, "--key"},
        {&options.value_path, "--value"},
        {&options.attn_mask_path, "--attn-mask"},
        {&options.key_padding_mask_path, "--key-padding-mask"}};
    for (const auto& [path, option] : optional_files) {
        if (*path) {
            files.push_back({**path, option});
        }
    }
    return files;
}

void check_destination(const std::string& path, const std::string& option) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
        fail(path, "is a folder; " + option + " needs a file name, such as " + (fs::path(path) / "out.npy").string());
    }
    const std::string kind = mha::file_kind(path);
    if (kind != "missing" && kind != "a regular file") {
        fail(path, "cannot be written (" + option + "): it is " + kind +
                       ", not a regular file; an output must be a regular file or a new one");
    }
    const fs::path folder = fs::path(path).parent_path();
    if (!folder.empty() && !fs::is_directory(folder, error)) {
        fail(path, "cannot be written (" + option + "): " + folder.string() +
                       (fs::exists(folder, error) ? " is not a folder" : " does not exist"));
    }
    const std::string writable_folder = folder.empty() ? "." : folder.string();
    if (::access(writable_folder.c_str(), W_OK | X_OK) != 0) {
        fail(path, "cannot be written (" + option + "): permission denied in the folder " + writable_folder);
    }
}

void check_outputs_are_not_inputs(const std::vector<NamedFile>& inputs, const std::vector<NamedFile>& outputs) {
    std::vector<std::pair<mha::FileIdentity, const NamedFile*>> seen;
    for (const NamedFile& input : inputs) {
        seen.emplace_back(mha::file_identity(input.path), &input);
    }
    const std::size_t input_count = seen.size();
    for (const NamedFile& output : outputs) {
        const mha::FileIdentity identity = mha::file_identity(output.path);
        for (std::size_t k = 0; k < seen.size(); ++k) {
            const NamedFile& other = *seen[k].second;
            if (seen[k].first == identity) {
                fail(output.option, "'" + output.path + "' is the same file as " + other.option + " (" + other.path +
                                        (k < input_count ? "); an output may not overwrite an input"
                                                         : "); the two outputs would overwrite each other"));
            }
        }
        seen.emplace_back(identity, &output);
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

void check_finite_result(const xt::xarray<double>& values, mha::NpyType type, const NamedFile& output,
                         const std::string& what) {
    // Beyond the largest float32 by half its last unit, a double rounds to infinity in float32.
    const double overflow = static_cast<double>(std::numeric_limits<float>::max()) + 0x1p103;
    const bool as_float32 = type == mha::NpyType::float32;
    const std::vector<std::size_t> shape = shape_of(values);
    for (std::size_t i = 0; i < values.size(); ++i) {
        const double x = values.data()[i];
        const bool finite = std::isfinite(x) && !(as_float32 && std::abs(x) >= overflow);
        if (!finite) {
            const std::string index = numpy_shape_string(mha::unravel_index(i, shape));
            const std::string value = std::isnan(x) ? "nan" : x > 0 ? "+inf" : "-inf";
            fail(output.option,
                 what + " would hold " + value + " at index " + index +
                     (std::isfinite(x) ? " in float32, the query's dtype (it is " + short_number(x) +
                                             " in float64; the largest float32 is 3.4e+38)"
                                       : " (an overflow in float64)") +
                     ": the inputs are too large for this computation; nothing was written");
        }
    }
}

void stage_result(mha::OutputFiles& outputs, const NamedFile& output, const xt::xarray<double>& values,
                  mha::NpyType type) {
    try {
        mha::write_npy(outputs.add(output.path), values, type);
    } catch (const std::runtime_error& error) {
        // The library's message starts with a path already: the output's, or a temporary file next to it.
        std::string what = error.what();
        const std::size_t colon = what.find(": ");
        what = colon == std::string::npos ? what : what.substr(colon + 2);
        fail(output.path, what + " (" + output.option + "); nothing was written");
    }
}

void report_written(const std::string& command, const std::string& path, const xt::xarray<double>& values,
                    mha::NpyType type) {
    std::cout << "mha " << command << ": wrote " << path << ", " << numpy_shape_string(shape_of(values)) << " "
              << mha::npy_type_name(type) << "\n";
}

}  // namespace mha::cli
