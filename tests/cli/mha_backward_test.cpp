// Tests of `mha backward` (src/cli/backward_command.cpp). Like the tests of
// `mha forward`, they run the real executable, whose path CMake passes in as
// MHA_COMMAND, on .npy files each test writes into its own temporary folder.
// The expected gradients never come from the library's backward pass:
//   - by hand: E = 1, H = 1 modules small enough to differentiate on paper;
//   - by central differences through the command itself: perturb a whole input
//     or parameter file x along a random direction D, run `mha forward` at
//     x + hD and x - hD, and compare (L(x + hD) - L(x - hD)) / 2h, where
//     L = sum(dY * output), with sum(gradient * D) from `mha backward`;
//   - by the command against itself: float32 against float64, unbatched
//     against a batch of one.
// Bad input must end as exit status 2 and one line naming the culprit.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "cli/command_runner.hpp"
#include "cli/npy_command_test.hpp"
#include "core/tensor.hpp"
#include "io/npy_file.hpp"

namespace {

namespace fs = std::filesystem;
using mha::testing::Array;
using mha::testing::arrays_near;
using mha::testing::contents;
using mha::testing::is_input_error;
using mha::testing::Outcome;
using mha::testing::Shape;
using mha::testing::shape_of;
using Arguments = std::vector<std::string>;

// An array of this shape holding these values, in row-major order.
Array filled(const Shape& shape, const std::vector<double>& values) {
    Array array = xt::zeros<double>(shape);
    EXPECT_EQ(array.size(), values.size());
    std::copy(values.begin(), values.end(), array.data());
    return array;
}

// The files `mha backward` writes for the three inputs.
const char* const input_gradient_files[] = {"query.grad.npy", "key.grad.npy", "value.grad.npy"};

class MhaBackward : public mha::testing::NpyCommandTest {
protected:
    // E = 8, H = 2 weights, a (B, L, E) = (2, 4, 8) float64 query and a dY of the
    // same shape: the arguments of a good `mha backward` run, which tests then spoil.
    Arguments self_attention_arguments() {
        make_weights(8, 2);
        return {"backward", "--weights", file("weights"), "--num-heads", "2",
                "--query", write("query.npy", random_array({2, 4, 8})),
                "--grad-output", write("dy.npy", random_array({2, 4, 8})), "--grads-out", file("grads")};
    }

    // Writes a module of E = 1, H = 1 by hand: W_q, W_k, W_v (as the packed (3, 1)
    // in_proj_weight), their biases, W_o and b_o.
    void write_scalar_weights(double wq, double wk, double wv, double bq, double bk, double bv, double wo,
                              double bo) {
        fs::create_directories(file("weights"));
        write("weights/in_proj_weight.npy", filled({3, 1}, {wq, wk, wv}));  // (3E, E)
        write("weights/in_proj_bias.npy", filled({3}, {bq, bk, bv}));       // (3E)
        write("weights/out_proj.weight.npy", filled({1, 1}, {wo}));          // (E, E)
        write("weights/out_proj.bias.npy", filled({1}, {bo}));               // (E)
    }

    // Runs the command and insists that it succeeded.
    void run_ok(const Arguments& arguments) {
        const Outcome run = run_mha(arguments);
        ASSERT_EQ(run.status, 0) << run.err;
        EXPECT_EQ(run.err, "");
    }

    // The gradient file `name` of the folder --grads-out.
    Array gradient(const std::string& name, mha::NpyType type = mha::NpyType::float64) {
        return read(file("grads/" + name), type);
    }

    // L = sum(dY * output) for one `mha forward` run with these arguments (float64 files).
    double loss(const Arguments& forward_arguments, const Array& dY) {
        const Outcome run = run_mha(with(forward_arguments, "--out", file("out.npy")));
        EXPECT_EQ(run.status, 0) << run.err;
        return xt::sum(dY * read(file("out.npy")))();
    }

    // (L(x + hD) - L(x - hD)) / 2h, where D is a direction of x's shape and
    // arguments_at(values) writes the values in place of x and returns the
    // arguments of the forward run that reads them.
    template <class ArgumentsAt>
    double directional_derivative(const Array& x, const Array& D, const Array& dY, ArgumentsAt arguments_at) {
        const double h = 1e-5;
        const double up = loss(arguments_at(Array(x + h * D)), dY);
        const double down = loss(arguments_at(Array(x - h * D)), dY);
        return (up - down) / (2 * h);
    }

    // Checks every gradient file of a finished `mha backward` run against central
    // differences of `mha forward` with the same inputs (forward_arguments, without
    // --out), one random direction per file. With self_attention, the query file is
    // also the key and the value, so its derivative is that of the sum of the three.
    void check_against_central_differences(const Arguments& forward_arguments, const Array& dY,
                                           bool self_attention) {
        // ---- The inputs: a perturbed copy of the file given to the option ----
        const auto input_at = [&](const std::string& option) {
            return [this, &forward_arguments, option](const Array& values) {
                mha::write_npy(file("perturbed.npy"), values, mha::NpyType::float64);
                return with(forward_arguments, option, file("perturbed.npy"));
            };
        };
        const std::string options[] = {"--query", "--key", "--value"};
        Array sum_of_input_gradients;
        for (std::size_t i = 0; i < 3; ++i) {
            const Array grad = gradient(input_gradient_files[i]);
            if (self_attention) {  // the three have the query's shape
                sum_of_input_gradients = i == 0 ? grad : Array(sum_of_input_gradients + grad);
            } else {
                SCOPED_TRACE(options[i]);
                const Array D = random_array(shape_of(grad));
                const Array x = read(value_of(forward_arguments, options[i]));
                expect_same_derivative(xt::sum(grad * D)(), directional_derivative(x, D, dY, input_at(options[i])));
            }
        }
        if (self_attention) {
            SCOPED_TRACE("--query, which is also the key and the value");
            const Array D = random_array(shape_of(sum_of_input_gradients));
            const Array x = read(value_of(forward_arguments, "--query"));
            expect_same_derivative(xt::sum(sum_of_input_gradients * D)(),
                                   directional_derivative(x, D, dY, input_at("--query")));
        }

        // ---- Every parameter file: the gradient file of the same name ----
        const std::string weights = value_of(forward_arguments, "--weights");
        const std::string copy = file("perturbed-weights");
        std::size_t parameters = 0;
        for (const auto& entry : fs::directory_iterator(weights)) {
            const std::string name = entry.path().filename().string();
            SCOPED_TRACE(name);
            ASSERT_TRUE(fs::exists(file("grads/" + name))) << "no gradient file for the parameter file " << name;
            const Array grad = gradient(name);
            const Array D = random_array(shape_of(grad));
            // A copy of the weights folder in which only this file is perturbed.
            fs::remove_all(copy);
            fs::copy(weights, copy);
            const auto parameter_at = [&](const Array& values) {
                mha::write_npy(copy + "/" + name, values, mha::NpyType::float64);
                return with(forward_arguments, "--weights", copy);
            };
            expect_same_derivative(xt::sum(grad * D)(), directional_derivative(read(entry.path().string()), D, dY,
                                                                               parameter_at));
            ++parameters;
        }
        EXPECT_GE(parameters, 4u);
    }

    static std::string value_of(const Arguments& arguments, const std::string& option) {
        for (std::size_t i = 0; i + 1 < arguments.size(); ++i) {
            if (arguments[i] == option) {
                return arguments[i + 1];
            }
        }
        ADD_FAILURE() << option << " is not among the arguments";
        return "";
    }

    static void expect_same_derivative(double analytic, double numeric) {
        EXPECT_NEAR(analytic, numeric, 1e-6 * (1.0 + std::abs(numeric)))
            << "sum(gradient * D) from mha backward is " << analytic << ", central differences of mha forward give "
            << numeric;
    }
};

// ============================================================================
// Help
// ============================================================================

TEST_F(MhaBackward, HelpDescribesBackward) {
    for (const Arguments& arguments : std::vector<Arguments>{{"--help"}, {"backward", "--help"}, {"backward", "-h"}}) {
        SCOPED_TRACE(arguments.front() + " " + arguments.back());
        const Outcome run = run_mha(arguments);
        EXPECT_EQ(run.status, 0);
        EXPECT_EQ(run.err, "");
        for (const char* word : {"mha backward", "--grad-output DY.npy", "--grads-out DIR", "query.grad.npy",
                                 "key.grad.npy", "value.grad.npy", "in_proj_weight.npy", "q_proj_weight.npy",
                                 "out_proj.bias.npy", "created if missing", "sum of query.grad.npy",
                                 "--weights", "--causal", "Exit status"}) {
            EXPECT_NE(run.out.find(word), std::string::npos) << "the help does not mention " << word;
        }
    }
}

// ============================================================================
// By hand
// ============================================================================

// E = 1, H = 1, one query and one key per sequence, B = 2. With a single key the
// weight is 1 whatever the scores, so output_b = w_o (w_v x_b + b_v) + b_o:
// nothing reaches the query or the key, and the parameters' gradients add up
// over the two batch entries. With x = (1, -2), dY = (0.5, 4), w_v = 2, b_v = 0.3,
// w_o = 3:
//   value.grad_b     = dY_b w_o w_v                = (3, 24)
//   dW_v             = sum_b dY_b w_o x_b          = 3 (0.5 - 8)          = -22.5
//   db_v             = sum_b dY_b w_o              = 3 (4.5)              = 13.5
//   dW_o             = sum_b dY_b (w_v x_b + b_v)  = 0.5 (2.3) + 4 (-3.7) = -13.65
//   db_o             = sum_b dY_b                                         = 4.5
//   W_q, W_k, b_q, b_k: 0
TEST_F(MhaBackward, OneKeyByHand) {
    write_scalar_weights(/*wq=*/0.5, /*wk=*/-1.5, /*wv=*/2.0, /*bq=*/0.1, /*bk=*/0.2, /*bv=*/0.3, /*wo=*/3.0,
                         /*bo=*/0.25);
    run_ok({"backward", "--weights", file("weights"), "--num-heads", "1",
            "--query", write("query.npy", filled({2, 1, 1}, {1.0, -2.0})),  // (B, L, E)
            "--key", write("key.npy", filled({2, 1, 1}, {0.7, -0.4})),      // (B, S, kdim)
            "--value", write("value.npy", filled({2, 1, 1}, {1.0, -2.0})),
            "--grad-output", write("dy.npy", filled({2, 1, 1}, {0.5, 4.0})), "--grads-out", file("grads")});
    EXPECT_TRUE(arrays_near(gradient("query.grad.npy"), filled({2, 1, 1}, {0.0, 0.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("key.grad.npy"), filled({2, 1, 1}, {0.0, 0.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("value.grad.npy"), filled({2, 1, 1}, {3.0, 24.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("in_proj_weight.npy"), filled({3, 1}, {0.0, 0.0, -22.5}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("in_proj_bias.npy"), filled({3}, {0.0, 0.0, 13.5}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("out_proj.weight.npy"), filled({1, 1}, {-13.65}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("out_proj.bias.npy"), filled({1}, {4.5}), 1e-12));
}

// E = 1, H = 1, one query and two keys: the softmax's backward pass by hand.
// W_q = b_q = 0 makes q = 0, so both scores are 0 and the weights are (1/2, 1/2).
// With keys k = (1, 3) (W_k = 1), values v = (3, 1) (W_v = 1), W_o = 2, dY = 1:
//   O = (3 + 1) / 2 = 2, output = 4;  dO = W_o dY = 2
//   dP = dO v = (6, 2);  dS = P (dP - sum P dP) = (1/2)(6 - 4, 2 - 4) = (1, -1)
//   dq = sum_j dS_j k_j = 1 - 3 = -2:  dW_q = dq x_q = -4 (x_q = 2), db_q = -2
//   dk_j = dS_j q = 0:  dW_k = db_k = 0, key.grad = 0
//   dv_j = P_j dO = (1, 1):  value.grad = W_v dv = (1, 1), dW_v = sum dv_j x_v_j = 4, db_v = 2
//   query.grad = W_q dq = 0;  dW_o = dY O = 2;  db_o = dY = 1
TEST_F(MhaBackward, TwoKeysByHand) {
    write_scalar_weights(/*wq=*/0.0, /*wk=*/1.0, /*wv=*/1.0, /*bq=*/0.0, /*bk=*/0.0, /*bv=*/0.0, /*wo=*/2.0,
                         /*bo=*/0.0);
    run_ok({"backward", "--weights", file("weights"), "--num-heads", "1",
            "--query", write("query.npy", filled({1, 1}, {2.0})),         // unbatched (L, E)
            "--key", write("key.npy", filled({2, 1}, {1.0, 3.0})),      // (S, kdim)
            "--value", write("value.npy", filled({2, 1}, {3.0, 1.0})),  // (S, vdim)
            "--grad-output", write("dy.npy", filled({1, 1}, {1.0})), "--grads-out", file("grads")});
    EXPECT_TRUE(arrays_near(gradient("query.grad.npy"), filled({1, 1}, {0.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("key.grad.npy"), filled({2, 1}, {0.0, 0.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("value.grad.npy"), filled({2, 1}, {1.0, 1.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("in_proj_weight.npy"), filled({3, 1}, {-4.0, 0.0, 4.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("in_proj_bias.npy"), filled({3}, {-2.0, 0.0, 2.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("out_proj.weight.npy"), filled({1, 1}, {2.0}), 1e-12));
    EXPECT_TRUE(arrays_near(gradient("out_proj.bias.npy"), filled({1}, {1.0}), 1e-12));
}

// ============================================================================
// Central differences of `mha forward`, through the command
// ============================================================================

// Packed parameters, self-attention (the query file is also the key and the value)
// under the causal mask and a key_padding_mask.
TEST_F(MhaBackward, SelfAttentionWithMasksMatchesCentralDifferencesOfForward) {
    make_weights(8, 2);
    const Array dY = random_array({2, 4, 8});
    const mha::BoolMatrix padding = {{false, false, true, true}, {false, false, false, true}};  // key 0 always seen
    const Arguments inputs = {"--weights", file("weights"), "--num-heads", "2",
                              "--query", write("query.npy", random_array({2, 4, 8})),
                              "--key-padding-mask", write("padding.npy", padding, mha::NpyType::boolean),
                              "--causal"};
    Arguments backward = {"backward"};
    backward.insert(backward.end(), inputs.begin(), inputs.end());
    run_ok(with(with(backward, "--grad-output", write("dy.npy", dY)), "--grads-out", file("grads")));
    Arguments forward = {"forward"};
    forward.insert(forward.end(), inputs.begin(), inputs.end());
    check_against_central_differences(forward, dY, /*self_attention=*/true);
}

// Separate q/k/v_proj_weight files (kdim = 6, vdim = 5), cross-attention with
// L = 3, S = 5, and a float attention mask per head with -inf entries.
TEST_F(MhaBackward, CrossAttentionWithOwnKeyAndValueSizesMatchesCentralDifferencesOfForward) {
    make_weights(4, 2, true, 6, 5);
    const Array dY = random_array({2, 3, 4});
    Array mask = random_array({4, 3, 5});  // (B·H, L, S)
    mask(0, 1, 3) = mask(3, 2, 4) = mask(2, 0, 1) = -INFINITY;
    const Arguments inputs = {"--weights", file("weights"), "--num-heads", "2",
                              "--query", write("query.npy", random_array({2, 3, 4})),
                              "--key", write("key.npy", random_array({2, 5, 6})),
                              "--value", write("value.npy", random_array({2, 5, 5})),
                              "--attn-mask", write("mask.npy", mask)};
    Arguments backward = {"backward"};
    backward.insert(backward.end(), inputs.begin(), inputs.end());
    run_ok(with(with(backward, "--grad-output", write("dy.npy", dY)), "--grads-out", file("grads")));
    Arguments forward = {"forward"};
    forward.insert(forward.end(), inputs.begin(), inputs.end());
    check_against_central_differences(forward, dY, /*self_attention=*/false);
}

// ============================================================================
// The files written: names, shapes, dtypes
// ============================================================================

// The set of file names in a folder.
std::set<std::string> files_in(const std::string& folder) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder)) {
        names.insert(entry.path().filename().string());
    }
    return names;
}

TEST_F(MhaBackward, PackedLayoutWritesPyTorchNamesAndShapes) {
    const Outcome run = run_mha(self_attention_arguments());  // E = 8, (B, L) = (2, 4)
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(files_in(file("grads")),
              (std::set<std::string>{"query.grad.npy", "key.grad.npy", "value.grad.npy", "in_proj_weight.npy",
                                     "in_proj_bias.npy", "out_proj.weight.npy", "out_proj.bias.npy"}));
    const std::pair<const char*, Shape> expected[] = {
        {"query.grad.npy", {2, 4, 8}}, {"key.grad.npy", {2, 4, 8}},   {"value.grad.npy", {2, 4, 8}},
        {"in_proj_weight.npy", {24, 8}}, {"in_proj_bias.npy", {24}}, {"out_proj.weight.npy", {8, 8}},
        {"out_proj.bias.npy", {8}}};
    for (const auto& [name, shape] : expected) {
        EXPECT_EQ(shape_of(gradient(name)), shape) << name;
        // One line per file on stdout, as `mha forward` prints them.
        EXPECT_NE(run.out.find("mha backward: wrote " + file(std::string("grads/") + name)), std::string::npos)
            << run.out;
    }
    EXPECT_EQ(std::count(run.out.begin(), run.out.end(), '\n'), 7);
}

TEST_F(MhaBackward, SeparateLayoutWritesQKVProjWeights) {
    make_weights(8, 2, true, 6, 5);  // kdim = 6, vdim = 5
    run_ok({"backward", "--weights", file("weights"), "--num-heads", "2",
            "--query", write("query.npy", random_array({3, 2, 8})),
            "--key", write("key.npy", random_array({3, 7, 6})),
            "--value", write("value.npy", random_array({3, 7, 5})),
            "--grad-output", write("dy.npy", random_array({3, 2, 8})), "--grads-out", file("grads")});
    EXPECT_EQ(files_in(file("grads")),
              (std::set<std::string>{"query.grad.npy", "key.grad.npy", "value.grad.npy", "q_proj_weight.npy",
                                     "k_proj_weight.npy", "v_proj_weight.npy", "in_proj_bias.npy",
                                     "out_proj.weight.npy", "out_proj.bias.npy"}));
    const std::pair<const char*, Shape> expected[] = {
        {"query.grad.npy", {3, 2, 8}},  {"key.grad.npy", {3, 7, 6}},      {"value.grad.npy", {3, 7, 5}},
        {"q_proj_weight.npy", {8, 8}},  {"k_proj_weight.npy", {8, 6}},    {"v_proj_weight.npy", {8, 5}},
        {"in_proj_bias.npy", {24}},     {"out_proj.weight.npy", {8, 8}}, {"out_proj.bias.npy", {8}}};
    for (const auto& [name, shape] : expected) {
        EXPECT_EQ(shape_of(gradient(name)), shape) << name;
    }
}

TEST_F(MhaBackward, ModuleWithoutBiasWritesNoBiasFiles) {
    make_weights(6, 3, false);
    run_ok({"backward", "--weights", file("weights"), "--num-heads", "3",
            "--query", write("query.npy", random_array({1, 3, 6})),
            "--grad-output", write("dy.npy", random_array({1, 3, 6})), "--grads-out", file("grads")});
    EXPECT_EQ(files_in(file("grads")), (std::set<std::string>{"query.grad.npy", "key.grad.npy", "value.grad.npy",
                                                              "in_proj_weight.npy", "out_proj.weight.npy"}));
}

TEST_F(MhaBackward, Float32InputsGiveFloat32GradientsCloseToFloat64) {
    auto arguments = self_attention_arguments();
    // The float32 run...
    const Array query = read(file("query.npy")), dY = read(file("dy.npy"));
    write("query.npy", query, mha::NpyType::float32);
    write("dy.npy", dY, mha::NpyType::float32);
    run_ok(arguments);
    std::vector<Array> float32_gradients;
    for (const auto& name : files_in(file("grads"))) {
        float32_gradients.push_back(gradient(name, mha::NpyType::float32));
    }
    // ... against the float64 run on the same (float32-rounded) values.
    write("query.npy", read(file("query.npy"), mha::NpyType::float32));
    write("dy.npy", read(file("dy.npy"), mha::NpyType::float32));
    run_ok(with(arguments, "--grads-out", file("grads64")));
    std::size_t i = 0;
    for (const auto& name : files_in(file("grads64"))) {
        SCOPED_TRACE(name);
        ASSERT_LT(i, float32_gradients.size());
        EXPECT_TRUE(arrays_near(float32_gradients[i++], read(file("grads64/" + name)), 1e-6));
    }
    EXPECT_EQ(i, 7u);
}

// (N, width) as (1, N, width).
Array batch_of_one(const Array& values) {
    Array batch = values;
    batch.reshape({std::size_t{1}, values.shape(0), values.shape(1)});
    return batch;
}

TEST_F(MhaBackward, UnbatchedInputsGiveUnbatchedGradientsEqualToABatchOfOne) {
    make_weights(8, 4);
    const Array query = random_array({5, 8}), dY = random_array({5, 8});  // (L, E)
    const Array padding{false, false, true, false, true};                 // (S)
    run_ok({"backward", "--weights", file("weights"), "--num-heads", "4", "--query", write("query.npy", query),
            "--key-padding-mask", write("padding.npy", padding, mha::NpyType::boolean), "--causal",
            "--grad-output", write("dy.npy", dY), "--grads-out", file("unbatched")});
    // The same as a batch of one: (1, L, E), a (1, S) mask.
    const Array batched_padding = {{false, false, true, false, true}};
    run_ok({"backward", "--weights", file("weights"), "--num-heads", "4",
            "--query", write("query3.npy", batch_of_one(query)),
            "--key-padding-mask", write("padding2.npy", batched_padding, mha::NpyType::boolean), "--causal",
            "--grad-output", write("dy3.npy", batch_of_one(dY)), "--grads-out", file("batched")});
    for (const char* name : input_gradient_files) {
        SCOPED_TRACE(name);
        const Array unbatched = read(file("unbatched/") + name);
        EXPECT_EQ(shape_of(unbatched), (Shape{5, 8}));
        EXPECT_TRUE(arrays_near(unbatched, xt::view(read(file("batched/") + name), 0), 0.0));
    }
    EXPECT_TRUE(arrays_near(read(file("unbatched/in_proj_weight.npy")), read(file("batched/in_proj_weight.npy")), 0.0));
}

TEST_F(MhaBackward, MissingGradsOutFolderIsCreated) {
    const auto arguments = with(self_attention_arguments(), "--grads-out", file("new/nested/grads"));
    run_ok(arguments);
    EXPECT_TRUE(fs::exists(file("new/nested/grads/in_proj_weight.npy")));
}

// ============================================================================
// Bad input: exit status 2, one line naming the culprit
// ============================================================================

TEST_F(MhaBackward, GradOutputOfWrongShapeNamesBothShapes) {
    const auto arguments = self_attention_arguments();  // the query is (2, 4, 8)
    for (const Shape& shape : {Shape{2, 4, 7}, Shape{2, 3, 8}, Shape{1, 4, 8}, Shape{4, 8}, Shape{2, 4, 8, 1}}) {
        const std::string given = mha::shape_string(xt::zeros<double>(shape));
        SCOPED_TRACE(given);
        write("dy.npy", random_array(shape));
        const Outcome run = run_mha(arguments);
        EXPECT_TRUE(is_input_error(run, file("dy.npy"), "--grad-output"));
        EXPECT_NE(run.err.find(given), std::string::npos) << run.err;
        EXPECT_NE(run.err.find("(2, 4, 8)"), std::string::npos) << run.err;
    }
    EXPECT_FALSE(fs::exists(file("grads"))) << "the folder was made although the input was bad";
}

TEST_F(MhaBackward, GradOutputMustBeUnbatchedForAnUnbatchedQuery) {
    auto arguments = self_attention_arguments();
    write("query.npy", random_array({4, 8}));  // (L, E)
    write("dy.npy", random_array({1, 4, 8}));
    const Outcome run = run_mha(arguments);
    EXPECT_TRUE(is_input_error(run, file("dy.npy"), "--grad-output"));
    EXPECT_NE(run.err.find("(1, 4, 8)"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("(4, 8)"), std::string::npos) << run.err;
}

TEST_F(MhaBackward, MissingRequiredOptionIsAUsageError) {
    const auto arguments = self_attention_arguments();
    for (const std::string option : {"--grads-out", "--grad-output", "--weights", "--num-heads", "--query"}) {
        SCOPED_TRACE(option);
        EXPECT_TRUE(is_input_error(run_mha(without(arguments, option)), option, "required"));
    }
    EXPECT_TRUE(is_input_error(run_mha({"backward"}), "--weights", "mha backward --help"));
}

TEST_F(MhaBackward, ForwardOnlyOptionsAreUnknown) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--out", file("out.npy"))), "--out", "unknown option"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--average-weights")), "--average-weights", "unknown option"));
}

TEST_F(MhaBackward, NonFiniteGradOutputIsNamedWithTheIndex) {
    const auto arguments = self_attention_arguments();
    Array dY = read(file("dy.npy"));
    dY(1, 2, 3) = NAN;
    write("dy.npy", dY);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("dy.npy"), "(1, 2, 3)"));
    dY(1, 2, 3) = -INFINITY;
    write("dy.npy", dY, mha::NpyType::float32);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("dy.npy"), "--grad-output must hold finite numbers only"));
}

TEST_F(MhaBackward, UnreadableGradOutputIsNamed) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--grad-output", file("missing.npy"))), file("missing.npy"),
                               "no such file (--grad-output)"));
    write("dy.npy", xt::ones<double>({2, 4, 8}), mha::NpyType::boolean);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("dy.npy"), "bool"));
    write("dy.npy", random_array({2, 4, 8}));
    fs::resize_file(file("dy.npy"), fs::file_size(file("dy.npy")) - 8);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("dy.npy"), "truncated"));
}

TEST_F(MhaBackward, BadSharedInputIsNamedAsForwardNamesIt) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--num-heads", "3")), "--num-heads", "divisible"));
    write("query.npy", random_array({2, 4, 6}));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "E = 8"));
}

TEST_F(MhaBackward, GradsOutThatIsAFileOrTheWeightsFolderIsRefused) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--grads-out", file("query.npy"))), file("query.npy"),
                               "not a folder"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--grads-out", file("weights"))), "--grads-out",
                               "--weights"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--grads-out", file("weights") + "/.")), "--grads-out",
                               "--weights"));
}

// ============================================================================
// Files: all or nothing, and no output may be an input (issue 13)
// ============================================================================

TEST_F(MhaBackward, GradientFileThatIsAnInputIsRefused) {
    auto arguments = self_attention_arguments();
    run_ok(arguments);  // grads/ now holds every gradient
    const std::string gradient_bytes = contents(file("grads/query.grad.npy"));
    // The gradient of the query as the next query: its file would be overwritten.
    const Outcome run = run_mha(with(arguments, "--query", file("grads/query.grad.npy")));
    EXPECT_TRUE(is_input_error(run, "--grads-out", "--query"));
    EXPECT_EQ(contents(file("grads/query.grad.npy")), gradient_bytes);
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--grad-output", "grads/query.grad.npy")), "--grads-out",
                               "--grad-output"));
    // The folder under another name, through a symbolic link.
    fs::create_symlink(file("grads"), file("same"));
    EXPECT_TRUE(is_input_error(run_mha(with(with(arguments, "--grads-out", file("same")), "--key",
                                            file("grads/key.grad.npy"))),
                               "--grads-out", "--key"));
}

TEST_F(MhaBackward, FileSizeLimitLeavesNeitherFilesNorTheFolder) {
    auto arguments = self_attention_arguments();
    write("query.npy", random_array({2, 64, 8}));
    write("dy.npy", random_array({2, 64, 8}));
    arguments = with(arguments, "--grads-out", file("new/grads"));
    const std::vector<std::string> before = listing();
    const Outcome run = run_mha_after("ulimit -f 4;", arguments);
    EXPECT_TRUE(is_input_error(run, file("new/grads/query.grad.npy"), "file too large"));
    EXPECT_EQ(listing(), before) << "a file or folder was left behind";
}

TEST_F(MhaBackward, FailedRunLeavesEarlierGradientsUntouched) {
    auto arguments = self_attention_arguments();
    run_ok(arguments);
    std::vector<std::string> saved;
    for (const char* name : {"query.grad.npy", "key.grad.npy", "value.grad.npy", "in_proj_weight.npy"}) {
        saved.push_back(contents(file(std::string("grads/") + name)));
    }
    write("query.npy", random_array({2, 64, 8}));
    write("dy.npy", random_array({2, 64, 8}));
    EXPECT_EQ(run_mha_after("ulimit -f 4;", arguments).status, 2);
    std::size_t i = 0;
    for (const char* name : {"query.grad.npy", "key.grad.npy", "value.grad.npy", "in_proj_weight.npy"}) {
        EXPECT_EQ(contents(file(std::string("grads/") + name)), saved[i++]) << name << " was changed";
    }
}

TEST_F(MhaBackward, GradsOutThatIsADeviceIsRefused) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--grads-out", "/dev/null")), "/dev/null", "not a folder"));
    ASSERT_EQ(::mkfifo(file("grads.fifo").c_str(), 0600), 0);
    EXPECT_TRUE(is_input_error(run_mha_after("timeout 20", with(arguments, "--grad-output", file("grads.fifo"))),
                               file("grads.fifo"), "FIFO"));
}

TEST_F(MhaBackward, GradsOutWithoutWritePermissionIsRefusedBeforeComputing) {
    std::string prefix;  // as root, chmod does not stop writing: run as the user nobody
    if (::geteuid() == 0) {
        if (std::system("setpriv --reuid=nobody --regid=nogroup --clear-groups true >/dev/null 2>&1") != 0) {
            GTEST_SKIP() << "running as root without setpriv: no way to be refused permission";
        }
        prefix = "setpriv --reuid=nobody --regid=nogroup --clear-groups";
    }
    auto arguments = self_attention_arguments();
    fs::create_directories(file("locked"));
    fs::permissions(file("locked"), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec);
    if (::geteuid() != 0) {
        fs::permissions(file("locked"), fs::perms::owner_read | fs::perms::owner_exec);
    }
    EXPECT_TRUE(is_input_error(run_mha_after(prefix, with(arguments, "--grads-out", file("locked"))), file("locked"),
                               "permission denied"));
    EXPECT_TRUE(is_input_error(run_mha_after(prefix, with(arguments, "--grads-out", file("locked/new/grads"))),
                               file("locked/new/grads"), "permission denied in the folder " + file("locked")));
    fs::permissions(file("locked"), fs::perms::owner_all);
}

TEST_F(MhaBackward, Float32GradientsBeyondTheLargestFloatAreRefused) {
    auto arguments = self_attention_arguments();
    write("query.npy", xt::where(random_array({2, 4, 8}) > 0, 3e38, -3e38), mha::NpyType::float32);
    write("dy.npy", xt::where(random_array({2, 4, 8}) > 0, 3e38, -3e38), mha::NpyType::float32);
    const Outcome run = run_mha(arguments);
    EXPECT_TRUE(is_input_error(run, "--grads-out", "inf at index ("));
    EXPECT_FALSE(fs::exists(file("grads"))) << "a folder was left although nothing was written";
}

}  // namespace
