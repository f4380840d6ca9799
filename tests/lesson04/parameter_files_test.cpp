// Lesson 4 tests: parameters saved as .npy files under PyTorch's names, and
// the checked .npy reader underneath. Every file these tests need, good or
// bad, is written by the test itself into a fresh folder under the system's
// temporary directory, which is removed afterwards.
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <unistd.h>  // getpid

#include <gtest/gtest.h>

#include "reference/multi_head_attention.hpp"
#include "io/npy_file.hpp"
#include "io/parameter_files.hpp"
#include "core/random.hpp"
#include "test_helpers.hpp"

namespace {

namespace fs = std::filesystem;
using mha::MultiHeadAttention;
using mha::NpyType;
using mha::Tensor3;
using mha::testing::thrown_message;

// A batch (B, rows, columns) with varied entries, so tests need no random generator.
Tensor3 varied_batch(std::size_t batch, std::size_t rows, std::size_t columns, double seed) {
    Tensor3 t = xt::zeros<double>({batch, rows, columns});
    for (std::size_t b = 0; b < batch; ++b)
        for (std::size_t i = 0; i < rows; ++i)
            for (std::size_t j = 0; j < columns; ++j) t(b, i, j) = std::sin(seed + 3.1 * b + 1.7 * i + 0.61 * j * j);
    return t;
}

// Gives each test its own empty folder, <temp>/mha_lesson04_<pid>_<test name>,
// and removes it when the test ends.
class TemporaryFolder : public ::testing::Test {
protected:
    void SetUp() override {
        const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
        folder_ = fs::temp_directory_path() /
                  ("mha_lesson04_" + std::to_string(::getpid()) + "_" + test->test_suite_name() + "_" + test->name());
        fs::remove_all(folder_);
        fs::create_directories(folder_);
    }
    void TearDown() override {
        std::error_code ignored;
        fs::remove_all(folder_, ignored);
    }

    // The folder as a string, or a path inside it.
    std::string folder() const { return folder_.string(); }
    std::string file(const std::string& name) const { return (folder_ / name).string(); }

    // The names of the files in the folder.
    std::set<std::string> file_names() const {
        std::set<std::string> names;
        for (const auto& item : fs::directory_iterator(folder_)) names.insert(item.path().filename().string());
        return names;
    }

    // Writes raw bytes to a file in the folder.
    void write_bytes(const std::string& name, const std::string& bytes) const {
        std::ofstream(file(name), std::ios::binary) << bytes;
    }

    // The bytes of a file in the folder.
    std::string read_bytes(const std::string& name) const {
        std::ifstream stream(file(name), std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(stream), std::istreambuf_iterator<char>());
    }

private:
    fs::path folder_;
};

// ---- save_parameters -> load_parameters reproduces the module exactly ----

class ParameterFiles : public TemporaryFolder {
protected:
    // Saves, loads back, and checks that the loaded module computes bit for bit the same.
    void expect_round_trip(const MultiHeadAttention& module, const std::set<std::string>& expected_files) {
        mha::save_parameters(module, folder());
        EXPECT_EQ(file_names(), expected_files);
        const MultiHeadAttention loaded = mha::load_parameters(folder(), module.num_heads);
        EXPECT_EQ(loaded.num_heads, module.num_heads);
        EXPECT_EQ(loaded.query_projection.weight, module.query_projection.weight);
        EXPECT_EQ(loaded.key_projection.weight, module.key_projection.weight);
        EXPECT_EQ(loaded.value_projection.weight, module.value_projection.weight);
        EXPECT_EQ(loaded.output_projection.weight, module.output_projection.weight);
        EXPECT_EQ(loaded.query_projection.has_bias(), module.query_projection.has_bias());

        const std::size_t B = 2, L = 3, S = 4;
        const Tensor3 query = varied_batch(B, L, module.embed_dim(), 0.1);
        const Tensor3 key = varied_batch(B, S, module.kdim(), 0.2);
        const Tensor3 value = varied_batch(B, S, module.vdim(), 0.3);
        const auto original = module.forward(query, key, value);
        const auto reloaded = loaded.forward(query, key, value);
        EXPECT_EQ(reloaded.output, original.output);    // exactly: float64 files lose nothing
        EXPECT_EQ(reloaded.weights, original.weights);
    }

    // A module whose biases are all non-zero, so that a misplaced bias shows.
    static MultiHeadAttention with_random_biases(MultiHeadAttention module, std::uint64_t seed) {
        mha::RandomGenerator random(seed);
        for (mha::Linear* projection : {&module.query_projection, &module.key_projection, &module.value_projection,
                                        &module.output_projection}) {
            for (double& b : projection->bias) b = random.normal();
        }
        return module;
    }
};

TEST_F(ParameterFiles, PackedRoundTripWithBiases) {
    mha::RandomGenerator random(1);
    const auto module = with_random_biases(mha::random_multi_head_attention(8, 2, true, random), 2);
    expect_round_trip(module, {"in_proj_weight.npy", "in_proj_bias.npy", "out_proj.weight.npy", "out_proj.bias.npy"});
    // The packed file stacks W_q, W_k and W_v: (3E, E).
    EXPECT_EQ(mha::shape_string(mha::read_npy(file("in_proj_weight.npy")).values), "(24, 8)");
}

TEST_F(ParameterFiles, SeparateKdimVdimRoundTrip) {
    mha::RandomGenerator random(3);
    const auto module = with_random_biases(mha::random_multi_head_attention(12, 3, true, random, 5, 7), 4);
    expect_round_trip(module, {"q_proj_weight.npy", "k_proj_weight.npy", "v_proj_weight.npy", "in_proj_bias.npy",
                               "out_proj.weight.npy", "out_proj.bias.npy"});
    EXPECT_EQ(mha::shape_string(mha::read_npy(file("k_proj_weight.npy")).values), "(12, 5)");
    EXPECT_EQ(mha::shape_string(mha::read_npy(file("v_proj_weight.npy")).values), "(12, 7)");
}

TEST_F(ParameterFiles, NoBiasRoundTrip) {
    mha::RandomGenerator random(5);
    expect_round_trip(mha::random_multi_head_attention(6, 3, false, random),
                      {"in_proj_weight.npy", "out_proj.weight.npy"});
}

TEST_F(ParameterFiles, SeparateNoBiasRoundTrip) {
    mha::RandomGenerator random(6);
    expect_round_trip(mha::random_multi_head_attention(4, 1, false, random, 3, 2),
                      {"q_proj_weight.npy", "k_proj_weight.npy", "v_proj_weight.npy", "out_proj.weight.npy"});
}

TEST_F(ParameterFiles, Float32FilesAreAcceptedToo) {
    // PyTorch models are usually float32; their files load as well, rounded to float.
    mha::RandomGenerator random(7);
    const auto module = mha::random_multi_head_attention(4, 2, false, random);
    mha::save_parameters(module, folder());
    mha::write_npy(file("out_proj.weight.npy"), module.output_projection.weight, NpyType::float32);
    const auto loaded = mha::load_parameters(folder(), 2);
    EXPECT_NEAR(loaded.output_projection.weight(1, 2), module.output_projection.weight(1, 2), 1e-7);
}

TEST_F(ParameterFiles, SavesFloat32WhenAskedAndReturnsThePathsWritten) {
    // `mha backward` saves float32 gradients for float32 inputs this way.
    mha::RandomGenerator random(8);
    const auto module = with_random_biases(mha::random_multi_head_attention(4, 2, true, random, 3, 2), 9);
    const std::vector<std::string> written = mha::save_parameters(module, folder(), NpyType::float32);
    EXPECT_EQ(std::set<std::string>(written.begin(), written.end()),
              (std::set<std::string>{file("q_proj_weight.npy"), file("k_proj_weight.npy"), file("v_proj_weight.npy"),
                                     file("in_proj_bias.npy"), file("out_proj.weight.npy"),
                                     file("out_proj.bias.npy")}));
    EXPECT_EQ(written.size(), 6u);
    for (const std::string& path : written) {
        EXPECT_EQ(mha::read_npy(path).type, NpyType::float32) << path;
    }
    const auto loaded = mha::load_parameters(folder(), 2);
    const float rounded = static_cast<float>(module.key_projection.weight(3, 2));
    EXPECT_EQ(loaded.key_projection.weight(3, 2), static_cast<double>(rounded));
    EXPECT_THROW(mha::save_parameters(module, folder(), NpyType::boolean), std::invalid_argument);
}

// ---- load_parameters refuses what it cannot use, naming the file ----

TEST_F(ParameterFiles, MissingFolderOrFileIsNamed) {
    const std::string missing = folder() + "/no_such_folder";
    const std::string message = thrown_message<std::runtime_error>([&] { mha::load_parameters(missing, 2); });
    EXPECT_NE(message.find(missing + "/out_proj.weight.npy"), std::string::npos) << message;

    mha::RandomGenerator random(8);
    mha::save_parameters(mha::random_multi_head_attention(6, 2, true, random, 4, 4), folder());
    fs::remove(file("k_proj_weight.npy"));
    const std::string key_message = thrown_message<std::runtime_error>([&] { mha::load_parameters(folder(), 2); });
    EXPECT_NE(key_message.find("k_proj_weight.npy"), std::string::npos) << key_message;
    EXPECT_NE(key_message.find("cannot open"), std::string::npos) << key_message;

    fs::remove(file("q_proj_weight.npy"));
    const std::string neither = thrown_message<std::runtime_error>([&] { mha::load_parameters(folder(), 2); });
    EXPECT_NE(neither.find("neither in_proj_weight.npy nor q_proj_weight.npy"), std::string::npos) << neither;
}

TEST_F(ParameterFiles, OneBiasFileWithoutTheOther) {
    mha::RandomGenerator random(9);
    mha::save_parameters(mha::random_multi_head_attention(4, 2, true, random), folder());
    fs::remove(file("out_proj.bias.npy"));
    const std::string message = thrown_message<std::runtime_error>([&] { mha::load_parameters(folder(), 2); });
    EXPECT_NE(message.find("in_proj_bias.npy but not out_proj.bias.npy"), std::string::npos) << message;
}

TEST_F(ParameterFiles, FileOfTheWrongShapeIsNamedWithBothShapes) {
    mha::RandomGenerator random(10);
    mha::save_parameters(mha::random_multi_head_attention(4, 2, true, random), folder());
    mha::write_npy(file("in_proj_weight.npy"), xt::zeros<double>({12, 5}), NpyType::float64);  // must be (12, 4)
    std::string message = thrown_message<std::runtime_error>([&] { mha::load_parameters(folder(), 2); });
    EXPECT_NE(message.find("in_proj_weight.npy: has shape (12, 5) but must be (12, 4)"), std::string::npos) << message;

    mha::save_parameters(mha::random_multi_head_attention(4, 2, true, random), folder());
    mha::write_npy(file("in_proj_bias.npy"), xt::zeros<double>({4}), NpyType::float64);  // must be (12)
    message = thrown_message<std::runtime_error>([&] { mha::load_parameters(folder(), 2); });
    EXPECT_NE(message.find("in_proj_bias.npy: has shape (4) but must be (12)"), std::string::npos) << message;

    mha::write_npy(file("out_proj.weight.npy"), xt::zeros<double>({4, 4, 1}), NpyType::float64);  // 3-D
    message = thrown_message<std::runtime_error>([&] { mha::load_parameters(folder(), 2); });
    EXPECT_NE(message.find("out_proj.weight.npy: has shape (4, 4, 1) but must have 2 dimensions"), std::string::npos)
        << message;

    mha::write_npy(file("out_proj.weight.npy"), xt::zeros<double>({4, 4}), NpyType::boolean);
    message = thrown_message<std::runtime_error>([&] { mha::load_parameters(folder(), 2); });
    EXPECT_NE(message.find("holds booleans"), std::string::npos) << message;
}

TEST_F(ParameterFiles, EmbedDimNotDivisibleByNumHeads) {
    mha::RandomGenerator random(11);
    mha::save_parameters(mha::random_multi_head_attention(6, 2, true, random), folder());
    const std::string message = thrown_message([&] { mha::load_parameters(folder(), 4); });  // invalid_argument
    EXPECT_NE(message.find("embed_dim 6"), std::string::npos) << message;
    EXPECT_NE(message.find("num_heads 4"), std::string::npos) << message;
    EXPECT_NE(message.find("out_proj.weight.npy"), std::string::npos) << message;
}

// ---- read_npy: good files of every accepted type, and bad files ----

class NpyFiles : public TemporaryFolder {};

TEST_F(NpyFiles, WriteThenReadEveryTypeAndShape) {
    const xt::xarray<double> values = {{{1.5, -2.0, 0.0}, {3.25, 0.0, 7.0}}};  // (1, 2, 3)
    for (const NpyType type : {NpyType::float64, NpyType::float32, NpyType::boolean}) {
        const std::string path = file("values_" + mha::npy_type_name(type) + ".npy");
        mha::write_npy(path, values, type);
        const mha::NpyArray read = mha::read_npy(path);
        EXPECT_EQ(read.type, type);
        EXPECT_EQ(mha::shape_string(read.values), "(1, 2, 3)");
        const xt::xarray<double> expected = type == NpyType::boolean ? xt::xarray<double>(xt::not_equal(values, 0.0))
                                                                     : values;
        EXPECT_EQ(read.values, expected) << mha::npy_type_name(type);
    }
}

TEST_F(NpyFiles, FortranOrderedFilesComeBackRowMajor) {
    // NumPy writes a transposed array as fortran_order=True: the elements column by column.
    std::string header = "{'descr': '<f8', 'fortran_order': True, 'shape': (2, 3), }";
    header += std::string(117 - header.size(), ' ') + "\n";  // 10 + 118 bytes: the data starts at 128
    const double column_by_column[] = {1.0, 4.0, 2.0, 5.0, 3.0, 6.0};
    write_bytes("fortran.npy", std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header +
                                   std::string(reinterpret_cast<const char*>(column_by_column), sizeof column_by_column));
    const mha::NpyArray read = mha::read_npy(file("fortran.npy"));
    const xt::xarray<double> expected = {{1.0, 2.0, 3.0}, {4.0, 5.0, 6.0}};
    EXPECT_EQ(read.values, expected);
}

TEST_F(NpyFiles, MissingFile) {
    const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy(file("absent.npy")); });
    EXPECT_NE(message.find(file("absent.npy") + ": cannot open the file"), std::string::npos) << message;
}

TEST_F(NpyFiles, TruncatedData) {
    mha::write_npy(file("full.npy"), xt::zeros<double>({4, 4}), NpyType::float64);  // 128 bytes of data
    const std::string bytes = read_bytes("full.npy");
    write_bytes("truncated.npy", bytes.substr(0, bytes.size() - 20));
    const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy(file("truncated.npy")); });
    EXPECT_NE(message.find("truncated.npy: is truncated or corrupt"), std::string::npos) << message;
    EXPECT_NE(message.find("promises 128 bytes of data but the file holds 108"), std::string::npos) << message;

    // Extra bytes after the data are as suspicious as missing ones.
    write_bytes("longer.npy", bytes + "junk");
    EXPECT_NE(thrown_message<std::runtime_error>([&] { mha::read_npy(file("longer.npy")); }).find("corrupt"),
              std::string::npos);
}

TEST_F(NpyFiles, TruncatedHeader) {
    mha::write_npy(file("full.npy"), xt::zeros<double>({2, 2}), NpyType::float64);
    const std::string bytes = read_bytes("full.npy");
    // Cut inside the header, inside the header length, and right after the magic string and version.
    for (const std::size_t length : {std::size_t{40}, std::size_t{9}, std::size_t{8}, std::size_t{3}}) {
        write_bytes("cut.npy", bytes.substr(0, length));
        const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy(file("cut.npy")); });
        EXPECT_NE(message.find("cut.npy: not a valid .npy file"), std::string::npos)
            << "cut after " << length << " bytes: " << message;
    }
}

TEST_F(NpyFiles, EmptyHeaderAndUnsupportedVersion) {
    // The magic string, version 1.0, and a header length of 0: nothing to parse.
    write_bytes("empty_header.npy", std::string("\x93NUMPY\x01\x00\x00\x00", 10));
    const std::string empty = thrown_message<std::runtime_error>([&] { mha::read_npy(file("empty_header.npy")); });
    EXPECT_NE(empty.find("the header is cut short"), std::string::npos) << empty;
    // Version 1.1 does not exist; NumPy's versions are 1.0, 2.0 and 3.0.
    write_bytes("version.npy", std::string("\x93NUMPY\x01\x01\x04\x00{}\n\n", 14));
    const std::string version = thrown_message<std::runtime_error>([&] { mha::read_npy(file("version.npy")); });
    EXPECT_NE(version.find("unsupported version 1.1"), std::string::npos) << version;
}

TEST_F(NpyFiles, NotAnNpyFile) {
    write_bytes("text.npy", "query,key,value\n1.0,2.0,3.0\n");
    const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy(file("text.npy")); });
    EXPECT_NE(message.find("text.npy: not a valid .npy file"), std::string::npos) << message;

    write_bytes("empty.npy", "");
    EXPECT_NE(thrown_message<std::runtime_error>([&] { mha::read_npy(file("empty.npy")); }).find("not a valid"),
              std::string::npos);
}

TEST_F(NpyFiles, Int64FileIsRefusedNamingItsType) {
    const xt::xarray<std::int64_t> token_ids = {{3, 1, 4}, {1, 5, 9}};  // '<i8': integers, e.g. token ids
    mha::write_npy_int64(file("ids.npy"), token_ids);
    const std::string message = thrown_message<std::runtime_error>([&] { mha::read_npy(file("ids.npy")); });
    EXPECT_NE(message.find("ids.npy: holds elements of type '<i8'"), std::string::npos) << message;
    EXPECT_NE(message.find("float64"), std::string::npos) << message;
}

}  // namespace

TEST_F(NpyFiles, LongHeaderWhoseLengthHasItsHighBitSet) {
    // A valid version 1.0 file whose header is 208 (0xD0) bytes long. xtensor 0.24 reads the length
    // bytes as signed and would refuse it; read_npy reads them as the unsigned number they are.
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }";
    header += std::string(207 - header.size(), ' ') + "\n";
    const double values[] = {1.5, 2.5};
    std::string bytes = std::string("\x93NUMPY\x01\x00\xD0\x00", 10) + header;
    bytes.append(reinterpret_cast<const char*>(values), sizeof values);
    write_bytes("long_header.npy", bytes);
    const mha::NpyArray read = mha::read_npy(file("long_header.npy"));
    EXPECT_EQ(read.type, NpyType::float64);
    EXPECT_EQ(read.values, (xt::xarray<double>{1.5, 2.5}));
}
