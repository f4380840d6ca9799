// What the tests of the `mha` command share: running the real executable, whose
// path CMake passes in as MHA_COMMAND, in a fresh folder per test, and checking
// the one-line error that bad input must give.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#ifndef MHA_COMMAND
#error "MHA_COMMAND must be the path of the mha executable (tests/CMakeLists.txt defines it)"
#endif

namespace mha::testing {

/// What one run of the command did.
struct Outcome {
    int status = -1;  ///< the exit status; -1 if the program did not exit normally (a crash)
    std::string out;  ///< what it wrote on stdout
    std::string err;  ///< what it wrote on stderr
};

/// A word quoted for the shell, so that any argument reaches the program unchanged.
inline std::string quoted(const std::string& word) {
    std::string text = "'";
    for (const char c : word) {
        text += c == '\'' ? std::string("'\\''") : std::string(1, c);
    }
    return text + "'";
}

/// The whole contents of a file ("" if it cannot be read).
inline std::string contents(const std::filesystem::path& path) {
    std::ifstream stream(path, std::ios::binary);
    std::ostringstream text;
    text << stream.rdbuf();
    return text.str();
}

/// Bad input: status 2, exactly one line on stderr, "mha: error: <subject>: <what>",
/// where <what> contains `mentions`, and nothing on stdout.
inline ::testing::AssertionResult is_input_error(const Outcome& run, const std::string& subject,
                                                 const std::string& mentions = "") {
    const std::string prefix = "mha: error: " + subject + ": ";
    if (run.status != 2) {
        return ::testing::AssertionFailure() << "exit status " << run.status << ", expected 2; stderr: " << run.err;
    }
    if (run.err.empty() || run.err.back() != '\n' || run.err.find('\n') != run.err.size() - 1) {
        return ::testing::AssertionFailure() << "stderr is not exactly one line: [" << run.err << "]";
    }
    if (run.err.rfind(prefix, 0) != 0) {
        return ::testing::AssertionFailure() << "stderr does not start with [" << prefix << "]: " << run.err;
    }
    if (run.err.find(mentions) == std::string::npos) {
        return ::testing::AssertionFailure() << "stderr does not mention [" << mentions << "]: " << run.err;
    }
    if (!run.out.empty()) {
        return ::testing::AssertionFailure() << "stdout is not empty: " << run.out;
    }
    return ::testing::AssertionSuccess();
}

/// A fixture with a fresh folder per test (kept when the test fails, to look at)
/// and run_mha(), which runs the command with its output captured there.
class CommandTest : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        folder_ = std::filesystem::temp_directory_path() /
                  ("mha_cli_test." + std::string(test->test_suite_name()) + "." + std::string(test->name()) + "." +
                   std::to_string(::getpid()));
        std::filesystem::remove_all(folder_);
        std::filesystem::create_directories(folder_);
    }

    void TearDown() override {
        if (HasFailure()) {
            std::cout << "The files of this test are kept in " << folder_.string() << "\n";
        } else {
            std::error_code ignored;
            std::filesystem::remove_all(folder_, ignored);
        }
    }

    /// A path in this test's folder.
    std::string file(const std::string& name) const { return (folder_ / name).string(); }

    /// Runs `mha` with these arguments; stdout and stderr are captured in the test's folder.
    Outcome run_mha(const std::vector<std::string>& arguments) const { return run_mha_after("", arguments); }

    /// run_mha() after a shell prefix, such as "ulimit -f 4;" (a file-size limit,
    /// in the shell's blocks) or "timeout 20" (status 124 if it does not end).
    Outcome run_mha_after(const std::string& shell_prefix, const std::vector<std::string>& arguments) const {
        std::string command = shell_prefix + " " + quoted(MHA_COMMAND);
        for (const std::string& argument : arguments) {
            command += " " + quoted(argument);
        }
        command += " >" + quoted(file("stdout.txt")) + " 2>" + quoted(file("stderr.txt"));
        // In the test's folder, so that relative paths such as ./out.npy name files there.
        const int status = std::system(("cd " + quoted(folder_.string()) + " && { " + command + "; }").c_str());
        Outcome run;
        run.status = status != -1 && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        run.out = contents(file("stdout.txt"));
        run.err = contents(file("stderr.txt"));
        return run;
    }

    std::filesystem::path folder_;
};

}  // namespace mha::testing
