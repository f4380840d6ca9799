// Tests of `mha train`'s files (src/cli/train_command.cpp): the folder --out is
// written all or nothing, and every option is range-checked before training.
// They run the real executable, as the other tests of the command do, with
// few training steps: what training learns is lesson 6's trainer_test.cpp.
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/command_runner.hpp"
#include "cli/npy_command_test.hpp"

namespace {

namespace fs = std::filesystem;
using mha::testing::contents;
using mha::testing::is_input_error;
using mha::testing::Outcome;
using Arguments = std::vector<std::string>;

// The files one run writes into --out, as listing() names them.
const std::vector<std::string> written_files = {
    "run",
    "run/heads_after.svg",
    "run/heads_before.svg",
    "run/loss.svg",
    "run/weights",
    "run/weights/layers.0",
    "run/weights/layers.0/in_proj_weight.npy",
    "run/weights/layers.0/out_proj.weight.npy",
    "run/weights/layers.1",
    "run/weights/layers.1/in_proj_weight.npy",
    "run/weights/layers.1/out_proj.weight.npy",
    "run/weights/model.json",
    "run/weights/position_embedding.weight.npy",
    "run/weights/readout.weight.npy",
    "run/weights/token_embedding.weight.npy"};

class MhaTrain : public mha::testing::NpyCommandTest {
protected:
    // A short run of the induction task into the folder "run".
    Arguments short_run() const { return {"train", "--task", "induction", "--steps", "3", "--out", file("run")}; }

    // The last line of stderr: the error, after the progress bar's lines.
    static std::string last_line(const std::string& text) {
        const std::size_t end = text.find_last_not_of('\n');
        const std::size_t start = text.rfind('\n', end);
        return text.substr(start == std::string::npos ? 0 : start + 1, end == std::string::npos ? 0 : end - start);
    }
};

TEST_F(MhaTrain, WritesEveryFileAndNoTemporaryOne) {
    const Outcome run = run_mha(short_run());
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(listing(), written_files);
}

TEST_F(MhaTrain, FileSizeLimitLeavesNothingBehind) {
    const Outcome run = run_mha_after("ulimit -f 8;", short_run());  // 4 or 8 KB; a layer's weights are 24 KB
    EXPECT_EQ(run.status, 2) << run.err;
    EXPECT_EQ(last_line(run.err).rfind("mha: error: --out: ", 0), 0u) << run.err;
    EXPECT_NE(run.err.find("file too large"), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("nothing was written"), std::string::npos) << run.err;
    EXPECT_EQ(run.out, "");
    EXPECT_EQ(listing(), std::vector<std::string>{}) << "the folder it created, or a file, was left behind";
}

TEST_F(MhaTrain, FailedRunLeavesAnEarlierRunUntouched) {
    ASSERT_EQ(run_mha(short_run()).status, 0);
    const std::string weights = contents(file("run/weights/readout.weight.npy"));
    const std::string loss = contents(file("run/loss.svg"));
    Arguments other_seed = short_run();
    other_seed.insert(other_seed.end(), {"--seed", "2"});
    EXPECT_EQ(run_mha_after("ulimit -f 8;", other_seed).status, 2);
    EXPECT_EQ(contents(file("run/weights/readout.weight.npy")), weights);
    EXPECT_EQ(contents(file("run/loss.svg")), loss);
    EXPECT_EQ(listing(), written_files) << "a temporary file or folder was left behind";
    ASSERT_EQ(run_mha(other_seed).status, 0) << "without the limit the same run succeeds";
    EXPECT_NE(contents(file("run/weights/readout.weight.npy")), weights);
}

TEST_F(MhaTrain, OutThatIsNotAFolderIsRefusedBeforeTraining) {
    write_bytes("file.txt", "a file");
    Arguments arguments = short_run();
    arguments.back() = file("file.txt");
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--out", "not a folder"));
    arguments.back() = "/dev/null";
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--out", "not a folder"));
    arguments.back() = file("file.txt") + "/run";
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--out", "not a folder"));
    EXPECT_EQ(contents(file("file.txt")), "a file");
}

TEST_F(MhaTrain, EveryOptionIsRangeChecked) {
    const std::pair<const char*, const char*> refused[] = {
        {"--steps", "100001"},       {"--steps", "18446744073709551615"}, {"--layers", "9"},
        {"--d-model", "257"},        {"--seed", "1000000001"},            {"--heads", "3"},
        {"--heads", "64"},           {"--steps", "0"},                    {"--layers", "-1"},
        {"--d-model", "99999999999999999999999"}};
    for (const auto& [option, value] : refused) {
        SCOPED_TRACE(std::string(option) + " " + value);
        Arguments arguments = short_run();
        arguments.insert(arguments.end(), {option, value});
        EXPECT_TRUE(is_input_error(run_mha(arguments), option));
    }
    EXPECT_FALSE(fs::exists(file("run"))) << "the folder was made although the options were bad";
}

}  // namespace
