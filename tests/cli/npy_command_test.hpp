// What the tests of `mha forward` and `mha backward` share: a fixture that writes
// .npy inputs and PyTorch-named weights into the test's folder, reads results
// back, and edits the command line, and a comparison of arrays.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <xtensor/xarray.hpp>

#include "cli/command_runner.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"
#include "io/npy_file.hpp"
#include "io/parameter_files.hpp"
#include "reference/multi_head_attention.hpp"

namespace mha::testing {

using Array = xt::xarray<double>;
using Shape = std::vector<std::size_t>;

/// The sizes of an array.
inline Shape shape_of(const Array& values) { return Shape(values.shape().begin(), values.shape().end()); }

/// |actual - expected| <= tolerance * (1 + |expected|) everywhere, with the same shape.
inline ::testing::AssertionResult arrays_near(const Array& actual, const Array& expected, double tolerance) {
    if (shape_of(actual) != shape_of(expected)) {
        return ::testing::AssertionFailure() << "shape " << mha::shape_string(actual) << " but expected "
                                             << mha::shape_string(expected);
    }
    for (std::size_t i = 0; i < actual.size(); ++i) {
        const double a = actual.data()[i], e = expected.data()[i];
        if (!(std::abs(a - e) <= tolerance * (1.0 + std::abs(e)))) {
            return ::testing::AssertionFailure() << "element " << i << " (row-major) is " << a << ", expected " << e;
        }
    }
    return ::testing::AssertionSuccess();
}

/// CommandTest with .npy files: random inputs, weights, and command lines to spoil.
class NpyCommandTest : public CommandTest {
protected:
    /// Standard normal entries of the given shape.
    Array random_array(const Shape& shape) {
        Array values = xt::zeros<double>(shape);
        for (double& value : values) {
            value = random_.normal();
        }
        return values;
    }

    /// Writes a .npy file into the test's folder and returns its path.
    std::string write(const std::string& name, const Array& values, mha::NpyType type = mha::NpyType::float64) {
        mha::write_npy(file(name), values, type);
        return file(name);
    }

    /// A .npy file written byte by byte, for element types write_npy does not write.
    std::string write_raw(const std::string& name, const std::string& descr, const std::string& shape,
                          const std::string& data, bool fortran_order = false) {
        std::string header = "{'descr': '" + descr + "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                             ", 'shape': " + shape + ", }";
        header += std::string((16 - (10 + header.size() + 1) % 16) % 16, ' ') + "\n";
        std::ofstream stream(file(name), std::ios::binary);
        stream << "\x93NUMPY" << '\x01' << '\x00' << static_cast<char>(header.size() % 256)
               << static_cast<char>(header.size() / 256) << header << data;
        return file(name);
    }

    /// A file holding exactly these bytes, such as a hostile .npy file.
    std::string write_bytes(const std::string& name, const std::string& bytes) {
        std::ofstream(file(name), std::ios::binary) << bytes;
        return file(name);
    }

    /// Every name under the test's folder, hidden ones included, recursively, sorted;
    /// without stdout.txt and stderr.txt, which run_mha() writes. A temporary file
    /// left behind shows here.
    std::vector<std::string> listing() const {
        std::vector<std::string> names;
        for (const auto& entry : std::filesystem::recursive_directory_iterator(folder_)) {
            const std::string name = entry.path().lexically_relative(folder_).string();
            if (name != "stdout.txt" && name != "stderr.txt") {
                names.push_back(name);
            }
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    /// Reads a .npy file, expecting its element type.
    Array read(const std::string& path, mha::NpyType expected_type = mha::NpyType::float64) {
        mha::NpyArray array = mha::read_npy(path);
        EXPECT_EQ(mha::npy_type_name(array.type), mha::npy_type_name(expected_type)) << path;
        return std::move(array.values);
    }

    /// A random module saved into the folder "weights", as load_parameters reads it.
    mha::MultiHeadAttention make_weights(std::size_t E, std::size_t H, bool bias = true, std::size_t kdim = 0,
                                         std::size_t vdim = 0) {
        mha::MultiHeadAttention module = mha::random_multi_head_attention(E, H, bias, random_, kdim, vdim);
        if (bias) {  // random biases, not PyTorch's zeros, so that a mix-up of biases shows
            for (auto* projection : {&module.query_projection, &module.key_projection, &module.value_projection,
                                     &module.output_projection}) {
                for (double& b : projection->bias) {
                    b = random_.uniform(-0.5, 0.5);
                }
            }
        }
        std::filesystem::create_directories(file("weights"));
        mha::save_parameters(module, file("weights"));
        return module;
    }

    /// The arguments with `option value` added, or the option's value replaced.
    static std::vector<std::string> with(std::vector<std::string> arguments, const std::string& option,
                                         const std::string& value = "") {
        for (std::size_t i = 0; i + 1 < arguments.size(); ++i) {
            if (arguments[i] == option) {
                arguments[i + 1] = value;
                return arguments;
            }
        }
        arguments.push_back(option);
        if (!value.empty()) {
            arguments.push_back(value);
        }
        return arguments;
    }

    /// The arguments without `option` and its value.
    static std::vector<std::string> without(std::vector<std::string> arguments, const std::string& option) {
        for (std::size_t i = 0; i + 1 < arguments.size(); ++i) {
            if (arguments[i] == option) {
                arguments.erase(arguments.begin() + static_cast<std::ptrdiff_t>(i),
                                arguments.begin() + static_cast<std::ptrdiff_t>(i) + 2);
                break;
            }
        }
        return arguments;
    }

    mha::RandomGenerator random_{20240601};
};

}  // namespace mha::testing
