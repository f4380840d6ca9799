// `mha forward` (lesson 4): parameters exported from PyTorch
// (scripts/export_pytorch_mha.py) and inputs as .npy files, one call to
// mha::MultiHeadAttention::forward, the result written back as .npy.
//
// The file reads from top to bottom, as the command runs:
//   1. the options           (declared on CLI11, then checked together)
//   2. loading and checking  (every file, before anything is computed: attention_inputs.cpp;
//                             then the outputs: writable, and none of them an input)
//   3. computing             (one call to MultiHeadAttention::forward)
//   4. writing               (the output and, if asked, the weights: all or nothing)
// With --num-kv-heads G ≠ H (lesson 7), steps 2 and 3 load grouped-query attention
// instead (section 5) and run GroupedQueryAttention::forward; step 4 is the same.
#include "cli/forward_command.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "cli/command_line.hpp"
#include "cli/npy_inputs.hpp"
#include "decode/grouped_query_attention.hpp"
#include "io/file_status.hpp"
#include "io/grouped_parameter_files.hpp"
#include "io/output_files.hpp"
#include "reference/multi_head_attention.hpp"

namespace mha::cli {

// ============================================================================
// 1. The options
// ============================================================================

CLI::App& add_forward_command(CLI::App& program, ForwardOptions& options) {
    CLI::App& forward = *program.add_subcommand("forward", "lesson 4's multi-head attention on .npy files");
    add_help_flag(forward);
    add_attention_input_options(forward, options.inputs);  // --weights ... --causal, as `mha backward` has them
    add_path_option(forward, "--out", "OUT.npy", options.out_path)->required();
    add_path_option(forward, "--weights-out", "W.npy", options.weights_out_path);
    add_flag_option(forward, "--average-weights", options.average_weights);
    add_whole_number_option(forward, "--num-kv-heads", "G", options.num_kv_heads);  // lesson 7
    return forward;
}

namespace {

// What CLI11 cannot check: options that only make sense together.
void check_options_together(const ForwardOptions& options) {
    if (options.average_weights && !options.weights_out_path) {
        fail("--average-weights", "has no effect without --weights-out W.npy; give both, or neither");
    }
}

// The files this run writes: --out, and --weights-out if given.
std::vector<NamedFile> output_files(const ForwardOptions& options) {
    std::vector<NamedFile> outputs = {{options.out_path, "--out"}};
    if (options.weights_out_path) {
        outputs.push_back({*options.weights_out_path, "--weights-out"});
    }
    return outputs;
}

// ============================================================================
// 2. Checking the outputs, before anything is computed
// ============================================================================

// Each output must be a file that can be written, and none may be an input or another output.
void check_outputs(const ForwardOptions& options) {
    const std::vector<NamedFile> outputs = output_files(options);
    check_outputs_are_not_inputs(input_files(options.inputs), outputs);
    for (const NamedFile& output : outputs) {
        check_destination(output.path, output.option);
    }
}

// ============================================================================
// 3. Computing
// ============================================================================

// One forward pass. load_attention_inputs has checked every shape and value, so
// forward's own checks pass; should one fail anyway (say, a projection overflowing
// to infinity), it is reported against the query.
mha::MultiHeadAttentionResult compute(const AttentionInputs& inputs, const std::string& query_path) {
    try {
        return inputs.module.forward(inputs.query, inputs.key, inputs.value, inputs.masks);
    } catch (const std::invalid_argument& error) {
        fail(query_path, "attention could not be computed: " + std::string(error.what()));
    }
}

// ============================================================================
// 4. Writing
// ============================================================================

// The output and the weights, in the query's dtype: both written, checked and renamed
// into place together, or neither (mha::OutputFiles), and only then reported on stdout.
void write_outputs(const ForwardOptions& options, bool batched, mha::NpyType output_type,
                   const mha::MultiHeadAttentionResult& result) {
    // The output: the query's shape, (B, L, E) or (L, E).
    const xt::xarray<double> output_batch = result.output;  // (B, L, E)
    std::vector<std::pair<NamedFile, xt::xarray<double>>> results;
    results.emplace_back(NamedFile{options.out_path, "--out"},
                         batched ? output_batch : without_batch_axis(output_batch));

    // The weights: (B, H, L, S), or averaged over the heads (B, L, S); without B when unbatched.
    if (options.weights_out_path) {
        const xt::xarray<double> weights = options.average_weights
                                               ? xt::xarray<double>(mha::average_over_heads(result.weights))
                                               : xt::xarray<double>(result.weights);
        results.emplace_back(NamedFile{*options.weights_out_path, "--weights-out"},
                             batched ? weights : without_batch_axis(weights));
    }
    const char* names[] = {"the output", "the attention weights"};
    for (std::size_t i = 0; i < results.size(); ++i) {
        check_finite_result(results[i].second, output_type, results[i].first, names[i]);
    }

    mha::OutputFiles files;  // removes every temporary file if anything below fails
    for (const auto& [output, values] : results) {
        stage_result(files, output, values, output_type);
    }
    files.commit();
    for (const auto& [output, values] : results) {
        report_written("forward", output.path, values, output_type);
    }
}

// ============================================================================
// 5. Grouped-query attention (lesson 7): --num-kv-heads G with G ≠ H
// ============================================================================

// G must divide H, and grouped-query attention here is self-attention with --causal
// as its only mask: say so before any file is read.
void check_grouped_options(const ForwardOptions& options) {
    const std::size_t H = options.inputs.num_heads, G = options.num_kv_heads;
    if (H % G != 0) {
        fail("--num-kv-heads", "G = " + std::to_string(G) + " does not divide --num-heads H = " + std::to_string(H) +
                                   "; each key/value head serves H / G query heads");
    }
    const std::pair<const std::optional<std::string>*, const char*> unsupported[] = {
        {&options.inputs.key_path, "--key"},
        {&options.inputs.value_path, "--value"},
        {&options.inputs.attn_mask_path, "--attn-mask"},
        {&options.inputs.key_padding_mask_path, "--key-padding-mask"}};
    for (const auto& [path, option] : unsupported) {
        if (*path) {
            fail(option, std::string("cannot be used with --num-kv-heads G < H: grouped-query attention here is "
                                     "self-attention of --query, with --causal as its only mask"));
        }
    }
}

// The parameters of grouped-query attention, finite and of shapes that fit E, H and G.
mha::GroupedQueryAttention load_grouped_module(const ForwardOptions& options) {
    namespace fs = std::filesystem;
    const std::string& folder = options.inputs.weights_dir;
    std::error_code error;
    if (!fs::is_directory(folder, error)) {
        fail(folder, fs::exists(folder, error) ? "is not a folder; --weights needs the folder of the parameter files"
                                               : "no such folder (--weights)");
    }
    if (!mha::path_exists(folder + "/q_proj_weight.npy") && mha::path_exists(folder + "/in_proj_weight.npy")) {
        fail(folder, "holds in_proj_weight.npy, one key/value head per query head; with --num-kv-heads G < H the "
                     "folder needs q_proj_weight.npy (E, E), k_proj_weight.npy and v_proj_weight.npy (G·d_k, E)");
    }
    mha::GroupedQueryAttention module;
    try {
        // Its runtime_errors start with the file at fault (a shape that does not fit G, say); they pass through to main.
        module = mha::load_grouped_query_parameters(folder, options.inputs.num_heads, options.num_kv_heads);
    } catch (const std::invalid_argument& error) {
        std::string what = error.what();
        what = what.substr(what.find(": ") == std::string::npos ? 0 : what.find(": ") + 2);
        fail("--num-heads", what + "; H must divide E, so that every head gets E / H columns");
    }
    const auto finite = [](double x) { return std::isfinite(x); };
    for (const mha::Linear* projection : {&module.query_projection, &module.key_projection, &module.value_projection,
                                          &module.output_projection}) {
        if (!std::all_of(projection->weight.begin(), projection->weight.end(), finite) ||
            !std::all_of(projection->bias.begin(), projection->bias.end(), finite)) {
            fail(folder, "a projection holds NaN or infinity");
        }
    }
    return module;
}

void run_grouped_forward(const ForwardOptions& options) {
    check_grouped_options(options);
    const mha::GroupedQueryAttention module = load_grouped_module(options);  // 2
    mha::NpyType output_type = mha::NpyType::float64;
    const xt::xarray<double> query = read_sequences(options.inputs.query_path, "--query", std::nullopt, &output_type);
    const std::size_t E = module.embed_dim();
    if (query.shape(query.dimension() - 1) != E) {
        fail(options.inputs.query_path, "has shape " + numpy_shape_string(shape_of(query)) +
                                            " but its last axis must be E = " + std::to_string(E) +
                                            ", the embed_dim of the weights in " + options.inputs.weights_dir);
    }
    check_outputs(options);
    mha::MultiHeadAttentionResult result;  // 3
    try {
        result = module.forward(as_batch(query), options.inputs.causal);  // (B, L, E), (B, H, L, L)
    } catch (const std::invalid_argument& error) {
        fail(options.inputs.query_path, "attention could not be computed: " + std::string(error.what()));
    }
    write_outputs(options, query.dimension() == 3, output_type, result);  // 4
}

}  // namespace

void run_forward(const ForwardOptions& options) {
    check_options_together(options);  // 1
    if (options.num_kv_heads != 0 && options.num_kv_heads != options.inputs.num_heads) {
        run_grouped_forward(options);  // lesson 7
        return;
    }
    const AttentionInputs inputs = load_attention_inputs(options.inputs);  // 2
    check_outputs(options);
    const mha::MultiHeadAttentionResult result = compute(inputs, options.inputs.query_path);  // 3
    write_outputs(options, inputs.batched, inputs.output_type, result);                       // 4
}

}  // namespace mha::cli
