// Lesson 4 tests: the course's own .npy reader and writer (src/io/npy_header.cpp,
// src/io/npy_file.cpp) and the checked file handling under them (src/io/file_status.cpp,
// input_file.cpp, output_files.cpp): a strict header
// parser, exact types and shapes, sizes checked before anything is allocated,
// only regular files read (never waiting on a FIFO), every write checked, and
// outputs written all or nothing. Hostile files are written byte by byte.
// (The tests of read_npy on truncated and non-.npy files are in parameter_files_test.cpp.)
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/tensor.hpp"
#include "io/file_status.hpp"
#include "io/output_files.hpp"
#include "io/npy_file.hpp"
#include "test_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using mha::NpyType;
using mha::testing::thrown_message;

// A version 1.0 .npy file: preamble, the dict as given (padded, ended by a newline), then the data.
std::string npy_bytes(const std::string& dict, const std::string& data = "", int version = 1) {
    std::string header = dict;
    const std::size_t preamble = version == 1 ? 10 : 12;
    header += std::string((64 - (preamble + header.size() + 1) % 64) % 64, ' ') + "\n";
    std::string bytes = std::string("\x93NUMPY", 6) + static_cast<char>(version) + '\0';
    for (std::size_t i = 0; i < preamble - 8; ++i) {
        bytes += static_cast<char>((header.size() >> (8 * i)) & 0xff);
    }
    return bytes + header + data;
}

std::string dict(const std::string& descr, const std::string& shape, bool fortran = false) {
    return "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False") + ", 'shape': " + shape +
           ", }";
}

template <class T>
std::string raw(std::initializer_list<T> values) {
    std::string bytes;
    for (const T value : values) {
        bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
    }
    return bytes;
}

// Runs `body` in a child process (for what must not touch this one: another user,
// a file-size limit) and returns what it wrote to the pipe, or "timed out".
std::string in_child(const std::function<std::string()>& body, int seconds = 20) {
    int pipe_ends[2];
    if (::pipe(pipe_ends) != 0) {
        return "pipe failed";
    }
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(pipe_ends[0]);
        std::string result;
        try {
            result = body();
        } catch (const std::exception& error) {
            result = std::string("exception: ") + error.what();
        }
        (void)!::write(pipe_ends[1], result.data(), result.size());
        ::_exit(0);
    }
    ::close(pipe_ends[1]);
    int status = 0;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (::waitpid(child, &status, WNOHANG) == 0) {
        if (std::chrono::steady_clock::now() > deadline) {
            ::kill(child, SIGKILL);
            ::waitpid(child, &status, 0);
            ::close(pipe_ends[0]);
            return "timed out";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::string result;
    char buffer[4096];
    for (ssize_t got; (got = ::read(pipe_ends[0], buffer, sizeof buffer)) > 0;) {
        result.append(buffer, static_cast<std::size_t>(got));
    }
    ::close(pipe_ends[0]);
    return result;
}

// What read_npy throws for this file, in a child process that must end within seconds.
std::string refusal_in_child(const std::string& path) {
    return in_child([&] {
        try {
            mha::read_npy(path);
            return std::string("read without an error");
        } catch (const std::runtime_error& error) {
            return std::string(error.what());
        }
    });
}

class NpyReader : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        folder_ = fs::temp_directory_path() /
                  ("mha_lesson04_npy_" + std::to_string(::getpid()) + "_" + test->name());
        fs::remove_all(folder_);
        fs::create_directories(folder_);
    }
    void TearDown() override {
        std::error_code ignored;
        fs::permissions(folder_, fs::perms::all, ignored);
        fs::remove_all(folder_, ignored);
    }

    std::string file(const std::string& name) const { return (folder_ / name).string(); }

    std::string write_bytes(const std::string& name, const std::string& bytes) const {
        std::ofstream(file(name), std::ios::binary) << bytes;
        return file(name);
    }

    std::string read_bytes(const std::string& name) const {
        std::ifstream stream(file(name), std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());
    }

    // What read_npy throws for these bytes, checking that it is one line starting with the path.
    std::string refusal(const std::string& bytes) {
        const std::string path = write_bytes("bad.npy", bytes);
        const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy(path); });
        EXPECT_EQ(message.rfind(path + ": ", 0), 0u) << message;
        EXPECT_EQ(message.find('\n'), std::string::npos) << message;
        return message;
    }

    // The names in the folder, hidden ones included.
    std::vector<std::string> names() const {
        std::vector<std::string> found;
        for (const auto& entry : fs::directory_iterator(folder_)) {
            found.push_back(entry.path().filename().string());
        }
        std::sort(found.begin(), found.end());
        return found;
    }

    fs::path folder_;
};

// ---- The header parser ----

TEST_F(NpyReader, HeaderParserReadsWhatNumPyWrites) {
    const std::string bytes = npy_bytes(dict("<f4", "(2, 3)", true));
    const mha::NpyHeader header = mha::parse_npy_header(bytes.data(), bytes.size());
    EXPECT_EQ(header.major_version, 1);
    EXPECT_EQ(header.descr, "<f4");
    EXPECT_TRUE(header.fortran_order);
    EXPECT_EQ(header.shape, (std::vector<std::size_t>{2, 3}));
    EXPECT_EQ(header.data_offset, 128u);  // 10 + 118 bytes of header, padded as NumPy pads it
    // Keys in any order, double quotes, no trailing comma, no spaces; a 1-D and a 0-D shape.
    const std::string other = npy_bytes("{\"shape\":(5,),\"descr\":\"|b1\",\"fortran_order\":False}");
    const mha::NpyHeader reordered = mha::parse_npy_header(other.data(), other.size());
    EXPECT_EQ(reordered.descr, "|b1");
    EXPECT_EQ(reordered.shape, (std::vector<std::size_t>{5}));
    const std::string scalar = npy_bytes(dict("<f8", "()"), "", 2);
    EXPECT_EQ(mha::parse_npy_header(scalar.data(), scalar.size()).shape, std::vector<std::size_t>{});
}

// The length of the whole header from the first bytes alone, as the format's
// definition gives it: 10 + the 2-byte length in version 1.0, 12 + the 4-byte one after.
TEST_F(NpyReader, HeaderEndIsReadFromTheFirstBytes) {
    EXPECT_EQ(mha::npy_header_end("\x93NUMPY\x01\x00\x76\x00", 10), 10u + 0x76);
    EXPECT_EQ(mha::npy_header_end("\x93NUMPY\x02\x00\x00\x01\x00\x00", 12), 12u + 0x100);
    EXPECT_EQ(mha::npy_header_end("\x93NUMPY\x03\x00\x10\x00\x0f\x00", 12), 12u + 0x0f0010);
    const std::string too_long = thrown_message<std::runtime_error>(
        [] { mha::npy_header_end("\x93NUMPY\x02\x00\x01\x00\x10\x00", 12); });  // 0x100001 = 2^20 + 1
    EXPECT_NE(too_long.find("1048577 bytes"), std::string::npos) << too_long;
    EXPECT_NE(thrown_message<std::runtime_error>([] { mha::npy_header_end("\x93NUMPY\x02\x00\x00", 11); })
                  .find("cut short"),
              std::string::npos);
    EXPECT_NE(thrown_message<std::runtime_error>([] { mha::npy_header_end("PK\x03\x04 zip file", 12); })
                  .find("does not start with"),
              std::string::npos);
}

TEST_F(NpyReader, MalformedHeadersAreRefusedNamingTheProblem) {
    const std::pair<std::string, std::string> cases[] = {
        {"{'descr': '<f8', 'fortran_order': False, 'shape'}", "expected ':' after the key 'shape'"},
        {"{'descr': '<f8', 'fortran_order': False}", "no 'shape'"},
        {"{'descr': '<f8', 'descr': '<f8', 'fortran_order': False, 'shape': ()}", "given twice"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (), 'extra': 1}", "unexpected key 'extra'"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3)}", "a 1-D shape is written (n,)"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (-3,)}", "expected a size"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (03,)}", "leading zero"},
        {"{'descr': '<f8', 'fortran_order': false, 'shape': (3,)}", "True or False"},
        {"{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (3,)}", "structured"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (3,)} junk", "after the dict"},
        {"{'descr': '<f8, 'fortran_order': False, 'shape': (3,)}", "expected ',' or '}'"},
        {"{'descr': '', 'fortran_order': False, 'shape': (3,)}", "'descr' is empty"},
        {"{'descr': '<f8', 'fortran_order': False, 'shape': (18446744073709551616,)}", "too large"},
        {"['descr', '<f8']", "must be a dict"},
    };
    for (const auto& [text, expected] : cases) {
        SCOPED_TRACE(text);
        const std::string message = refusal(npy_bytes(text, raw<double>({1.0, 2.0, 3.0})));
        EXPECT_NE(message.find("not a valid .npy file"), std::string::npos) << message;
        EXPECT_NE(message.find(expected), std::string::npos) << message;
    }
}

TEST_F(NpyReader, HeaderWithoutItsNewlineOrTooLongIsRefused) {
    std::string bytes = npy_bytes(dict("<f8", "(1,)"), raw<double>({1.0}));
    bytes[bytes.size() - 9] = ' ';  // the header's last byte, its newline, just before the 8 bytes of data
    EXPECT_NE(refusal(bytes).find("does not end with a newline"), std::string::npos);
    // Version 2.0's 4-byte length can claim 4 GiB; it is refused before anything is read or allocated.
    const std::string huge = std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + "{}";
    EXPECT_NE(refusal(huge).find("more than the 1048576"), std::string::npos);
    // Versions 1.0, 2.0 and 3.0 only.
    EXPECT_NE(refusal(npy_bytes(dict("<f8", "()"), raw<double>({1.0}), 4)).find("unsupported version 4.0"),
              std::string::npos);
}

TEST_F(NpyReader, TooManyDimensionsAreRefused) {
    std::string shape = "(";
    for (int i = 0; i < 65; ++i) shape += "1, ";
    shape += ")";
    EXPECT_NE(refusal(npy_bytes(dict("<f8", shape), raw<double>({1.0}))).find("more than 64 dimensions"),
              std::string::npos);
}

// ---- Types, shapes and data ----

TEST_F(NpyReader, VersionsTwoAndThreeAndEveryLayoutAreRead) {
    for (const int version : {1, 2, 3}) {
        SCOPED_TRACE(version);
        write_bytes("v.npy", npy_bytes(dict("<f4", "(2, 2)"), raw<float>({1.5f, -2.0f, 3.0f, 4.0f}), version));
        const mha::NpyArray read = mha::read_npy(file("v.npy"));
        EXPECT_EQ(read.type, NpyType::float32);
        EXPECT_EQ(read.values, (xt::xarray<double>{{1.5, -2.0}, {3.0, 4.0}}));
    }
    // A 3-D Fortran-ordered array: element (i, j, k) is stored at i + 2j + 6k.
    std::string column_major;
    for (int k = 0; k < 2; ++k)
        for (int j = 0; j < 3; ++j)
            for (int i = 0; i < 2; ++i) column_major += raw<double>({100.0 * i + 10.0 * j + k});
    write_bytes("f.npy", npy_bytes(dict("<f8", "(2, 3, 2)", true), column_major));
    const xt::xarray<double> values = mha::read_npy(file("f.npy")).values;
    ASSERT_EQ(mha::shape_string(values), "(2, 3, 2)");
    for (std::size_t i = 0; i < 2; ++i)
        for (std::size_t j = 0; j < 3; ++j)
            for (std::size_t k = 0; k < 2; ++k) EXPECT_EQ(values(i, j, k), 100.0 * i + 10.0 * j + k);
}

TEST_F(NpyReader, ScalarsAndEmptyArraysAreRead) {
    write_bytes("scalar.npy", npy_bytes(dict("<f8", "()"), raw<double>({42.0})));
    const mha::NpyArray scalar = mha::read_npy(file("scalar.npy"));
    EXPECT_EQ(scalar.values.dimension(), 0u);
    EXPECT_EQ(scalar.values(), 42.0);
    write_bytes("empty.npy", npy_bytes(dict("<f8", "(0, 7)")));
    EXPECT_EQ(mha::shape_string(mha::read_npy(file("empty.npy")).values), "(0, 7)");
}

TEST_F(NpyReader, ShapesTooLargeToCountAreRefusedBeforeAllocating) {
    // 2^32 · 2^32 · 2^32 elements: the product overflows 64 bits.
    EXPECT_NE(refusal(npy_bytes(dict("<f8", "(4294967296, 4294967296, 4294967296)"))).find("impossibly large"),
              std::string::npos);
    // 2^61 float64 elements: the count fits, the bytes do not.
    EXPECT_NE(refusal(npy_bytes(dict("<f8", "(2305843009213693952,)"))).find("impossibly large"), std::string::npos);
    // Empty, yet its other sizes multiply beyond 2^63, which xtensor's signed strides cannot hold (found by fuzzing).
    EXPECT_NE(refusal(npy_bytes(dict("<f4", "(0, 4294967296, 4294967296)"))).find("impossibly large"),
              std::string::npos);
    // Countable, but far more than the file holds: an error, not an allocation of 8 GB.
    EXPECT_NE(refusal(npy_bytes(dict("<f8", "(1000000000,)"), raw<double>({1.0}))).find("promises 8000000000 bytes"),
              std::string::npos);
}

TEST_F(NpyReader, FileLargerThanMemoryIsRefusedBeforeReading) {
    // A sparse file of 800 GB costs nothing on disk; reading it would need 1.6 TB of memory.
    const std::string path = write_bytes("sparse.npy", npy_bytes(dict("<f8", "(100000000000,)")));
    std::error_code error;
    fs::resize_file(path, fs::file_size(path) + 800'000'000'000ull, error);
    if (error) {
        GTEST_SKIP() << "this file system has no sparse files: " << error.message();
    }
    const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy(path); });
    EXPECT_NE(message.find("MiB of memory to read, more than this machine's"), std::string::npos) << message;
}

TEST_F(NpyReader, BoolBytesOtherThanZeroOrOneAreRefused) {
    const std::string message = refusal(npy_bytes(dict("|b1", "(2, 3)"), std::string("\x00\x01\x01\x00\x07\x01", 6)));
    EXPECT_NE(message.find("holds the byte 7 at index (1, 1) of a bool array"), std::string::npos) << message;
    write_bytes("good.npy", npy_bytes(dict("|b1", "(3,)"), std::string("\x00\x01\x01", 3)));
    EXPECT_EQ(mha::read_npy(file("good.npy")).values, (xt::xarray<double>{0.0, 1.0, 1.0}));
}

TEST_F(NpyReader, TypesAreReadExactlyAndOthersRefusedByName) {
    const std::pair<std::string, std::string> refused[] = {
        {">f8", "big-endian float64"}, {"<f2", "float16"}, {"|u1", "uint8"}, {"<i4", "int32"}, {"f8", "'f8'"},
        {"<f8 ", "'<f8 '"}};
    for (const auto& [descr, name] : refused) {
        SCOPED_TRACE(descr);
        const std::string message = refusal(npy_bytes(dict(descr, "(1,)"), std::string(8, '\0')));
        EXPECT_NE(message.find("holds elements of type"), std::string::npos) << message;
        EXPECT_NE(message.find(name), std::string::npos) << message;
    }
    // A type string of 30,000 digits (it crashed xtensor's reader): one short line.
    const std::string message = refusal(npy_bytes(dict("<" + std::string(30000, '9'), "(1,)")));
    EXPECT_NE(message.find("(30001 characters)"), std::string::npos) << message;
    EXPECT_LT(message.size(), 300u) << message;
}

TEST_F(NpyReader, Int64IsReadAsExactIntegers) {
    const std::int64_t large = (std::int64_t{1} << 62) + 1;  // not a double: 2^62 + 1 would round
    const xt::xarray<std::int64_t> ids = {{3, -1, large}, {0, std::numeric_limits<std::int64_t>::min(), 7}};
    mha::write_npy_int64(file("ids.npy"), ids);
    EXPECT_EQ(mha::read_npy_int64(file("ids.npy")), ids);
    mha::write_npy(file("floats.npy"), xt::zeros<double>({2}), NpyType::float64);
    const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy_int64(file("floats.npy")); });
    EXPECT_NE(message.find("'<f8' (float64); expected int64 ('<i8')"), std::string::npos) << message;
}

TEST_F(NpyReader, BytesInMemoryAreReadAsFilesAre) {
    const std::string bytes = npy_bytes(dict("<f8", "(2,)"), raw<double>({0.5, -0.25}));
    EXPECT_EQ(mha::read_npy_bytes(bytes.data(), bytes.size(), "x.npy").values, (xt::xarray<double>{0.5, -0.25}));
    const std::string message =
        thrown_message<std::runtime_error>([&] { mha::read_npy_bytes(bytes.data(), bytes.size() - 1, "x.npy"); });
    EXPECT_EQ(message.rfind("x.npy: is truncated or corrupt", 0), 0u) << message;
}

// ---- Only regular files are read; never waited on ----

TEST_F(NpyReader, FoldersFifosAndDevicesAreRefusedAtOnce) {
    EXPECT_NE(refusal_in_child(folder_.string()).find("is a folder"), std::string::npos);
    ASSERT_EQ(::mkfifo(file("fifo.npy").c_str(), 0600), 0);
    const std::string fifo = refusal_in_child(file("fifo.npy"));  // "timed out" if it waited for a writer
    EXPECT_NE(fifo.find("is a FIFO (named pipe), not a regular file"), std::string::npos) << fifo;
    EXPECT_NE(refusal_in_child("/dev/zero").find("character device"), std::string::npos);
    fs::create_symlink(file("nowhere.npy"), file("dangling.npy"));
    EXPECT_NE(refusal_in_child(file("dangling.npy")).find("symbolic link to a missing file"), std::string::npos);
    EXPECT_NE(refusal_in_child(file("absent.npy")).find("cannot open the file (no such file)"), std::string::npos);
}

TEST_F(NpyReader, UnreadableFileIsPermissionDeniedNotMissing) {
    mha::write_npy(file("secret.npy"), xt::zeros<double>({2}), NpyType::float64);
    fs::permissions(file("secret.npy"), fs::perms::none);
    const std::string message = in_child([&] {
        // As root, chmod does not stop reading: become the user nobody in this child first.
        if (::geteuid() == 0 && (::setgid(65534) != 0 || ::setuid(65534) != 0)) {
            return std::string("cannot become nobody");
        }
        try {
            mha::read_npy(file("secret.npy"));
            return std::string("read without an error");
        } catch (const std::runtime_error& error) {
            return std::string(error.what());
        }
    });
    EXPECT_EQ(message, file("secret.npy") + ": cannot open the file (permission denied)");
}

// ---- Writing: every write checked ----

TEST_F(NpyReader, WriterRoundTripsAndRoundsFloat32AsIEEEDoes) {
    const double largest = std::numeric_limits<float>::max();
    const xt::xarray<double> values = {0.1, -2.5, largest * (1 + 1e-9), 1e39, -1e39};
    mha::write_npy(file("f4.npy"), values, NpyType::float32);
    const xt::xarray<double> read = mha::read_npy(file("f4.npy")).values;
    EXPECT_EQ(read(0), static_cast<double>(0.1f));
    EXPECT_EQ(read(1), -2.5);
    EXPECT_EQ(read(2), largest) << "within half a unit of the largest float: rounds to it";
    EXPECT_EQ(read(3), std::numeric_limits<double>::infinity());
    EXPECT_EQ(read(4), -std::numeric_limits<double>::infinity());
    // NumPy's own layout: the data starts at a multiple of 64 bytes.
    EXPECT_EQ((read_bytes("f4.npy").size() - 5 * 4) % 64, 0u);
}

TEST_F(NpyReader, WriteErrorsAreReportedAndLeaveNoPartialFile) {
    const std::string device = thrown_message<std::runtime_error>(
        [&] { mha::write_npy("/dev/full", xt::zeros<double>({4}), NpyType::float64); });
    EXPECT_NE(device.find("/dev/full: cannot be written: it is a character device"), std::string::npos) << device;
    const std::string folder = thrown_message<std::runtime_error>(
        [&] { mha::write_npy(file("missing/x.npy"), xt::zeros<double>({4}), NpyType::float64); });
    EXPECT_NE(folder.find("does not exist"), std::string::npos) << folder;
    // A file-size limit of 4 KB against 80 KB of data, in a child process.
    const std::string limited = in_child([&] {
        std::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{4096, 4096};
        ::setrlimit(RLIMIT_FSIZE, &limit);
        try {
            mha::write_npy(file("big.npy"), xt::zeros<double>({10000}), NpyType::float64);
            return std::string("written without an error");
        } catch (const std::runtime_error& error) {
            return std::string(error.what());
        }
    });
    EXPECT_NE(limited.find("big.npy: cannot be written (file too large"), std::string::npos) << limited;
    EXPECT_FALSE(fs::exists(file("big.npy"))) << "the partial file was left behind";
}

// ---- Outputs all or nothing; the identity of files ----

TEST_F(NpyReader, OutputFilesAppearTogetherOrNotAtAll) {
    write_bytes("a.npy", "old a");
    {
        mha::OutputFiles outputs;
        mha::write_npy(outputs.add(file("a.npy")), xt::zeros<double>({1}), NpyType::float64);
        mha::write_npy(outputs.add(file("b.npy")), xt::zeros<double>({1}), NpyType::float64);
        EXPECT_EQ(read_bytes("a.npy"), "old a") << "replaced before commit()";
        EXPECT_EQ(names().size(), 3u) << "a.npy and two temporary files";
    }  // no commit(): a failure
    EXPECT_EQ(names(), std::vector<std::string>{"a.npy"}) << "a temporary file was left behind";
    EXPECT_EQ(read_bytes("a.npy"), "old a");

    mha::OutputFiles outputs;
    mha::write_npy(outputs.add(file("a.npy")), xt::ones<double>({1}), NpyType::float64);
    mha::write_npy(outputs.add(file("b.npy")), xt::ones<double>({2}), NpyType::float64);
    EXPECT_EQ(outputs.commit(), (std::vector<std::string>{file("a.npy"), file("b.npy")}));
    EXPECT_EQ(names(), (std::vector<std::string>{"a.npy", "b.npy"}));
    EXPECT_EQ(mha::read_npy(file("b.npy")).values, (xt::xarray<double>{1.0, 1.0}));
}

TEST_F(NpyReader, OutputFilesRefuseWhatCannotBeAnOutputAndKeepFilesWhenAPlaceIsTaken) {
    mha::OutputFiles refused;
    EXPECT_NE(thrown_message<std::runtime_error>([&] { refused.add("/dev/full"); }).find("character device"),
              std::string::npos);
    EXPECT_NE(thrown_message<std::runtime_error>([&] { refused.add(folder_.string()); }).find("a folder"),
              std::string::npos);
    EXPECT_NE(thrown_message<std::runtime_error>([&] { refused.add(file("no/such/folder.npy")); })
                  .find("does not exist"),
              std::string::npos);
    refused.add(file("x.npy"));
    EXPECT_NE(thrown_message<std::runtime_error>([&] { refused.add(folder_.string() + "/./x.npy"); }).find("same file"),
              std::string::npos);

    // A folder appears where the second file should go: commit() fails, and the first keeps its old contents.
    write_bytes("a.npy", "old a");
    mha::OutputFiles outputs;
    mha::write_file(outputs.add(file("a.npy")), "new a");
    mha::write_file(outputs.add(file("b.npy")), "new b");
    fs::create_directory(file("b.npy"));
    EXPECT_NE(thrown_message<std::runtime_error>([&] { outputs.commit(); }).find("it is a folder"), std::string::npos);
    EXPECT_EQ(read_bytes("a.npy"), "old a");
}

TEST_F(NpyReader, OutputFilesFollowSymbolicLinksAndStageFolders) {
    write_bytes("target.npy", "old");
    fs::create_symlink("target.npy", file("link.npy"));
    {
        mha::OutputFiles outputs;
        mha::write_file(outputs.add(file("link.npy")), "new");
        outputs.commit();
    }
    EXPECT_TRUE(fs::is_symlink(file("link.npy"))) << "the link was replaced instead of its target";
    EXPECT_EQ(read_bytes("target.npy"), "new");

    {  // A folder of outputs that fails: the folders created are removed again.
        mha::OutputFiles outputs;
        outputs.create_folder(file("run/deeper"));
        const std::string staging = outputs.add_folder(file("run/deeper"));
        mha::write_file(staging + "/x.txt", "x");
    }
    EXPECT_FALSE(fs::exists(file("run")));
    mha::OutputFiles outputs;
    outputs.create_folder(file("run"));
    const std::string staging = outputs.add_folder(file("run"));
    fs::create_directories(staging + "/weights/layers.0");
    mha::write_file(staging + "/weights/layers.0/w.txt", "w");
    mha::write_file(staging + "/loss.svg", "svg");
    EXPECT_EQ(outputs.commit().size(), 2u);
    EXPECT_EQ(read_bytes("run/weights/layers.0/w.txt"), "w");
    EXPECT_EQ(std::distance(fs::directory_iterator(file("run")), fs::directory_iterator()), 2)
        << "the temporary folder was left behind";
}

TEST_F(NpyReader, FileIdentityCatchesEverySpellingOfOneFile) {
    write_bytes("a.npy", "a");
    fs::create_symlink(file("a.npy"), file("link.npy"));
    fs::create_hard_link(file("a.npy"), file("hard.npy"));
    fs::create_directory(file("sub"));
    const mha::FileIdentity a = mha::file_identity(file("a.npy"));
    for (const std::string& other : {file("sub/../a.npy"), file("link.npy"), file("hard.npy"), file(".//a.npy")}) {
        EXPECT_TRUE(mha::file_identity(other) == a) << other;
    }
    EXPECT_FALSE(mha::file_identity(file("sub")) == a);
    // Files that do not exist yet: the same folder and name.
    EXPECT_TRUE(mha::file_identity(file("new.npy")) == mha::file_identity(file("sub/../new.npy")));
    EXPECT_FALSE(mha::file_identity(file("new.npy")) == mha::file_identity(file("sub/new.npy")));
    EXPECT_FALSE(mha::file_identity(file("no/such/new.npy")) == mha::file_identity(file("no/such/new.npy")))
        << "nothing is known of a path whose folder does not exist";
}

}  // namespace
