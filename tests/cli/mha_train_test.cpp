// Tests of `mha train`'s files (src/cli/train_command.cpp): the folder --out is
// written all or nothing, even when Ctrl-C or SIGTERM stops the run (io/cleanup_on_signal.cpp),
// and every option is range-checked before training.
// They run the real executable, as the other tests of the command do, with
// few training steps: what training learns is lesson 6's trainer_test.cpp.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "cli/command_runner.hpp"
#include "cli/npy_command_test.hpp"
#include "io/model_files.hpp"

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
        {"--d-model", "257"},        {"--seed", "1000000001"},            {"--heads", "5"},
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

// ---- --num-kv-heads (lesson 7): G key/value heads, trained as tied rows of W_k and W_v ----

// H = 4, G = 2, d_model 24 (d_k 6): query heads 0 and 1 read one key/value head, 2 and 3 the
// other, so rows 6-11 of W_k and W_v repeat rows 0-5 and rows 18-23 repeat rows 12-17.
TEST_F(MhaTrain, NumKvHeadsTiesTheKeyAndValueRowsOfEachGroup) {
    Arguments arguments = short_run();
    arguments.insert(arguments.end(), {"--heads", "4", "--num-kv-heads", "2"});
    const Outcome run = run_mha(arguments);
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_NE(run.out.find("\"heads\":4,\"num_kv_heads\":2,"), std::string::npos) << run.out;
    EXPECT_NE(contents(file("run/weights/model.json")).find("\"num_kv_heads\": 2"), std::string::npos);
    EXPECT_EQ(listing(), written_files) << "the same files as without groups";

    const mha::AttentionOnlyTransformer model = mha::load_transformer(file("run/weights"));
    ASSERT_EQ(model.num_heads(), 4u);
    const auto rows = [](const mha::Matrix& weight, std::size_t first) {
        return mha::Matrix(xt::view(weight, xt::range(first, first + 6), xt::all()));
    };
    for (std::size_t l = 0; l < 2; ++l) {
        for (const mha::Matrix* weight :
             {&model.layers[l].key_projection.weight, &model.layers[l].value_projection.weight}) {
            EXPECT_TRUE(rows(*weight, 6) == rows(*weight, 0)) << "layer " << l << ": head 1 should repeat head 0";
            EXPECT_TRUE(rows(*weight, 18) == rows(*weight, 12)) << "layer " << l << ": head 3 should repeat head 2";
            EXPECT_FALSE(rows(*weight, 12) == rows(*weight, 0)) << "layer " << l << ": the two groups differ";
        }
        const mha::Matrix& query = model.layers[l].query_projection.weight;
        EXPECT_FALSE(rows(query, 6) == rows(query, 0)) << "W_q is not shared";
    }

    // Without --num-kv-heads, G = H: today's run, and model.json as lesson 6 writes it.
    fs::remove_all(file("run"));
    const Outcome plain = run_mha(short_run());
    ASSERT_EQ(plain.status, 0) << plain.err;
    EXPECT_NE(plain.out.find("\"heads\":2,\"num_kv_heads\":2,"), std::string::npos) << plain.out;
    EXPECT_EQ(contents(file("run/weights/model.json")).find("num_kv_heads"), std::string::npos);
}

TEST_F(MhaTrain, NumKvHeadsThatDoesNotSplitTheHeadsIsRefused) {
    const std::vector<Arguments> refused = {{"--heads", "4", "--num-kv-heads", "3"},
                                            {"--num-kv-heads", "4"},  // more than the default H = 2
                                            {"--num-kv-heads", "0"},
                                            {"--heads", "4", "--num-kv-heads", "-1"}};
    for (const Arguments& options : refused) {
        Arguments arguments = short_run();
        arguments.insert(arguments.end(), options.begin(), options.end());
        SCOPED_TRACE(arguments.back());
        EXPECT_TRUE(is_input_error(run_mha(arguments), "--num-kv-heads"));
    }
    Arguments three_of_four = short_run();
    three_of_four.insert(three_of_four.end(), {"--heads", "4", "--num-kv-heads", "3"});
    EXPECT_TRUE(is_input_error(run_mha(three_of_four), "--num-kv-heads", "G = 3 does not divide H = 4"));
    Arguments more_than_h = short_run();
    more_than_h.insert(more_than_h.end(), {"--num-kv-heads", "4"});
    EXPECT_TRUE(is_input_error(run_mha(more_than_h), "--num-kv-heads", "G = 4 is more than H = 2"));
    EXPECT_FALSE(fs::exists(file("run"))) << "the folder was made although G was bad";
}

// ---- Stopped by a signal while it works (issue 13) ----

// How a run of `mha` that may be killed ended: the raw status of waitpid().
struct Ending {
    bool exited = false;  // true: it exited, with `code`; false: a signal ended it, `signal_number`
    int code = -1;
    int signal_number = 0;
};

// Runs `mha` as a child of the test itself, not through a shell (a shell may turn "killed
// by SIGINT" into an exit status), with `variable` (NAME=VALUE) added to its environment and
// its output in the test's folder. `while_running` gets its pid; it must not wait for long.
Ending run_and_wait(const std::string& out_file, const std::string& err_file, const Arguments& arguments,
                    std::string variable, const std::function<void(pid_t)>& while_running = {}) {
    std::vector<std::string> words = {MHA_COMMAND};
    words.insert(words.end(), arguments.begin(), arguments.end());
    std::vector<char*> argv;
    for (std::string& word : words) {
        argv.push_back(word.data());
    }
    argv.push_back(nullptr);
    std::vector<char*> environment;
    for (char** entry = environ; *entry != nullptr; ++entry) {
        environment.push_back(*entry);
    }
    if (!variable.empty()) {
        environment.push_back(variable.data());
    }
    environment.push_back(nullptr);
    const pid_t child = ::fork();
    if (child == 0) {  // only async-signal-safe calls until exec
        const int out = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        const int err = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
        ::dup2(out, STDOUT_FILENO);
        ::dup2(err, STDERR_FILENO);
        ::signal(SIGINT, SIG_DFL);  // as a shell would start it, whatever this process ignores
        ::signal(SIGTERM, SIG_DFL);
        ::execve(argv[0], argv.data(), environment.data());
        ::_exit(127);
    }
    if (while_running) {
        while_running(child);
    }
    int status = 0;
    // Two minutes at most: a run that does not end is a failure, not a hung test.
    for (int waited = 0; ::waitpid(child, &status, WNOHANG) == 0; ++waited) {
        if (waited == 1200) {
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
            ADD_FAILURE() << "mha did not end within two minutes; killed";
            break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    Ending ending;
    ending.exited = WIFEXITED(status);
    ending.code = ending.exited ? WEXITSTATUS(status) : -1;
    ending.signal_number = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    return ending;
}

// Ctrl-C at the worst moment: every file written into the temporary folder, none moved
// into place. MHA_TEST_SIGNAL_AT makes `mha` send itself the signal exactly there
// (io/cleanup_on_signal.hpp), so the test does not depend on timing.
TEST_F(MhaTrain, CtrlCWhileWritingLeavesNoTemporaryFileAndEarlierFilesUntouched) {
    ASSERT_EQ(run_mha(short_run()).status, 0);
    const std::string weights = contents(file("run/weights/readout.weight.npy"));
    const std::string loss = contents(file("run/loss.svg"));
    Arguments other_seed = short_run();
    other_seed.insert(other_seed.end(), {"--seed", "2"});
    const Ending ending = run_and_wait(file("stdout.txt"), file("stderr.txt"), other_seed,
                                       "MHA_TEST_SIGNAL_AT=commit:INT");
    EXPECT_FALSE(ending.exited) << "it exited with status " << ending.code << "; stderr: "
                                << contents(file("stderr.txt"));
    EXPECT_EQ(ending.signal_number, SIGINT) << "it must still end killed by SIGINT";
    EXPECT_EQ(listing(), written_files) << "a temporary file or folder was left behind";
    EXPECT_EQ(contents(file("run/weights/readout.weight.npy")), weights);
    EXPECT_EQ(contents(file("run/loss.svg")), loss);
}

TEST_F(MhaTrain, SigtermWhileWritingRemovesTheFolderItCreated) {
    const Ending ending = run_and_wait(file("stdout.txt"), file("stderr.txt"), short_run(),
                                       "MHA_TEST_SIGNAL_AT=commit:TERM");
    EXPECT_EQ(ending.signal_number, SIGTERM) << "exited: " << ending.exited << " " << ending.code;
    EXPECT_EQ(listing(), std::vector<std::string>{}) << "a temporary file, or the folder it created, was left";
}

// A real Ctrl-C from outside, during the training: the run is sure to be training when the
// signal comes, since --out is created just before the first of its 100000 steps (minutes
// of work). The folder it created, still empty, goes with it.
TEST_F(MhaTrain, CtrlCDuringTrainingRemovesTheFolderItCreated) {
    Arguments long_run = short_run();
    long_run[4] = "100000";  // --steps
    const Ending ending =
        run_and_wait(file("stdout.txt"), file("stderr.txt"), long_run, "", [this](pid_t child) {
            for (int waited = 0; !fs::exists(file("run")) && waited < 1200; ++waited) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
            }
            ASSERT_TRUE(fs::exists(file("run"))) << "the run did not create --out within two minutes";
            ::kill(child, SIGINT);
        });
    EXPECT_EQ(ending.signal_number, SIGINT) << "exited: " << ending.exited << " " << ending.code;
    EXPECT_EQ(listing(), std::vector<std::string>{}) << "the folder it created was left behind";
}

// The JSON on stdout is the run's result: a stdout that cannot take it is an error, not
// a silent success (found by hand, issue 13: the exit status was 0).
TEST_F(MhaTrain, StdoutThatCannotBeWrittenIsAnError) {
    const Ending ending = run_and_wait("/dev/full", file("stderr.txt"), short_run(), "");
    EXPECT_TRUE(ending.exited);
    EXPECT_EQ(ending.code, 2);
    const std::string error = last_line(contents(file("stderr.txt")));
    EXPECT_EQ(error.rfind("mha: error: stdout: cannot be written (no space left on the device)", 0), 0u) << error;
}

}  // namespace
