// Tests of lesson 7's parts of the `mha` command: `mha forward --num-kv-heads G`
// (src/cli/forward_command.cpp) against NumPy's float64 fixtures, the default
// G = H unchanged, and bad G refused; `mha generate` (src/cli/generate_command.cpp)
// printing the tokens the library generates, and refusing what it cannot decode.
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/command_runner.hpp"
#include "cli/npy_command_test.hpp"
#include "decode/transformer_decoder.hpp"
#include "io/model_files.hpp"

namespace {

using mha::testing::Array;
using mha::testing::is_input_error;
using mha::testing::Outcome;
using Arguments = std::vector<std::string>;

const std::string grouped_fixture = std::string(MHA_FIXTURES_DIR) + "/lesson07/grouped";  // E 8, H 4, G 2, (2, 5, 8)

class MhaForwardGrouped : public mha::testing::NpyCommandTest {
protected:
    Arguments grouped_run(const std::string& num_kv_heads) const {
        return {"forward", "--weights", grouped_fixture, "--num-heads", "4", "--num-kv-heads", num_kv_heads,
                "--query", grouped_fixture + "/x.npy", "--causal", "--out", file("out.npy"),
                "--weights-out", file("w.npy")};
    }
};

TEST_F(MhaForwardGrouped, MatchesNumpyWithKeyValueHeadsRepeated) {
    const Outcome run = run_mha(grouped_run("2"));
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_NE(run.out.find("wrote " + file("out.npy") + ", (2, 5, 8) float64"), std::string::npos) << run.out;
    EXPECT_TRUE(mha::testing::arrays_near(read(file("out.npy")), read(grouped_fixture + "/expected_output.npy"), 1e-12));
    EXPECT_TRUE(mha::testing::arrays_near(read(file("w.npy")), read(grouped_fixture + "/expected_weights.npy"), 1e-12));
}

TEST_F(MhaForwardGrouped, WithoutTheOptionOrWithGEqualToHNothingChanges) {
    mha::RandomGenerator random(12);
    const mha::MultiHeadAttention module = mha::random_multi_head_attention(8, 2, true, random);
    std::filesystem::create_directories(file("weights"));
    mha::save_parameters(module, file("weights"));
    write("q.npy", random_array({3, 4, 8}));
    const Arguments plain = {"forward", "--weights", file("weights"), "--num-heads", "2", "--query", file("q.npy"),
                             "--causal", "--out", file("plain.npy")};
    Arguments explicit_g = plain;
    explicit_g.back() = file("explicit.npy");
    explicit_g.insert(explicit_g.end(), {"--num-kv-heads", "2"});
    ASSERT_EQ(run_mha(plain).status, 0);
    ASSERT_EQ(run_mha(explicit_g).status, 0);
    EXPECT_TRUE(mha::testing::arrays_near(read(file("explicit.npy")), read(file("plain.npy")), 0.0));
}

TEST_F(MhaForwardGrouped, BadGIsOneLineExitTwo) {
    EXPECT_TRUE(is_input_error(run_mha(grouped_run("0")), "--num-kv-heads", "whole number"));
    EXPECT_TRUE(is_input_error(run_mha(grouped_run("two")), "--num-kv-heads", "whole number"));
    EXPECT_TRUE(is_input_error(run_mha(grouped_run("3")), "--num-kv-heads", "G = 3 does not divide --num-heads H = 4"));
    EXPECT_TRUE(is_input_error(run_mha(grouped_run("8")), "--num-kv-heads", "does not divide"));
    // G = 1 does divide H, but the files hold two key/value heads.
    EXPECT_TRUE(is_input_error(run_mha(grouped_run("1")), grouped_fixture + "/k_proj_weight.npy",
                               "has shape (4, 8) but must be (G·d_k, E) with G = 1"));
    // G = H is lesson 4's module, whose k_proj_weight is (E, E).
    EXPECT_TRUE(is_input_error(run_mha(grouped_run("4")), grouped_fixture + "/k_proj_weight.npy", "(4, 8)"));
    Arguments with_key = grouped_run("2");
    with_key.insert(with_key.end(), {"--key", grouped_fixture + "/x.npy"});
    EXPECT_TRUE(is_input_error(run_mha(with_key), "--key", "cannot be used with --num-kv-heads"));
    EXPECT_FALSE(std::filesystem::exists(file("out.npy")));
}

TEST_F(MhaForwardGrouped, APackedFolderIsRefusedNamingWhatIsNeeded) {
    mha::RandomGenerator random(13);
    std::filesystem::create_directories(file("weights"));
    mha::save_parameters(mha::random_multi_head_attention(8, 4, false, random), file("weights"));  // in_proj_weight.npy
    write("q.npy", random_array({2, 8}));
    const Outcome run = run_mha({"forward", "--weights", file("weights"), "--num-heads", "4", "--num-kv-heads", "2",
                                 "--query", file("q.npy"), "--out", file("out.npy")});
    EXPECT_TRUE(is_input_error(run, file("weights"), "holds in_proj_weight.npy"));
}

// ---- mha generate ----

class MhaGenerate : public mha::testing::NpyCommandTest {
protected:
    // A model trained for a few steps: what it generates does not matter, only that the command says it.
    void train(const std::string& task, const std::string& folder) const {
        const Outcome run = run_mha({"train", "--task", task, "--steps", "3", "--out", file(folder)});
        ASSERT_EQ(run.status, 0) << run.err;
    }
};

TEST_F(MhaGenerate, PrintsTheTokensTheLibraryGeneratesAndTheLastStepsAttention) {
    train("induction", "run");
    const Outcome run = run_mha({"generate", "--model", file("run"), "--prompt", "14, 0, 9 1 13 6 3 11 7 2 5 3 11",
                                 "--max-new-tokens", "3"});
    ASSERT_EQ(run.status, 0) << run.err;
    const mha::AttentionOnlyTransformer model = mha::load_transformer(file("run/weights"));
    const mha::Generation expected = mha::generate_greedy(model, {14, 0, 9, 1, 13, 6, 3, 11, 7, 2, 5, 3, 11}, 3);
    std::ostringstream tokens;
    tokens << "generated: " << expected.tokens[0] << " " << expected.tokens[1] << " " << expected.tokens[2] << "\n";
    EXPECT_NE(run.out.find("prompt: 14 0 9 1 13 6 3 11 7 2 5 3 11\n"), std::string::npos) << run.out;
    EXPECT_NE(run.out.find(tokens.str()), std::string::npos) << run.out << "expected " << tokens.str();
    EXPECT_NE(run.out.find("the query at position 14"), std::string::npos) << run.out;  // 13 + 3 − 1 positions fed
    EXPECT_NE(run.out.find("layer 1, head 1"), std::string::npos) << run.out;
    EXPECT_TRUE(run.err.empty()) << run.err;
}

TEST_F(MhaGenerate, BadInputIsOneLineExitTwo) {
    train("induction", "run");
    const auto generate = [&](const std::string& model, const std::string& prompt, const std::string& count) {
        return run_mha({"generate", "--model", file(model), "--prompt", prompt, "--max-new-tokens", count});
    };
    EXPECT_TRUE(is_input_error(generate("missing", "1 2", "2"), file("missing"), "no such folder"));
    EXPECT_TRUE(is_input_error(generate("run", "1 x 2", "2"), "--prompt", "'x' is not a token id"));
    EXPECT_TRUE(is_input_error(generate("run", "1 16", "2"), "--prompt", "from 0 to 15"));
    EXPECT_TRUE(is_input_error(generate("run", "-1", "2"), "--prompt", "'-1' is not a token id"));
    EXPECT_TRUE(is_input_error(generate("run", " , ", "2"), "--prompt", "holds no token id"));
    EXPECT_TRUE(is_input_error(generate("run", "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 0 1", "1"), "--prompt",
                               "has 17 tokens but the model's position embedding covers 16 positions"));
    EXPECT_TRUE(is_input_error(generate("run", "1 2 3 4 5 6 7 8 9 10", "8"), "--max-new-tokens", "at most 7 more fit"));
    EXPECT_TRUE(is_input_error(generate("run", "1 2", "0"), "--max-new-tokens", "whole number"));
    EXPECT_EQ(generate("run", "1 2 3 4 5 6 7 8 9 10", "7").status, 0);  // 10 + 7 − 1 = 16 fits
}

TEST_F(MhaGenerate, ANonCausalModelIsRefused) {
    train("coreference", "coreference");
    EXPECT_TRUE(is_input_error(
        run_mha({"generate", "--model", file("coreference"), "--prompt", "1 2", "--max-new-tokens", "1"}),
        file("coreference"), "is not causal"));
}

}  // namespace
