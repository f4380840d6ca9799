// `mha backward` (lesson 6): `mha forward`'s inputs and a gradient of the output,
// dY = dL/doutput, one call to mha::multi_head_attention_backward, and every
// gradient written back as .npy, the parameters' under PyTorch's names.
//
// The file reads from top to bottom, as the command runs:
//   1. the options           (declared on CLI11, then checked together)
//   2. loading and checking  (every file, as `mha forward` does, then dY; then the outputs:
//                             a folder, and none of its files an input)
//   3. computing             (one call to multi_head_attention_backward)
//   4. writing               (the three inputs' gradients, then the parameters': all or nothing)
#include "cli/backward_command.hpp"

#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xarray.hpp>

#include "cli/command_line.hpp"
#include "cli/npy_inputs.hpp"
#include "core/tensor.hpp"
#include "io/file_status.hpp"
#include "io/npy_file.hpp"
#include "io/output_files.hpp"
#include "io/parameter_files.hpp"
#include "train/multi_head_attention_backward.hpp"

namespace mha::cli {

namespace fs = std::filesystem;

// ============================================================================
// 1. The options
// ============================================================================

CLI::App& add_backward_command(CLI::App& program, BackwardOptions& options) {
    CLI::App& backward =
        *program.add_subcommand("backward", "lesson 6's gradients of multi-head attention on .npy files");
    add_help_flag(backward);
    add_attention_input_options(backward, options.inputs);  // --weights ... --causal, as `mha forward` has them
    add_path_option(backward, "--grad-output", "DY.npy", options.grad_output_path)->required();
    add_path_option(backward, "--grads-out", "DIR", options.grads_out_dir)->required();
    return backward;
}

namespace {

// The same folder, whether or not it exists yet, however it is written.
bool same_folder(const std::string& a, const std::string& b) {
    std::error_code error;
    if (fs::exists(a, error) && fs::exists(b, error)) {
        return fs::equivalent(a, b, error);
    }
    return fs::path(a).lexically_normal() == fs::path(b).lexically_normal();
}

// What CLI11 cannot check: the gradients must not overwrite the parameters,
// since they have the same file names.
void check_options_together(const BackwardOptions& options) {
    if (same_folder(options.grads_out_dir, options.inputs.weights_dir)) {
        fail("--grads-out", "'" + options.grads_out_dir +
                                "' is also --weights; the gradients, named like the parameters, would overwrite them");
    }
}

// ============================================================================
// 2. Loading and checking
// ============================================================================

// dY = dL/doutput: the output's shape, which is the query's, (B, L, E) or (L, E);
// returned as (B, L, E), B = 1 for unbatched input.
mha::Tensor3 load_grad_output(const BackwardOptions& options, const AttentionInputs& inputs) {
    const std::vector<std::size_t> shape(inputs.query.shape().begin() + (inputs.batched ? 0 : 1),
                                         inputs.query.shape().end());  // the query's shape, as given
    return as_batch(read_floats_of_shape(options.grad_output_path, "--grad-output", shape,
                                         std::string("the output's shape, which is the query's ") +
                                             (inputs.batched ? "(B, L, E)" : "(L, E)")));
}

// The files this run writes into --grads-out, each with the array it will hold: the three
// inputs' gradients, then the parameters' under their PyTorch names (mha::parameter_arrays).
std::vector<std::pair<NamedFile, xt::xarray<double>>> gradient_files(const BackwardOptions& options,
                                                                     const AttentionInputs& inputs,
                                                                     const mha::MultiHeadAttentionGradients& gradients) {
    std::vector<std::pair<NamedFile, xt::xarray<double>>> files;
    const auto add = [&](const std::string& name, const xt::xarray<double>& values) {
        files.emplace_back(NamedFile{(fs::path(options.grads_out_dir) / name).string(), "--grads-out"}, values);
    };
    // The three inputs' gradients, each of its input's shape: (B, L, E), (B, S, kdim),
    // (B, S, vdim); without B when unbatched.
    const std::pair<const char*, const mha::Tensor3*> input_gradients[] = {
        {"query.grad.npy", &gradients.query}, {"key.grad.npy", &gradients.key}, {"value.grad.npy", &gradients.value}};
    for (const auto& [name, gradient] : input_gradients) {
        const xt::xarray<double> values = *gradient;
        add(name, inputs.batched ? values : without_batch_axis(values));
    }
    for (const auto& [name, values] : mha::parameter_arrays(gradients.parameters)) {
        add(name, values);
    }
    return files;
}

// Before anything is computed: --grads-out must be a folder or a new one, and no file
// to be written in it may be an input (say, --query grads/query.grad.npy).
void check_outputs(const BackwardOptions& options, const AttentionInputs& inputs) {
    const std::string& folder = options.grads_out_dir;
    const std::string kind = mha::file_kind(folder);
    if (kind != "missing" && kind != "a folder") {
        fail(folder, "is " + kind + ", not a folder; --grads-out needs a folder to write the gradients into");
    }
    // The folder, or the nearest one above it that exists (where it would be created), must be writable.
    fs::path writable = fs::path(folder).lexically_normal();
    while (!writable.empty() && !mha::path_exists(writable.string()) && writable != writable.parent_path()) {
        writable = writable.parent_path();
    }
    const std::string checked = writable.empty() ? "." : writable.string();
    if (::access(checked.c_str(), W_OK | X_OK) != 0) {
        fail(folder, "cannot be written (--grads-out): permission denied in the folder " + checked);
    }
    // The names of the files the gradients get are known before they are computed:
    // a module of the parameters' shapes names them as the gradients' module will.
    const mha::MultiHeadAttentionGradients shapes_only{inputs.query, inputs.key, inputs.value, inputs.module};
    std::vector<NamedFile> outputs;
    for (const auto& [output, values] : gradient_files(options, inputs, shapes_only)) {
        outputs.push_back(output);
        const std::string output_kind = mha::file_kind(output.path);
        if (output_kind != "missing" && output_kind != "a regular file") {
            fail(output.path, "cannot be written (--grads-out): it is " + output_kind + ", not a regular file");
        }
    }
    std::vector<NamedFile> inputs_read = input_files(options.inputs);
    inputs_read.push_back({options.grad_output_path, "--grad-output"});
    check_outputs_are_not_inputs(inputs_read, outputs);
}

// ============================================================================
// 3. Computing
// ============================================================================

// Every gradient, in double. load_attention_inputs and load_grad_output have
// checked every shape, so the library's own checks pass; should one fail anyway,
// it is reported against the query, as `mha forward` does.
mha::MultiHeadAttentionGradients compute(const AttentionInputs& inputs, const mha::Tensor3& grad_output,
                                         const std::string& query_path) {
    try {
        return mha::multi_head_attention_backward(inputs.module, inputs.query, inputs.key, inputs.value,
                                                  inputs.masks, grad_output);
    } catch (const std::invalid_argument& error) {
        fail(query_path, "the gradients could not be computed: " + std::string(error.what()));
    }
}

// ============================================================================
// 4. Writing
// ============================================================================

// Every gradient, in the query's dtype: all written, checked and renamed into place
// together, or none (mha::OutputFiles; a --grads-out folder it created is removed again).
void write_gradients(const BackwardOptions& options, const AttentionInputs& inputs,
                     const mha::MultiHeadAttentionGradients& gradients) {
    const auto files = gradient_files(options, inputs, gradients);
    for (const auto& [output, values] : files) {
        check_finite_result(values, inputs.output_type, output,
                            "the gradient " + fs::path(output.path).filename().string());
    }
    mha::OutputFiles outputs;
    try {
        outputs.create_folder(options.grads_out_dir);
    } catch (const std::runtime_error& error) {
        fail("--grads-out", error.what());
    }
    for (const auto& [output, values] : files) {
        stage_result(outputs, output, values, inputs.output_type);
    }
    outputs.commit();
    for (const auto& [output, values] : files) {
        report_written("backward", output.path, values, inputs.output_type);
    }
}

}  // namespace

void run_backward(const BackwardOptions& options) {
    check_options_together(options);                                       // 1
    const AttentionInputs inputs = load_attention_inputs(options.inputs);  // 2
    const mha::Tensor3 grad_output = load_grad_output(options, inputs);    // (B, L, E)
    check_outputs(options, inputs);
    const mha::MultiHeadAttentionGradients gradients =
        compute(inputs, grad_output, options.inputs.query_path);  // 3
    write_gradients(options, inputs, gradients);                  // 4
}

}  // namespace mha::cli
