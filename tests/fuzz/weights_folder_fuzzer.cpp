// libFuzzer target: mha::load_parameters on a folder of fuzzed parameter files
// (tests/fuzz/README.md). The input chooses H, which of PyTorch's seven file
// names are present, and the bytes of each (a FuzzedDataProvider splits it);
// the files are written into a fresh folder, which load_parameters then reads.
// It must return a module that passes MultiHeadAttention::check() with E >= 1
// divisible by H, or throw std::runtime_error or std::invalid_argument with a
// one-line message; anything else is a finding.
#include <fuzzer/FuzzedDataProvider.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>

#include "io/npy_file.hpp"
#include "io/parameter_files.hpp"

namespace {

void require(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "weights_folder_fuzzer: %s\n", what);
        std::abort();
    }
}

const char* const names[] = {"in_proj_weight.npy", "q_proj_weight.npy", "k_proj_weight.npy", "v_proj_weight.npy",
                             "in_proj_bias.npy",   "out_proj.weight.npy", "out_proj.bias.npy"};

// One folder for the whole run, emptied for every input.
const std::filesystem::path& folder() {
    static const std::filesystem::path path = [] {
        const char* shm = "/dev/shm";
        const std::filesystem::path base = std::filesystem::is_directory(shm) ? shm
                                                                              : std::filesystem::temp_directory_path();
        auto made = base / ("mha_weights_fuzzer." + std::to_string(::getpid()));
        std::filesystem::create_directories(made);
        return made;
    }();
    return path;
}

// A valid file of this shape now and then, so that the fuzzer reaches the loader's
// checks of shapes and not only the reader's.
std::string valid_npy(FuzzedDataProvider& data) {
    const std::size_t rows = data.ConsumeIntegralInRange<std::size_t>(0, 12);
    const bool matrix = data.ConsumeBool();
    const std::size_t columns = data.ConsumeIntegralInRange<std::size_t>(0, 6);
    std::string header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + std::to_string(rows) +
                         (matrix ? ", " + std::to_string(columns) : std::string(",")) + "), }";
    header += std::string((64 - (10 + header.size() + 1) % 64) % 64, ' ') + "\n";
    std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(header.size() % 256) +
                        static_cast<char>(header.size() / 256) + header;
    const std::size_t count = rows * (matrix ? columns : 1);
    for (std::size_t i = 0; i < count; ++i) {
        const double value = data.ConsumeFloatingPointInRange<double>(-2.0, 2.0);
        bytes.append(reinterpret_cast<const char*>(&value), sizeof value);
    }
    return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
    FuzzedDataProvider data(bytes, size);
    const std::size_t num_heads = data.ConsumeIntegralInRange<std::size_t>(0, 8);
    for (const char* name : names) {
        const std::filesystem::path path = folder() / name;
        std::filesystem::remove(path);
        switch (data.ConsumeIntegralInRange<int>(0, 2)) {
            case 0: break;  // absent
            case 1: std::ofstream(path, std::ios::binary) << valid_npy(data); break;
            default: std::ofstream(path, std::ios::binary) << data.ConsumeRandomLengthString(4096); break;
        }
    }
    try {
        const mha::MultiHeadAttention module = mha::load_parameters(folder().string(), num_heads);
        module.check();
        require(module.embed_dim() >= 1, "a module with E = 0");
        require(num_heads >= 1 && module.embed_dim() % num_heads == 0, "E is not divisible by H");
    } catch (const std::runtime_error& error) {
        require(std::string(error.what()).find('\n') == std::string::npos, "a message is more than one line");
    } catch (const std::invalid_argument& error) {
        require(std::string(error.what()).find('\n') == std::string::npos, "a message is more than one line");
    }
    return 0;
}
