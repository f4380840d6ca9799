// Tests of `mha bench` (src/cli/bench_command.cpp), which times lesson 5's fast
// attention and prints one JSON object. Like mha_command_test.cpp they run the
// real executable, whose path CMake passes in as MHA_COMMAND, and check
//   - a good run: exit status 0, nothing on stderr, exactly one line on stdout
//     that is a JSON object with every field, of the right type and value;
//   - bad options: exit status 2 and one line "mha: error: <option>: ...".
// The shapes are tiny and --repeat 1, so that the tests take milliseconds.
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "cli/command_runner.hpp"

namespace {

namespace fs = std::filesystem;
using Arguments = std::vector<std::string>;
using mha::testing::is_input_error;
using mha::testing::Outcome;

// ---- A small JSON reader: one flat object of numbers and strings ----

// A value of the object: a number or a string.
struct JsonValue {
    std::optional<double> number;
    std::optional<std::string> text;
};

// Reads `{"key": value, ...}` where every value is a number or a string without
// escapes: exactly what `mha bench` prints. nullopt if the text is anything else.
std::optional<std::map<std::string, JsonValue>> parse_flat_json_object(const std::string& json) {
    std::size_t at = 0;
    const auto skip_spaces = [&] {
        while (at < json.size() && std::isspace(static_cast<unsigned char>(json[at])) != 0) {
            ++at;
        }
    };
    const auto take = [&](char expected) {
        skip_spaces();
        if (at < json.size() && json[at] == expected) {
            ++at;
            return true;
        }
        return false;
    };
    const auto read_string = [&]() -> std::optional<std::string> {
        if (!take('"')) {
            return std::nullopt;
        }
        const std::size_t end = json.find('"', at);
        if (end == std::string::npos || json.find('\\', at) < end) {
            return std::nullopt;
        }
        std::string text = json.substr(at, end - at);
        at = end + 1;
        return text;
    };
    std::map<std::string, JsonValue> object;
    if (!take('{')) {
        return std::nullopt;
    }
    if (take('}')) {
        return object;
    }
    do {
        const std::optional<std::string> key = read_string();
        if (!key || !take(':') || object.count(*key) != 0) {
            return std::nullopt;
        }
        skip_spaces();
        JsonValue value;
        if (at < json.size() && json[at] == '"') {
            value.text = read_string();
            if (!value.text) {
                return std::nullopt;
            }
        } else {
            const char* start = json.c_str() + at;
            char* end = nullptr;
            const double number = std::strtod(start, &end);
            if (end == start) {
                return std::nullopt;
            }
            at += static_cast<std::size_t>(end - start);
            value.number = number;
        }
        object[*key] = value;
    } while (take(','));
    if (!take('}')) {
        return std::nullopt;
    }
    skip_spaces();
    return at == json.size() ? std::optional<std::map<std::string, JsonValue>>(object) : std::nullopt;
}

// ---- The fixture: a fresh folder per test for the captured output ----

class MhaBench : public mha::testing::CommandTest {
protected:
    // A good command line: the tiniest shape, one timed pass.
    static Arguments tiny() {
        return {"bench", "--seq-len", "4", "--embed-dim", "8", "--num-heads", "2", "--repeat", "1"};
    }

    // The arguments with `option`'s value replaced, or `option value` added.
    static Arguments with(Arguments arguments, const std::string& option, const std::string& value) {
        for (std::size_t i = 0; i + 1 < arguments.size(); ++i) {
            if (arguments[i] == option) {
                arguments[i + 1] = value;
                return arguments;
            }
        }
        arguments.push_back(option);
        arguments.push_back(value);
        return arguments;
    }

    // The arguments without `option` and its value.
    static Arguments without(Arguments arguments, const std::string& option) {
        for (std::size_t i = 0; i + 1 < arguments.size(); ++i) {
            if (arguments[i] == option) {
                arguments.erase(arguments.begin() + static_cast<std::ptrdiff_t>(i),
                                arguments.begin() + static_cast<std::ptrdiff_t>(i) + 2);
                break;
            }
        }
        return arguments;
    }

    // Runs a good command line and returns its JSON object, checking on the way
    // that it is the only thing printed. Empty (with a test failure) otherwise.
    std::map<std::string, JsonValue> run_json(const Arguments& arguments) const {
        const Outcome run = run_mha(arguments);
        EXPECT_EQ(run.status, 0) << run.err;
        EXPECT_EQ(run.err, "");
        const bool one_line = !run.out.empty() && run.out.back() == '\n' && run.out.find('\n') == run.out.size() - 1;
        EXPECT_TRUE(one_line) << "stdout is not exactly one line: [" << run.out << "]";
        const auto object = parse_flat_json_object(one_line ? run.out.substr(0, run.out.size() - 1) : run.out);
        EXPECT_TRUE(object.has_value()) << "stdout is not a flat JSON object: [" << run.out << "]";
        return object.value_or(std::map<std::string, JsonValue>{});
    }

};

// The number of `key`, failing the test if there is none.
double number_of(const std::map<std::string, JsonValue>& object, const std::string& key) {
    const auto found = object.find(key);
    EXPECT_TRUE(found != object.end() && found->second.number.has_value()) << key << " is not a number";
    return found != object.end() && found->second.number ? *found->second.number : -1.0;
}

// The string of `key`, failing the test if there is none.
std::string text_of(const std::map<std::string, JsonValue>& object, const std::string& key) {
    const auto found = object.find(key);
    EXPECT_TRUE(found != object.end() && found->second.text.has_value()) << key << " is not a string";
    return found != object.end() && found->second.text ? *found->second.text : "";
}

// ============================================================================
// Good runs
// ============================================================================

TEST_F(MhaBench, PrintsOneJsonObjectWithEveryField) {
    const auto object = run_json(with(tiny(), "--batch", "2"));
    EXPECT_EQ(number_of(object, "seq_len"), 4);
    EXPECT_EQ(number_of(object, "embed_dim"), 8);
    EXPECT_EQ(number_of(object, "num_heads"), 2);
    EXPECT_EQ(number_of(object, "batch"), 2);
    EXPECT_EQ(number_of(object, "threads"), 1);
    EXPECT_EQ(number_of(object, "repeat"), 1);
    EXPECT_EQ(text_of(object, "version"), "v5-threaded");  // the default
    const std::string instruction_set = text_of(object, "instruction_set");
    EXPECT_TRUE(instruction_set == "avx512f" || instruction_set == "avx2+fma" || instruction_set == "scalar")
        << instruction_set;
    EXPECT_GT(number_of(object, "median_ms"), 0.0);
    EXPECT_GT(number_of(object, "min_ms"), 0.0);
    EXPECT_LE(number_of(object, "min_ms"), number_of(object, "median_ms"));
    EXPECT_GT(number_of(object, "gflops"), 0.0);
    EXPECT_GT(number_of(object, "peak_rss_mb"), 0.0);
    // gflops is B·(8·L·E² + 4·L²·E) flops over the median time.
    const double flops = 2.0 * (8.0 * 4 * 8 * 8 + 4.0 * 4 * 4 * 8);
    EXPECT_NEAR(number_of(object, "gflops"), flops / (number_of(object, "median_ms") * 1e-3) * 1e-9,
                1e-3 * number_of(object, "gflops"));
}

TEST_F(MhaBench, VersionByNumberOrName) {
    const std::vector<std::string> names = {"v1-blas", "v2-simd", "v3-blocked", "v4-fused", "v5-threaded"};
    for (std::size_t i = 0; i < names.size(); ++i) {
        const std::string name = names[i], number = std::to_string(i + 1);
        for (const std::string& given : {number, "v" + number, name, name.substr(3)}) {
            SCOPED_TRACE(given);
            EXPECT_EQ(text_of(run_json(with(tiny(), "--version", given)), "version"), name);
        }
    }
}

TEST_F(MhaBench, TwoThreadsAndTheEqualsForm) {
    Arguments arguments = tiny();
    arguments.push_back("--threads=2");
    arguments.push_back("--version=fused");
    const auto object = run_json(arguments);
    EXPECT_EQ(number_of(object, "threads"), 2);
    EXPECT_EQ(text_of(object, "version"), "v4-fused");
}

TEST_F(MhaBench, HelpDocumentsBench) {
    for (const Arguments& arguments : {Arguments{"--help"}, Arguments{"bench", "--help"}}) {
        SCOPED_TRACE(arguments.back());
        const Outcome run = run_mha(arguments);
        EXPECT_EQ(run.status, 0);
        EXPECT_EQ(run.err, "");
        for (const char* word : {"mha bench", "--seq-len", "--embed-dim", "--num-heads", "--batch", "--threads",
                                 "--repeat", "--version", "v1-blas", "v5-threaded", "median_ms", "gflops",
                                 "peak_rss_mb", "instruction_set"}) {
            EXPECT_NE(run.out.find(word), std::string::npos) << "the help does not mention " << word;
        }
    }
}

// ============================================================================
// Bad options: status 2, one line naming the option
// ============================================================================

TEST_F(MhaBench, EachMissingRequiredOptionIsNamed) {
    for (const std::string option : {"--seq-len", "--embed-dim", "--num-heads"}) {
        SCOPED_TRACE(option);
        EXPECT_TRUE(is_input_error(run_mha(without(tiny(), option)), option, "required"));
    }
    EXPECT_TRUE(is_input_error(run_mha({"bench"}), "--seq-len", "required"));
}

TEST_F(MhaBench, NonNumericOrZeroNumbersAreRefused) {
    for (const std::string option : {"--seq-len", "--embed-dim", "--num-heads", "--batch", "--threads", "--repeat"}) {
        for (const std::string value : {"x", "12x", "1.5", "-1", "0", " 2", "+2", "1e3"}) {
            SCOPED_TRACE(option + " " + value);
            EXPECT_TRUE(is_input_error(run_mha(with(tiny(), option, value)), option, "'" + value + "'"));
        }
    }
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--seq-len", "99999999999999999999999")), "--seq-len",
                               "too large"));
}

TEST_F(MhaBench, ThreadsZeroIsRefused) {
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--threads", "0")), "--threads", "whole number >= 1"));
}

TEST_F(MhaBench, EmbedDimNotDivisibleByHeadsIsRefused) {
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--num-heads", "3")), "--num-heads", "not divisible"));
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--num-heads", "16")), "--num-heads", "H = 16"));
}

TEST_F(MhaBench, UnknownVersionIsRefused) {
    for (const std::string version : {"v6", "0", "6", "fast", "V4", "v4-blas", "v"}) {
        SCOPED_TRACE(version);
        EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--version", version)), "--version", "'" + version + "'"));
    }
}

TEST_F(MhaBench, HugeShapeIsRefusedBeforeAllocating) {
    const Arguments arguments = with(with(tiny(), "--seq-len", "100000000"), "--embed-dim", "100000000");
    EXPECT_TRUE(is_input_error(run_mha(arguments), "--seq-len", "is more than 1000000"));
    // Each size within its range, together more memory than any machine here has (2 TB).
    const Arguments together = with(with(tiny(), "--seq-len", "1000000"), "--embed-dim", "65536");
    EXPECT_TRUE(is_input_error(run_mha(together), "--seq-len", "GiB of memory"));
}

TEST_F(MhaBench, EveryNumberIsRangeChecked) {
    // 2^64 - 1 fits in a size_t; it used to reach std::vector as --repeat (an internal error, status 1).
    const std::string largest = "18446744073709551615";
    for (const std::string option : {"--repeat", "--threads", "--batch", "--seq-len", "--embed-dim"}) {
        SCOPED_TRACE(option);
        EXPECT_TRUE(is_input_error(run_mha(with(tiny(), option, largest)), option, "is more than"));
    }
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--repeat", "100001")), "--repeat", "100000"));
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--threads", "1025")), "--threads", "1024"));
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--num-heads", largest)), "--num-heads", "divisible"));
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--repeat", "18446744073709551616")), "--repeat", "too large"));
}

TEST_F(MhaBench, UnknownRepeatedOrValuelessOptionIsNamed) {
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--seq", "4")), "--seq", "unknown option"));
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--weights", "w")), "--weights", "unknown option"));
    Arguments repeated = tiny();
    repeated.insert(repeated.end(), {"--seq-len", "8"});
    EXPECT_TRUE(is_input_error(run_mha(repeated), "--seq-len", "twice"));
    Arguments valueless = tiny();
    valueless.push_back("--version");
    EXPECT_TRUE(is_input_error(run_mha(valueless), "--version", "needs a value"));
    EXPECT_TRUE(is_input_error(run_mha(with(tiny(), "--batch", "--repeat")), "--batch", "needs a value"));
    Arguments empty = tiny();
    empty.push_back("--threads=");
    EXPECT_TRUE(is_input_error(run_mha(empty), "--threads", "empty"));
}

TEST_F(MhaBench, StrayArgumentIsNamed) {
    Arguments arguments = tiny();
    arguments.push_back("fast");
    EXPECT_TRUE(is_input_error(run_mha(arguments), "fast", "unexpected argument"));
}

}  // namespace
