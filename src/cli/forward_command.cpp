// `mha forward` (lesson 4): parameters exported from PyTorch
// (scripts/export_pytorch_mha.py) and inputs as .npy files, one call to
// mha::MultiHeadAttention::forward, the result written back as .npy.
//
// The file reads from top to bottom, as the command runs:
//   1. the options           (declared on CLI11, then checked together)
//   2. loading and checking  (every file, before anything is computed: attention_inputs.cpp)
//   3. computing             (one call to MultiHeadAttention::forward)
//   4. writing               (the output and, if asked, the weights)
#include "cli/forward_command.hpp"

#include <filesystem>
#include <stdexcept>
#include <string>

#include <xtensor/xarray.hpp>

#include "cli/command_line.hpp"
#include "reference/multi_head_attention.hpp"

namespace mha::cli {

namespace fs = std::filesystem;

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
    return forward;
}

namespace {

// What CLI11 cannot check: options that only make sense together.
void check_options_together(const ForwardOptions& options) {
    if (options.average_weights && !options.weights_out_path) {
        fail("--average-weights", "has no effect without --weights-out W.npy; give both, or neither");
    }
    if (options.weights_out_path &&
        fs::path(*options.weights_out_path).lexically_normal() == fs::path(options.out_path).lexically_normal()) {
        fail("--weights-out",
             "'" + *options.weights_out_path + "' is also --out; the weights would overwrite the output");
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

void write_outputs(const ForwardOptions& options, const AttentionInputs& inputs,
                   const mha::MultiHeadAttentionResult& result) {
    // The output: the query's shape, (B, L, E) or (L, E).
    const xt::xarray<double> output = result.output;  // (B, L, E)
    write_result("forward", options.out_path, "--out", inputs.batched ? output : without_batch_axis(output),
                 inputs.output_type);

    // The weights: (B, H, L, S), or averaged over the heads (B, L, S); without B when unbatched.
    if (options.weights_out_path) {
        const xt::xarray<double> weights = options.average_weights
                                               ? xt::xarray<double>(mha::average_over_heads(result.weights))
                                               : xt::xarray<double>(result.weights);
        write_result("forward", *options.weights_out_path, "--weights-out",
                     inputs.batched ? weights : without_batch_axis(weights), inputs.output_type);
    }
}

}  // namespace

void run_forward(const ForwardOptions& options) {
    check_options_together(options);                                     // 1
    const AttentionInputs inputs = load_attention_inputs(options.inputs);  // 2
    check_destination(options.out_path, "--out");
    if (options.weights_out_path) {
        check_destination(*options.weights_out_path, "--weights-out");
    }
    const mha::MultiHeadAttentionResult result = compute(inputs, options.inputs.query_path);  // 3
    write_outputs(options, inputs, result);                                                    // 4
}

}  // namespace mha::cli
