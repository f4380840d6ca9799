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
#include "cli/forward_command.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "cli/command_line.hpp"
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
void write_outputs(const ForwardOptions& options, const AttentionInputs& inputs,
                   const mha::MultiHeadAttentionResult& result) {
    // The output: the query's shape, (B, L, E) or (L, E).
    const xt::xarray<double> output_batch = result.output;  // (B, L, E)
    std::vector<std::pair<NamedFile, xt::xarray<double>>> results;
    results.emplace_back(NamedFile{options.out_path, "--out"},
                         inputs.batched ? output_batch : without_batch_axis(output_batch));

    // The weights: (B, H, L, S), or averaged over the heads (B, L, S); without B when unbatched.
    if (options.weights_out_path) {
        const xt::xarray<double> weights = options.average_weights
                                               ? xt::xarray<double>(mha::average_over_heads(result.weights))
                                               : xt::xarray<double>(result.weights);
        results.emplace_back(NamedFile{*options.weights_out_path, "--weights-out"},
                             inputs.batched ? weights : without_batch_axis(weights));
    }
    const char* names[] = {"the output", "the attention weights"};
    for (std::size_t i = 0; i < results.size(); ++i) {
        check_finite_result(results[i].second, inputs.output_type, results[i].first, names[i]);
    }

    mha::OutputFiles files;  // removes every temporary file if anything below fails
    for (const auto& [output, values] : results) {
        stage_result(files, output, values, inputs.output_type);
    }
    files.commit();
    for (const auto& [output, values] : results) {
        report_written("forward", output.path, values, inputs.output_type);
    }
}

}  // namespace

void run_forward(const ForwardOptions& options) {
    check_options_together(options);                                     // 1
    const AttentionInputs inputs = load_attention_inputs(options.inputs);  // 2
    check_outputs(options);
    const mha::MultiHeadAttentionResult result = compute(inputs, options.inputs.query_path);  // 3
    write_outputs(options, inputs, result);                                                    // 4
}

}  // namespace mha::cli
