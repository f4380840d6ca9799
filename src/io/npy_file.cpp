// Lesson 4: checked .npy reading and writing, on top of xtensor's npy support.
#include "io/npy_file.hpp"

#include <fstream>
#include <limits>
#include <stdexcept>
#include <vector>

#include <xtensor/xnpy.hpp>

namespace mha {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what);
}

}  // namespace

std::string npy_type_name(NpyType type) {
    switch (type) {
        case NpyType::float32: return "float32";
        case NpyType::float64: return "float64";
        case NpyType::boolean: return "bool";
    }
    return "unknown";
}

NpyArray read_npy(const std::string& path) {
    std::ifstream stream(path, std::ifstream::binary);
    if (!stream) {
        fail(path, "cannot open the file");
    }
    stream.seekg(0, std::ios::end);
    const auto file_size = static_cast<std::size_t>(stream.tellg());
    stream.seekg(0);

    // ---- Pass 1: the header; xtensor parses its text ----
    std::string type_string;
    bool fortran_order = false;
    std::vector<std::size_t> shape;
    try {
        unsigned char major = 0, minor = 0;
        xt::detail::read_magic(stream, &major, &minor);
        // Versions 1.0 and 2.0 differ only in the size of the header-length field.
        if ((major != 1 && major != 2) || minor != 0) {
            throw std::runtime_error("unsupported version " + std::to_string(major) + "." + std::to_string(minor));
        }
        // The header length: 2 little-endian bytes in version 1.0, 4 in 2.0. Read here as unsigned
        // numbers, because xtensor 0.24's own reader takes them as signed and rejects valid files.
        const std::size_t length_bytes = major == 1 ? 2 : 4;
        unsigned char length_field[4] = {0, 0, 0, 0};
        stream.read(reinterpret_cast<char*>(length_field), static_cast<std::streamsize>(length_bytes));
        std::size_t header_length = 0;
        for (std::size_t i = length_bytes; i-- > 0;) {
            header_length = header_length * 256 + length_field[i];
        }
        if (!stream || file_size < static_cast<std::size_t>(stream.tellg()) + header_length) {
            throw std::runtime_error("the header is cut short");
        }
        std::string header(header_length, '\0');
        stream.read(header.data(), static_cast<std::streamsize>(header_length));
        // Check before parsing: xtensor's parser assumes a complete header ending in a newline.
        if (!stream || header.size() < 2 || header.back() != '\n') {
            throw std::runtime_error("the header is cut short");
        }
        xt::detail::parse_header(header, type_string, &fortran_order, shape);
    } catch (const std::runtime_error& error) {
        fail(path, std::string("not a valid .npy file (") + error.what() + ")");
    }

    NpyArray array;
    std::size_t element_size = 0;
    if (type_string == "<f4") {
        array.type = NpyType::float32, element_size = 4;
    } else if (type_string == "<f8") {
        array.type = NpyType::float64, element_size = 8;
    } else if (type_string == "|b1") {
        array.type = NpyType::boolean, element_size = 1;
    } else {
        fail(path, "holds elements of type '" + type_string + "'; expected float32 ('<f4'), float64 ('<f8') or bool");
    }

    // ---- Pass 2: the data must be exactly as long as the header says ----
    std::size_t expected_bytes = element_size;
    for (const std::size_t extent : shape) {
        if (extent != 0 && expected_bytes > std::numeric_limits<std::size_t>::max() / extent) {
            fail(path, "its header declares an impossibly large shape");
        }
        expected_bytes *= extent;
    }
    const auto data_bytes = file_size - static_cast<std::size_t>(stream.tellg());
    if (data_bytes != expected_bytes) {
        fail(path, "is truncated or corrupt: its header promises " + std::to_string(expected_bytes) +
                       " bytes of data but the file holds " + std::to_string(data_bytes));
    }

    // ---- Pass 3: the data, read into xtensor's npy buffer and converted by it ----
    xt::detail::npy_file file(shape, fortran_order, type_string);
    stream.read(file.ptr(), static_cast<std::streamsize>(file.n_bytes()));
    switch (array.type) {
        case NpyType::float32: array.values = std::move(file).cast<float>(); break;
        case NpyType::float64: array.values = std::move(file).cast<double>(); break;
        case NpyType::boolean: array.values = std::move(file).cast<bool>(); break;
    }
    return array;
}

void write_npy(const std::string& path, const xt::xarray<double>& values, NpyType type) {
    try {
        switch (type) {
            case NpyType::float32: xt::dump_npy(path, xt::xarray<float>(xt::cast<float>(values))); break;
            case NpyType::float64: xt::dump_npy(path, values); break;
            case NpyType::boolean: xt::dump_npy(path, xt::xarray<bool>(xt::not_equal(values, 0.0))); break;
        }
    } catch (const std::runtime_error& error) {
        fail(path, std::string("cannot write the file (") + error.what() + ")");
    }
}

}  // namespace mha
