// Tests of the `mha` command (src/cli/forward_command.cpp). They run the real
// executable, whose path CMake passes in as MHA_COMMAND, on .npy files each
// test writes into its own temporary folder, and check
//   - bad input: exit status 2 and one line "mha: error: <file or option>: ..."
//     that names the culprit, for every kind of bad input;
//   - good input: the files written equal MultiHeadAttention::forward called
//     in this process on the same parameters and inputs (the plumbing), with
//     the right shapes and dtypes;
//   - PyTorch: tests/fixtures/cli holds a module exported from PyTorch, inputs
//     and PyTorch's float64 results (see tests/fixtures/cli/README.txt).
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "reference/mask.hpp"
#include "reference/multi_head_attention.hpp"
#include "io/npy_file.hpp"
#include "io/parameter_files.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "cli/command_runner.hpp"
#include "cli/npy_command_test.hpp"


namespace {

namespace fs = std::filesystem;
using mha::testing::contents;
using mha::testing::is_input_error;
using mha::testing::Outcome;
using mha::testing::arrays_near;
using mha::testing::Array;
using mha::testing::Shape;
using mha::testing::shape_of;

// ---- The fixture: a fresh folder per test, and the inputs written into it ----

class MhaCommand : public mha::testing::NpyCommandTest {
protected:
    // The common case: E = 8, H = 2 weights and a (B, L, E) = (2, 4, 8) float64 query;
    // returns the arguments of a good `mha forward` run, which tests then spoil.
    std::vector<std::string> self_attention_arguments() {
        module_ = make_weights(8, 2);
        query_ = random_array({2, 4, 8});
        return {"forward", "--weights", file("weights"), "--num-heads", "2",
                "--query", write("query.npy", query_), "--out", file("out.npy")};
    }

    mha::MultiHeadAttention module_;
    Array query_;
};

// (L, E) as (1, L, E).
mha::Tensor3 with_batch_axis(const Array& values) {
    mha::Tensor3 batch = xt::zeros<double>({std::size_t{1}, values.shape(0), values.shape(1)});
    xt::view(batch, 0, xt::all(), xt::all()) = values;
    return batch;
}

// ============================================================================
// Help
// ============================================================================

TEST_F(MhaCommand, HelpExitsZeroAndDocumentsEveryOption) {
    for (const auto& arguments : std::vector<std::vector<std::string>>{{"--help"}, {"-h"}, {"forward", "--help"}}) {
        SCOPED_TRACE(arguments.back());
        const Outcome run = run_mha(arguments);
        EXPECT_EQ(run.status, 0);
        EXPECT_EQ(run.err, "");
        for (const char* word : {"--weights", "--num-heads", "--query", "--key", "--value", "--attn-mask",
                                 "--key-padding-mask", "--causal", "--out", "--weights-out", "--average-weights",
                                 "--help", "float32", "float64", "bool", "(B, L, E)", "(L, E)", "(B*H, L, S)",
                                 "(B, H, L, S)", "NaN", "-inf", "Exit status", "mha: error:", "Example"}) {
            EXPECT_NE(run.out.find(word), std::string::npos) << "the help does not mention " << word;
        }
    }
}

TEST_F(MhaCommand, HelpSaysHowFilesAreReadAndWritten) {
    const Outcome run = run_mha({"--help"});
    for (const char* words : {"Only regular files are read", "all or nothing", "An output may not be an input",
                              "permission denied", "at most 100000", "not finite"}) {
        EXPECT_NE(run.out.find(words), std::string::npos) << "the help does not say " << words;
    }
}

// ============================================================================
// Bad command lines
// ============================================================================

TEST_F(MhaCommand, NoArgumentsAsksForASubcommand) {
    EXPECT_TRUE(is_input_error(run_mha({}), "subcommand", "missing"));
}

TEST_F(MhaCommand, UnknownSubcommandIsNamed) {
    EXPECT_TRUE(is_input_error(run_mha({"fly"}), "fly", "unknown subcommand"));
}

TEST_F(MhaCommand, UnknownOptionIsNamed) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--heads", "2")), "--heads", "unknown option"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "-x")), "-x", "unknown option"));
    EXPECT_TRUE(is_input_error(run_mha({"--verbose", "forward"}), "--verbose"));
}

TEST_F(MhaCommand, EachMissingRequiredOptionIsNamed) {
    const auto arguments = self_attention_arguments();
    for (const std::string option : {"--weights", "--num-heads", "--query", "--out"}) {
        SCOPED_TRACE(option);
        EXPECT_TRUE(is_input_error(run_mha(without(arguments, option)), option, "required"));
    }
    EXPECT_TRUE(is_input_error(run_mha({"forward"}), "--weights", "required"));
}

TEST_F(MhaCommand, OptionWithoutValueIsNamed) {
    auto arguments = without(self_attention_arguments(), "--out");
    arguments.push_back("--out");  // last, with nothing after it
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--out", "needs a value"));
    EXPECT_TRUE(is_input_error(run_mha(with(without(self_attention_arguments(), "--query"), "--query", "--causal")),
                               "--query", "needs a value"));
    EXPECT_TRUE(is_input_error(run_mha(with(self_attention_arguments(), "--key=")), "--key", "empty"));
}

TEST_F(MhaCommand, RepeatedOptionIsNamed) {
    auto arguments = self_attention_arguments();
    arguments.insert(arguments.end(), {"--out", file("other.npy")});
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--out", "twice"));
    arguments = with(with(self_attention_arguments(), "--causal"), "--causal");
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--causal", "twice"));
}

TEST_F(MhaCommand, StrayArgumentIsNamed) {
    auto arguments = self_attention_arguments();
    arguments.push_back("extra.npy");
    EXPECT_TRUE(is_input_error(run_mha(arguments), "extra.npy", "unexpected argument"));
}

TEST_F(MhaCommand, FlagWithValueIsRefused) {
    EXPECT_TRUE(is_input_error(run_mha(with(self_attention_arguments(), "--causal=yes")), "--causal", "no value"));
}

TEST_F(MhaCommand, NonNumericNumHeadsIsRefused) {
    const auto arguments = self_attention_arguments();
    for (const std::string heads : {"two", "2x", "1.5", "-1", "0", " 2", "+2"}) {
        SCOPED_TRACE(heads);
        EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--num-heads", heads)), "--num-heads", "'" + heads + "'"));
    }
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--num-heads", "99999999999999999999999")), "--num-heads",
                               "too large"));
}

TEST_F(MhaCommand, AverageWeightsWithoutWeightsOutIsRefused) {
    EXPECT_TRUE(is_input_error(run_mha(with(self_attention_arguments(), "--average-weights")), "--average-weights",
                               "--weights-out"));
}

TEST_F(MhaCommand, WeightsOutSameAsOutIsRefused) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--weights-out", file("out.npy"))), "--weights-out", "--out"));
}

// ============================================================================
// Bad weights
// ============================================================================

TEST_F(MhaCommand, EmbedDimNotDivisibleByHeadsNamesNumHeads) {
    const auto arguments = with(self_attention_arguments(), "--num-heads", "3");  // E = 8
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--num-heads", "divisible"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--num-heads", "16")), "--num-heads", "8"));
}

TEST_F(MhaCommand, MissingWeightsFolderIsNamed) {
    const auto arguments = with(self_attention_arguments(), "--weights", file("no-such-folder"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("no-such-folder"), "no such folder"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--weights", file("query.npy"))), file("query.npy"),
                               "not a folder"));
}

TEST_F(MhaCommand, MissingWeightFileIsNamed) {
    const auto arguments = self_attention_arguments();
    fs::remove(file("weights/out_proj.weight.npy"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("weights") + "/out_proj.weight.npy"));
    make_weights(8, 2);
    fs::remove(file("weights/in_proj_weight.npy"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("weights"), "in_proj_weight.npy"));
    make_weights(8, 2);
    fs::remove(file("weights/out_proj.bias.npy"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("weights"), "out_proj.bias.npy"));
}

TEST_F(MhaCommand, WeightFileOfWrongShapeOrDtypeIsNamed) {
    const auto arguments = self_attention_arguments();
    write("weights/in_proj_weight.npy", random_array({16, 8}));  // (2E, E), not (3E, E)
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("weights") + "/in_proj_weight.npy", "(24, 8)"));
    write("weights/in_proj_weight.npy", xt::ones<double>({24, 8}), mha::NpyType::boolean);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("weights") + "/in_proj_weight.npy", "bool"));
}

TEST_F(MhaCommand, TruncatedWeightFileIsNamed) {
    const auto arguments = self_attention_arguments();
    const std::string path = file("weights/out_proj.weight.npy");
    fs::resize_file(path, fs::file_size(path) - 8);
    EXPECT_TRUE(is_input_error(run_mha(arguments), path, "truncated"));
}

TEST_F(MhaCommand, NonFiniteWeightIsRefused) {
    const auto arguments = self_attention_arguments();
    Array weight = random_array({8, 8});
    weight(3, 4) = NAN;
    write("weights/out_proj.weight.npy", weight);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("weights"), "NaN"));
}

// ============================================================================
// Bad query, key and value files
// ============================================================================

TEST_F(MhaCommand, MissingQueryFileIsNamed) {
    const auto arguments = with(self_attention_arguments(), "--query", file("missing.npy"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("missing.npy"), "no such file"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--query", file("weights"))), file("weights"), "folder"));
}

TEST_F(MhaCommand, NonNpyQueryFileIsNamed) {
    const auto arguments = self_attention_arguments();
    std::ofstream(file("query.npy")) << "L,E\n1,2\n";  // a CSV file under an .npy name
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "not a valid .npy file"));
    std::ofstream(file("query.npy"));  // empty
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "not a valid .npy file"));
}

TEST_F(MhaCommand, TruncatedQueryFileIsNamed) {
    const auto arguments = self_attention_arguments();
    fs::resize_file(file("query.npy"), fs::file_size(file("query.npy")) - 1);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "truncated"));
    fs::resize_file(file("query.npy"), 20);  // inside the header
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "not a valid .npy file"));
}

TEST_F(MhaCommand, QueryOfWrongDtypeIsNamed) {
    const auto arguments = self_attention_arguments();
    write("query.npy", query_, mha::NpyType::boolean);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "bool"));
    write_raw("query.npy", "<i4", "(4, 8)", std::string(4 * 8 * 4, '\0'));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "'<i4'"));
    write_raw("query.npy", ">f8", "(4, 8)", std::string(4 * 8 * 8, '\0'));  // big-endian
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "'>f8'"));
}

TEST_F(MhaCommand, QueryOfWrongShapeIsNamed) {
    const auto arguments = self_attention_arguments();
    write("query.npy", random_array({8}));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "(B, L, E)"));
    write("query.npy", random_array({1, 2, 4, 8}));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "(1, 2, 4, 8)"));
    write("query.npy", random_array({2, 4, 6}));  // E = 8
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "E = 8"));
    write("query.npy", xt::zeros<double>({2, 0, 8}));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "empty axis"));
}

TEST_F(MhaCommand, NonFiniteQueryIsNamedWithTheIndex) {
    const auto arguments = self_attention_arguments();
    query_(1, 2, 3) = NAN;
    write("query.npy", query_);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "(1, 2, 3)"));
    query_(1, 2, 3) = INFINITY;
    write("query.npy", query_, mha::NpyType::float32);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("query.npy"), "inf"));
}

TEST_F(MhaCommand, KeyAndValueOfDifferentLengthsAreRefused) {
    auto arguments = self_attention_arguments();
    arguments = with(arguments, "--key", write("key.npy", random_array({2, 5, 8})));
    arguments = with(arguments, "--value", write("value.npy", random_array({2, 6, 8})));  // S = 5 and 6
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("value.npy"), file("key.npy")));
    write("value.npy", random_array({1, 5, 8}));  // B = 2 and 1
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("value.npy"), "same number of sequences"));
}

TEST_F(MhaCommand, KeyWithoutValueExplainsThatValueDefaultsToQuery) {
    const auto arguments = with(self_attention_arguments(), "--key", write("key.npy", random_array({2, 5, 8})));
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--value", file("query.npy")));
}

TEST_F(MhaCommand, KeyOfWrongBatchWidthOrRankIsNamed) {
    const auto arguments = with(with(self_attention_arguments(), "--key", file("key.npy")), "--value",
                                write("value.npy", random_array({2, 5, 8})));
    write("key.npy", random_array({3, 5, 8}));  // B = 3, the query's is 2
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("key.npy"), "B = 2"));
    write("key.npy", random_array({2, 5, 7}));  // kdim = 7, the module's is 8
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("key.npy"), "kdim = 8"));
    write("key.npy", random_array({5, 8}));  // unbatched, the query is batched
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("key.npy"), "3-D"));
    write("key.npy", random_array({2, 5, 8}), mha::NpyType::boolean);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("key.npy"), "bool"));
    fs::remove(file("key.npy"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("key.npy"), "no such file"));
}

TEST_F(MhaCommand, ValueOfWrongWidthIsNamed) {
    const auto arguments = with(with(self_attention_arguments(), "--key", write("key.npy", random_array({2, 5, 8}))),
                                "--value", write("value.npy", random_array({2, 5, 4})));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("value.npy"), "vdim = 8"));
}

// ============================================================================
// Bad masks
// ============================================================================

TEST_F(MhaCommand, AttnMaskOfWrongShapeIsNamed) {
    const auto arguments = with(self_attention_arguments(), "--attn-mask", file("mask.npy"));  // L = S = 4, B·H = 4
    for (const Shape& shape : {Shape{4, 5}, Shape{5, 4}, Shape{4}, Shape{2, 4, 4}, Shape{4, 4, 5}, Shape{1, 4, 4, 4}}) {
        SCOPED_TRACE(mha::shape_string(xt::zeros<bool>(shape)));
        write("mask.npy", xt::zeros<double>(shape), mha::NpyType::boolean);
        EXPECT_TRUE(is_input_error(run_mha(arguments), file("mask.npy"),
                                   "must be (L, S) = (4, 4) or (B·H, L, S) = (4, 4, 4)"));
    }
}

TEST_F(MhaCommand, KeyPaddingMaskOfWrongShapeIsNamed) {
    // (B, S) = (2, 4)
    const auto arguments = with(self_attention_arguments(), "--key-padding-mask", file("padding.npy"));
    for (const Shape& shape : {Shape{4}, Shape{4, 2}, Shape{2, 5}, Shape{1, 2, 4}}) {
        write("padding.npy", xt::zeros<double>(shape), mha::NpyType::boolean);
        EXPECT_TRUE(is_input_error(run_mha(arguments), file("padding.npy"), "(B, S) = (2, 4)"));
    }
}

TEST_F(MhaCommand, MaskOfWrongDtypeIsNamed) {
    const auto arguments = with(self_attention_arguments(), "--attn-mask", file("mask.npy"));
    write_raw("mask.npy", "|u1", "(4, 4)", std::string(16, '\0'));  // uint8: PyTorch's deprecated byte masks
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("mask.npy"), "'|u1'"));
}

TEST_F(MhaCommand, MissingOrTruncatedMaskFileIsNamed) {
    const auto arguments = with(self_attention_arguments(), "--key-padding-mask", file("padding.npy"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("padding.npy"), "no such file"));
    write("padding.npy", xt::zeros<double>({2, 4}), mha::NpyType::boolean);
    fs::resize_file(file("padding.npy"), fs::file_size(file("padding.npy")) - 3);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("padding.npy"), "truncated"));
}

TEST_F(MhaCommand, FloatMaskWithNaNOrPlusInfinityIsNamed) {
    const auto arguments = with(self_attention_arguments(), "--attn-mask", file("mask.npy"));
    Array mask = xt::zeros<double>({4, 4});
    mask(2, 1) = NAN;
    write("mask.npy", mask);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("mask.npy"), "(2, 1)"));
    mask(2, 1) = INFINITY;
    write("mask.npy", mask, mha::NpyType::float32);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("mask.npy"), "-inf only"));
}

// ============================================================================
// Outputs that cannot be written
// ============================================================================

TEST_F(MhaCommand, UnwritableOutIsNamed) {
    const auto arguments = self_attention_arguments();
    const std::string in_missing_folder = file("no-such-folder/out.npy");
    EXPECT_TRUE(
        is_input_error(run_mha(with(arguments, "--out", in_missing_folder)), in_missing_folder, "does not exist"));
    const std::string under_a_file = file("query.npy") + "/out.npy";
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--out", under_a_file)), under_a_file, "not a folder"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--out", file("weights"))), file("weights"), "is a folder"));
}

TEST_F(MhaCommand, UnwritableWeightsOutIsNamedBeforeAnythingIsWritten) {
    const auto arguments = with(self_attention_arguments(), "--weights-out", file("no-such-folder/w.npy"));
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("no-such-folder/w.npy"), "--weights-out"));
    EXPECT_FALSE(fs::exists(file("out.npy"))) << "the output was written although the weights could not be";
}

// ============================================================================
// Good runs: the files equal MultiHeadAttention::forward called in this process
// ============================================================================

TEST_F(MhaCommand, SelfAttentionEqualsForwardInProcess) {
    const auto arguments = with(self_attention_arguments(), "--weights-out", file("weights.npy"));
    const Outcome run = run_mha(arguments);
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(run.err, "");
    EXPECT_NE(run.out.find(file("out.npy")), std::string::npos) << run.out;
    const auto expected = module_.forward(query_, query_, query_);
    EXPECT_TRUE(arrays_near(read(file("out.npy")), expected.output, 1e-12));       // (B, L, E) = (2, 4, 8)
    EXPECT_TRUE(arrays_near(read(file("weights.npy")), expected.weights, 1e-12));  // (B, H, L, S) = (2, 2, 4, 4)
}

TEST_F(MhaCommand, Float32QueryGivesFloat32OutputOfTheQueryShape) {
    const auto arguments = with(self_attention_arguments(), "--weights-out", file("weights.npy"));
    write("query.npy", query_, mha::NpyType::float32);
    ASSERT_EQ(run_mha(arguments).status, 0);
    const Array rounded = read(file("query.npy"), mha::NpyType::float32);  // the float32 values, exactly
    const auto expected = module_.forward(rounded, rounded, rounded);
    EXPECT_TRUE(arrays_near(read(file("out.npy"), mha::NpyType::float32), expected.output, 1e-6));
    EXPECT_TRUE(arrays_near(read(file("weights.npy"), mha::NpyType::float32), expected.weights, 1e-6));
}

TEST_F(MhaCommand, OptionValueMayFollowAnEqualsSign) {
    self_attention_arguments();
    const Outcome run = run_mha({"forward", "--weights=" + file("weights"), "--num-heads=2",
                                 "--query=" + file("query.npy"), "--out=" + file("out.npy")});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_TRUE(arrays_near(read(file("out.npy")), module_.forward(query_, query_, query_).output, 1e-12));
}

TEST_F(MhaCommand, UnbatchedQueryGivesUnbatchedOutputAndWeights) {
    mha::MultiHeadAttention module = make_weights(8, 4);
    const Array query = random_array({5, 8});  // (L, E)
    const Array padding{false, false, true, false, true};  // (S)
    const std::vector<std::string> arguments = {
        "forward", "--weights", file("weights"), "--num-heads", "4", "--query", write("query.npy", query),
        "--key-padding-mask", write("padding.npy", padding, mha::NpyType::boolean), "--out", file("out.npy"),
        "--weights-out", file("weights.npy")};
    const Outcome run = run_mha(arguments);
    ASSERT_EQ(run.status, 0) << run.err;

    mha::AttentionMasks masks;
    masks.key_padding_mask = mha::BoolMatrix{{false, false, true, false, true}};  // (1, S)
    const auto expected = module.forward(with_batch_axis(query), with_batch_axis(query), with_batch_axis(query), masks);
    EXPECT_TRUE(arrays_near(read(file("out.npy")), xt::view(expected.output, 0), 1e-12));       // (L, E)
    EXPECT_TRUE(arrays_near(read(file("weights.npy")), xt::view(expected.weights, 0), 1e-12));  // (H, L, S)

    ASSERT_EQ(run_mha(with(arguments, "--average-weights")).status, 0);
    EXPECT_TRUE(arrays_near(read(file("weights.npy")), xt::view(mha::average_over_heads(expected.weights), 0),
                            1e-12));  // (L, S)
    EXPECT_EQ(shape_of(read(file("weights.npy"))), (Shape{5, 5}));

    write("padding.npy", xt::zeros<double>({1, 5}), mha::NpyType::boolean);  // (B, S), but unbatched input
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("padding.npy"), "(S) = (5,)"));
}

TEST_F(MhaCommand, AverageWeightsAreAveragedOverTheHeads) {
    const auto arguments = with(with(self_attention_arguments(), "--weights-out", file("weights.npy")),
                                "--average-weights");
    ASSERT_EQ(run_mha(arguments).status, 0);
    const Array average = read(file("weights.npy"));
    EXPECT_EQ(shape_of(average), (Shape{2, 4, 4}));  // (B, L, S)
    EXPECT_TRUE(arrays_near(average, mha::average_over_heads(module_.forward(query_, query_, query_).weights), 1e-12));
}

TEST_F(MhaCommand, CausalEqualsAnExplicitCausalMaskFile) {
    const auto arguments = with(self_attention_arguments(), "--weights-out", file("weights.npy"));
    ASSERT_EQ(run_mha(with(arguments, "--causal")).status, 0);
    const Array causal_output = read(file("out.npy")), causal_weights = read(file("weights.npy"));

    const std::string mask = write("causal.npy", mha::causal_mask(4, 4), mha::NpyType::boolean);
    ASSERT_EQ(run_mha(with(arguments, "--attn-mask", mask)).status, 0);
    EXPECT_TRUE(arrays_near(causal_output, read(file("out.npy")), 0.0));
    EXPECT_TRUE(arrays_near(causal_weights, read(file("weights.npy")), 0.0));
    EXPECT_EQ(causal_weights(1, 0, 0, 1), 0.0);  // query 0 does not see key 1
    EXPECT_GT(causal_weights(1, 0, 1, 0), 0.0);  // query 1 sees key 0
}

TEST_F(MhaCommand, CrossAttentionWithOwnKeyAndValueSizes) {
    // kdim = 6, vdim = 5: the parameters are q_proj_weight, k_proj_weight and v_proj_weight files.
    mha::MultiHeadAttention module = make_weights(8, 2, true, 6, 5);
    ASSERT_TRUE(fs::exists(file("weights/k_proj_weight.npy")));
    const Array query = random_array({3, 2, 8}), key = random_array({3, 7, 6}), value = random_array({3, 7, 5});
    const Outcome run = run_mha({"forward",
                                 "--weights", file("weights"),
                                 "--num-heads", "2",
                                 "--query", write("query.npy", query),
                                 "--key", write("key.npy", key, mha::NpyType::float32),
                                 "--value", write("value.npy", value),
                                 "--out", file("out.npy"),
                                 "--weights-out", file("weights.npy")});
    ASSERT_EQ(run.status, 0) << run.err;
    const auto expected = module.forward(query, read(file("key.npy"), mha::NpyType::float32), value);
    EXPECT_TRUE(arrays_near(read(file("out.npy")), expected.output, 1e-12));       // (B, L, E) = (3, 2, 8)
    EXPECT_TRUE(arrays_near(read(file("weights.npy")), expected.weights, 1e-12));  // (B, H, L, S) = (3, 2, 2, 7)
}

TEST_F(MhaCommand, AllMasksTogetherEqualForwardInProcess) {
    // A bool (L, S) attn_mask, a bool key_padding_mask (B, S) and the causal mask, with L = 3, S = 4.
    mha::MultiHeadAttention module = make_weights(8, 2);
    const Array query = random_array({2, 3, 8}), memory = random_array({2, 4, 8});
    const mha::BoolMatrix attn_mask = {
        {false, true, false, false}, {false, false, false, true}, {false, true, true, false}};
    const mha::BoolMatrix padding = {{false, false, false, true}, {false, false, true, true}};
    const Outcome run = run_mha({"forward",
                                 "--weights", file("weights"),
                                 "--num-heads", "2",
                                 "--query", write("query.npy", query),
                                 "--key", write("memory.npy", memory),
                                 "--value", file("memory.npy"),
                                 "--attn-mask", write("mask.npy", attn_mask, mha::NpyType::boolean),
                                 "--key-padding-mask", write("padding.npy", padding, mha::NpyType::boolean),
                                 "--causal",
                                 "--out", file("out.npy"),
                                 "--weights-out", file("weights.npy")});
    ASSERT_EQ(run.status, 0) << run.err;
    mha::AttentionMasks masks;
    masks.attention_mask = attn_mask;
    masks.key_padding_mask = padding;
    masks.causal = true;
    const auto expected = module.forward(query, memory, memory, masks);
    EXPECT_TRUE(arrays_near(read(file("out.npy")), expected.output, 1e-12));
    EXPECT_TRUE(arrays_near(read(file("weights.npy")), expected.weights, 1e-12));
    EXPECT_EQ(read(file("weights.npy"))(0, 1, 2, 2), 0.0);  // masked by attn_mask
}

TEST_F(MhaCommand, FloatMaskPerHeadEqualsForwardInProcess) {
    // A float (B·H, L, S) attn_mask in float32, with tilts and -inf, and a float key_padding_mask.
    mha::MultiHeadAttention module = make_weights(8, 2);
    const Array query = random_array({2, 3, 8});
    Array attn_mask = random_array({4, 3, 3});
    attn_mask(1, 0, 2) = attn_mask(3, 2, 1) = -INFINITY;
    const Array padding = {{0.0, -1.5, 0.0}, {0.5, 0.0, -INFINITY}};
    const Outcome run = run_mha({"forward",
                                 "--weights", file("weights"),
                                 "--num-heads", "2",
                                 "--query", write("query.npy", query),
                                 "--attn-mask", write("mask.npy", attn_mask, mha::NpyType::float32),
                                 "--key-padding-mask", write("padding.npy", padding),
                                 "--out", file("out.npy")});
    ASSERT_EQ(run.status, 0) << run.err;
    mha::AttentionMasks masks;
    masks.attention_mask = mha::Tensor3(read(file("mask.npy"), mha::NpyType::float32));
    masks.key_padding_mask = mha::Matrix(padding);
    EXPECT_TRUE(arrays_near(read(file("out.npy")), module.forward(query, query, query, masks).output, 1e-12));
}

TEST_F(MhaCommand, FullyMaskedQueryGetsZeroWeightsNotNaN) {
    // Batch entry 1 pads every key, so its queries have nothing to look at: zero
    // weights, and an output row equal to out_proj's bias (PyTorch gives NaN).
    const auto arguments = with(self_attention_arguments(), "--weights-out", file("weights.npy"));
    const mha::BoolMatrix padding = {{false, true, false, false}, {true, true, true, true}};
    const std::string padding_path = write("padding.npy", padding, mha::NpyType::boolean);
    ASSERT_EQ(run_mha(with(arguments, "--key-padding-mask", padding_path)).status, 0);
    const Array output = read(file("out.npy")), weights = read(file("weights.npy"));
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t e = 0; e < 8; ++e) {
            EXPECT_DOUBLE_EQ(output(1, i, e), module_.output_projection.bias(e));
        }
    }
    EXPECT_TRUE(arrays_near(xt::view(weights, 1), xt::zeros<double>({2, 4, 4}), 0.0));
    EXPECT_NEAR(xt::sum(xt::view(weights, 0, 0, 0))(), 1.0, 1e-12);
}

TEST_F(MhaCommand, ModuleWithoutBias) {
    mha::MultiHeadAttention module = make_weights(6, 3, false);
    ASSERT_FALSE(fs::exists(file("weights/in_proj_bias.npy")));
    const Array query = random_array({1, 3, 6});
    const Outcome run = run_mha({"forward", "--weights", file("weights"), "--num-heads", "3", "--query",
                                 write("query.npy", query), "--out", file("out.npy")});
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_TRUE(arrays_near(read(file("out.npy")), module.forward(query, query, query).output, 1e-12));
}

TEST_F(MhaCommand, FortranOrderQueryReadsAsTheSameValues) {
    const auto arguments = self_attention_arguments();
    const Array query = xt::view(query_, 0);  // (L, E) = (4, 8)
    std::string column_major;
    for (std::size_t e = 0; e < 8; ++e) {
        for (std::size_t l = 0; l < 4; ++l) {
            const double value = query(l, e);
            column_major.append(reinterpret_cast<const char*>(&value), sizeof value);
        }
    }
    const std::string fortran = write_raw("fortran.npy", "<f8", "(4, 8)", column_major, true);
    ASSERT_EQ(run_mha(with(arguments, "--query", fortran)).status, 0);
    const Array fortran_output = read(file("out.npy"));
    ASSERT_EQ(run_mha(with(arguments, "--query", write("c.npy", query))).status, 0);
    EXPECT_TRUE(arrays_near(fortran_output, read(file("out.npy")), 0.0));
}

// ============================================================================
// Files: never crash, never hang, never lose or corrupt a file (issue 13)
// ============================================================================

// The prefix that runs a command as the user nobody when this test runs as root
// (chmod does not stop root), "" when it does not; nullopt if that is impossible.
std::optional<std::string> as_unprivileged_user() {
    if (::geteuid() != 0) {
        return std::string();
    }
    if (std::system("setpriv --reuid=nobody --regid=nogroup --clear-groups true >/dev/null 2>&1") != 0) {
        return std::nullopt;
    }
    return std::string("setpriv --reuid=nobody --regid=nogroup --clear-groups");
}

TEST_F(MhaCommand, OutThatIsAnInputIsRefusedHoweverItIsWritten) {
    const auto arguments = self_attention_arguments();
    const std::string query_bytes = contents(file("query.npy"));
    fs::create_symlink(file("query.npy"), file("link.npy"));
    fs::create_hard_link(file("query.npy"), file("hard.npy"));
    for (const std::string& spelling : {file("query.npy"), std::string("query.npy"), std::string("./query.npy"),
                                        file("weights") + "/../query.npy", file("link.npy"), file("hard.npy")}) {
        SCOPED_TRACE(spelling);
        EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--out", spelling)), "--out", "--query"));
        EXPECT_TRUE(is_input_error(run_mha(with(with(arguments, "--out", file("out.npy")), "--weights-out", spelling)),
                                   "--weights-out", "may not overwrite an input"));
        EXPECT_EQ(contents(file("query.npy")), query_bytes) << "the query was changed";
    }
    const std::string weight = file("weights/in_proj_weight.npy");
    const std::string weight_bytes = contents(weight);
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--out", weight)), "--out", "--weights"));
    EXPECT_EQ(contents(weight), weight_bytes);
    EXPECT_FALSE(fs::exists(file("out.npy")));
}

TEST_F(MhaCommand, OutAndWeightsOutThatAreOneFileUnderTwoSpellingsAreRefused) {
    const auto arguments = with(self_attention_arguments(), "--out", "s.npy");  // relative: the test's folder
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--weights-out", file("s.npy"))), "--weights-out", "--out"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--weights-out", "./s.npy")), "--weights-out", "--out"));
    EXPECT_FALSE(fs::exists(file("s.npy")));
    write("s.npy", xt::zeros<double>({1}));
    fs::create_symlink("s.npy", file("link.npy"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--weights-out", "link.npy")), "--weights-out", "--out"));
    EXPECT_EQ(read(file("s.npy")), (Array{0.0})) << "s.npy was overwritten";
}

TEST_F(MhaCommand, OutputToADeviceOrFifoIsRefusedBeforeComputing) {
    const auto arguments = self_attention_arguments();
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--out", "/dev/full")), "/dev/full", "character device"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--weights-out", "/dev/full")), "/dev/full", "--weights-out"));
    EXPECT_FALSE(fs::exists(file("out.npy"))) << "--out was written although --weights-out could not be";
    ASSERT_EQ(::mkfifo(file("fifo.npy").c_str(), 0600), 0);
    EXPECT_TRUE(is_input_error(run_mha_after("timeout 20", with(arguments, "--out", file("fifo.npy"))), file("fifo.npy"),
                               "FIFO"));
    fs::create_symlink(file("missing/target.npy"), file("dangling.npy"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--out", file("dangling.npy"))), file("dangling.npy"),
                               "symbolic link to a missing file"));
}

TEST_F(MhaCommand, FileSizeLimitLeavesNoFileBehind) {
    auto arguments = self_attention_arguments();
    write("query.npy", random_array({2, 64, 8}));  // an output of 8 KB, beyond the limit
    arguments = with(arguments, "--weights-out", file("weights_out.npy"));
    const std::vector<std::string> before = listing();
    const Outcome run = run_mha_after("ulimit -f 4;", arguments);  // 2 or 4 KB, as the shell counts blocks
    EXPECT_TRUE(is_input_error(run, file("out.npy"), "file too large"));
    EXPECT_NE(run.err.find("nothing was written"), std::string::npos) << run.err;
    EXPECT_EQ(listing(), before) << "a file, or a temporary one, was left behind";
}

TEST_F(MhaCommand, FailedRunLeavesExistingOutputsUntouched) {
    const auto arguments = with(self_attention_arguments(), "--weights-out", file("weights_out.npy"));
    write("query.npy", random_array({2, 64, 8}));
    const std::string old_out = write_bytes("out.npy", "the previous output");
    const std::string old_weights = write_bytes("weights_out.npy", "the previous weights");
    EXPECT_EQ(run_mha_after("ulimit -f 4;", arguments).status, 2);
    EXPECT_EQ(contents(old_out), "the previous output");
    EXPECT_EQ(contents(old_weights), "the previous weights");
}

// SIGTERM when both outputs are written to their temporary files and neither is in place:
// MHA_TEST_SIGNAL_AT makes `mha` send it to itself exactly there (io/cleanup_on_signal.hpp).
TEST_F(MhaCommand, SigtermWhileWritingLeavesNoTemporaryFileAndOutputsUntouched) {
    const auto arguments = with(self_attention_arguments(), "--weights-out", file("weights_out.npy"));
    write_bytes("out.npy", "the previous output");
    const std::vector<std::string> before = listing();
    const Outcome run = run_mha_after("MHA_TEST_SIGNAL_AT=commit:TERM", arguments);
    EXPECT_EQ(run.status, 128 + SIGTERM) << "the shell's status of a program killed by SIGTERM; stderr: " << run.err;
    EXPECT_EQ(listing(), before) << "a temporary file was left behind";
    EXPECT_EQ(contents(file("out.npy")), "the previous output");
}

TEST_F(MhaCommand, WeightsOutThatCannotBeWrittenLeavesOutUntouched) {
    // The output, (1, 2, 8), fits under the limit; the weights, (1, 2, 2, 300), do not.
    make_weights(8, 2);
    const std::vector<std::string> arguments = {
        "forward", "--weights", file("weights"), "--num-heads", "2", "--query", write("q.npy", random_array({1, 2, 8})),
        "--key", write("kv.npy", random_array({1, 300, 8})), "--value", file("kv.npy"),
        "--out", file("out.npy"), "--weights-out", file("w.npy")};
    write_bytes("out.npy", "the previous output");
    const Outcome run = run_mha_after("ulimit -f 4;", arguments);
    EXPECT_TRUE(is_input_error(run, file("w.npy"), "--weights-out"));
    EXPECT_EQ(contents(file("out.npy")), "the previous output") << "--out was replaced although the run failed";
    EXPECT_FALSE(fs::exists(file("w.npy")));
    ASSERT_EQ(run_mha(arguments).status, 0) << "without the limit, the same run succeeds";
    EXPECT_EQ(shape_of(read(file("w.npy"))), (Shape{1, 2, 2, 300}));
}

TEST_F(MhaCommand, FifoOrDeviceAsAnInputIsRefusedAtOnce) {
    const auto arguments = self_attention_arguments();
    ASSERT_EQ(::mkfifo(file("fifo.npy").c_str(), 0600), 0);
    EXPECT_TRUE(is_input_error(run_mha_after("timeout 20", with(arguments, "--query", file("fifo.npy"))),
                               file("fifo.npy"), "FIFO"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--key-padding-mask", "/dev/zero")), "/dev/zero",
                               "character device"));
    fs::remove(file("weights/in_proj_weight.npy"));
    ASSERT_EQ(::mkfifo(file("weights/in_proj_weight.npy").c_str(), 0600), 0);
    EXPECT_TRUE(is_input_error(run_mha_after("timeout 20", arguments), file("weights/in_proj_weight.npy"), "FIFO"));
}

TEST_F(MhaCommand, UnreadableWeightFileIsReportedAsPermissionDenied) {
    const std::optional<std::string> prefix = as_unprivileged_user();
    if (!prefix) {
        GTEST_SKIP() << "running as root without setpriv: no way to be refused permission";
    }
    const auto arguments = self_attention_arguments();
    fs::permissions(file("weights/in_proj_weight.npy"), fs::perms::none);
    EXPECT_TRUE(is_input_error(run_mha_after(*prefix, arguments), file("weights/in_proj_weight.npy"),
                               "permission denied"));
    fs::permissions(file("weights/in_proj_weight.npy"),
                    fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read | fs::perms::others_read);
    fs::permissions(file("query.npy"), fs::perms::none);
    EXPECT_TRUE(is_input_error(run_mha_after(*prefix, arguments), file("query.npy"), "permission denied"));
}

// A query that exists, in a folder this user may not enter, is not "no such file"; nor
// is a loop of symbolic links (both were, found by hand, issue 13).
TEST_F(MhaCommand, QueryBehindAClosedFolderOrInALoopOfLinksIsNamedAsSuch) {
    const auto arguments = self_attention_arguments();
    fs::create_symlink(file("loop2.npy"), file("loop1.npy"));
    fs::create_symlink(file("loop1.npy"), file("loop2.npy"));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--query", file("loop1.npy"))), file("loop1.npy"),
                               "is a loop of symbolic links (--query)"));
    const std::optional<std::string> prefix = as_unprivileged_user();
    if (!prefix) {
        GTEST_SKIP() << "running as root without setpriv: no way to be refused permission";
    }
    fs::create_directory(file("closed"));
    fs::copy_file(file("query.npy"), file("closed/query.npy"));
    fs::permissions(file("closed"), fs::perms::owner_all);  // rwx------: the user nobody may not enter
    EXPECT_TRUE(is_input_error(run_mha_after(*prefix, with(arguments, "--query", file("closed/query.npy"))),
                               file("closed/query.npy"), "cannot be reached: permission denied"));
}

TEST_F(MhaCommand, WeightsWithEmbedDimZeroSaySo) {
    const auto arguments = self_attention_arguments();
    write("weights/in_proj_weight.npy", xt::zeros<double>({0, 0}));
    write("weights/out_proj.weight.npy", xt::zeros<double>({0, 0}));
    fs::remove(file("weights/in_proj_bias.npy"));
    fs::remove(file("weights/out_proj.bias.npy"));
    const Outcome run = run_mha(arguments);
    EXPECT_TRUE(is_input_error(run, file("weights/out_proj.weight.npy"), "E (embed_dim) would be 0"));
    EXPECT_EQ(run.err.find("divisible"), std::string::npos) << run.err;
}

TEST_F(MhaCommand, FloatMasksThatAddUpToInfinityBlameTheMasks) {
    const auto arguments = self_attention_arguments();  // B = 2, L = S = 4
    const std::string attn_mask = write("attn.npy", xt::zeros<double>({4, 4}) + 1e308);
    const std::string padding = write("padding.npy", xt::zeros<double>({2, 4}) + 1e308);
    ASSERT_EQ(run_mha(with(arguments, "--attn-mask", attn_mask)).status, 0) << "1e308 alone is a valid mask";
    const Outcome run = run_mha(with(with(arguments, "--attn-mask", attn_mask), "--key-padding-mask", padding));
    EXPECT_TRUE(is_input_error(run, padding, "--attn-mask " + attn_mask));
    EXPECT_EQ(run.err.find(file("query.npy")), std::string::npos) << "the query is blamed: " << run.err;
    // Where the causal mask removes a key, the two never meet.
    Array upper = xt::zeros<double>({4, 4});
    upper(0, 3) = 1e308;  // query 0, key 3: removed by --causal
    write("attn.npy", upper);
    Array last_key = xt::zeros<double>({2, 4});
    last_key(1, 3) = 1e308;
    write("padding.npy", last_key);
    const auto both = with(with(arguments, "--attn-mask", attn_mask), "--key-padding-mask", padding);
    EXPECT_TRUE(is_input_error(run_mha(both), padding, "index (1, 3)"));
    EXPECT_EQ(run_mha(with(both, "--causal")).status, 0);
}

TEST_F(MhaCommand, Float32InputsNearTheLargestFloatAreRefusedNotWrittenAsInfinity) {
    const auto arguments = self_attention_arguments();
    ASSERT_EQ(run_mha(arguments).status, 0);
    const std::string old_output = contents(file("out.npy"));
    // Finite float32 numbers of 3e38 (the largest is 3.4e38), through an output projection
    // that multiplies by 100: the output is far beyond float32 in double precision.
    write("query.npy", xt::where(random_array({2, 4, 8}) > 0, 3e38, -3e38), mha::NpyType::float32);
    write("weights/out_proj.weight.npy", 100.0 * read(file("weights/out_proj.weight.npy")));
    const Outcome run = run_mha(arguments);
    EXPECT_TRUE(is_input_error(run, "--out", "inf at index ("));
    EXPECT_NE(run.err.find("float32"), std::string::npos) << run.err;
    EXPECT_EQ(contents(file("out.npy")), old_output) << "the output was replaced by a failed run";
    write("query.npy", random_array({2, 4, 8}) * 1e200);  // float64: the scores overflow
    EXPECT_EQ(run_mha(arguments).status, 2);
    EXPECT_EQ(contents(file("out.npy")), old_output);
}

TEST_F(MhaCommand, HostileNpyFilesAreOneLineErrors) {
    const auto arguments = self_attention_arguments();
    const std::string padding = "                                                       \n";
    // A type string of 30,000 digits crashed xtensor's reader (std::regex's recursion).
    const std::string digits = "{'descr': '<" + std::string(30000, '9') + "', 'fortran_order': False, 'shape': (1,), }";
    const std::string long_header = digits + padding;
    const std::string digits_file = std::string("\x93NUMPY\x01\x00", 8) +
                                    static_cast<char>(long_header.size() % 256) +
                                    static_cast<char>(long_header.size() / 256) + long_header;
    write_bytes("digits.npy", digits_file);
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--query", file("digits.npy"))), file("digits.npy"),
                               "holds elements of type"));
    write_bytes("weights/in_proj_weight.npy", digits_file);
    EXPECT_TRUE(is_input_error(run_mha(arguments), file("weights/in_proj_weight.npy"), "holds elements of type"));
    make_weights(8, 2);
    // 'shape' without its ':' made xtensor call back() on an empty string.
    write_raw("no_colon.npy", "<f8", "(1,)", std::string(8, '\0'));
    std::string bytes = contents(file("no_colon.npy"));
    bytes.replace(bytes.find("'shape': (1,), }"), 16, "'shape'}        ");
    write_bytes("no_colon.npy", bytes);
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--query", file("no_colon.npy"))), file("no_colon.npy"),
                               "expected ':' after the key 'shape'"));
    // A bool mask holding bytes other than 0 and 1.
    write_raw("mask.npy", "|b1", "(2, 4)", std::string("\x00\x01\x07\x00\x00\x00\x00\x00", 8));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--key-padding-mask", file("mask.npy"))), file("mask.npy"),
                               "byte 7 at index (0, 2)"));
    // A version 2.0 header length of 4 GiB, and a shape whose size overflows.
    write_bytes("huge_header.npy", std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff{}", 14));
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--query", file("huge_header.npy"))), file("huge_header.npy"),
                               "header length"));
    write_raw("huge_shape.npy", "<f8", "(4294967296, 4294967296, 4294967296)", "");
    EXPECT_TRUE(is_input_error(run_mha(with(arguments, "--query", file("huge_shape.npy"))), file("huge_shape.npy"),
                               "impossibly large"));
}

// ============================================================================
// PyTorch: a golden fixture exported by scripts/export_pytorch_mha.py
// ============================================================================

// tests/fixtures/cli: nn.MultiheadAttention(8, 2, batch_first=True) with random
// biases, float32 cross-attention inputs (B, L, S) = (2, 4, 5) with a bool
// attn_mask, a key_padding_mask and the causal mask, and PyTorch's float64
// results. Its README.txt gives the command that wrote it.
TEST_F(MhaCommand, MatchesPyTorchOnTheGoldenFixture) {
    const std::string fixture = std::string(MHA_FIXTURES_DIR) + "/cli/";
    const std::vector<std::string> arguments = {
        "forward", "--weights", fixture + "weights", "--num-heads", "2", "--query", fixture + "query.npy",
        "--key", fixture + "key.npy", "--value", fixture + "value.npy", "--attn-mask", fixture + "attn_mask.npy",
        "--key-padding-mask", fixture + "key_padding_mask.npy", "--causal", "--out", file("out.npy"),
        "--weights-out", file("weights.npy")};
    const Outcome run = run_mha(arguments);
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_TRUE(arrays_near(read(file("out.npy"), mha::NpyType::float32), read(fixture + "expected_output.npy"), 1e-5));
    EXPECT_TRUE(arrays_near(read(file("weights.npy"), mha::NpyType::float32), read(fixture + "expected_weights.npy"),
                            1e-5));
    ASSERT_EQ(run_mha(with(arguments, "--average-weights")).status, 0);
    EXPECT_TRUE(arrays_near(read(file("weights.npy"), mha::NpyType::float32),
                            read(fixture + "expected_average_weights.npy"), 1e-5));
}

}  // namespace
