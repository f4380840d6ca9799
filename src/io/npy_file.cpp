// Lesson 4: checked .npy reading and writing.
//
// The header, up to the data, is io/npy_header.cpp's; here come the elements: as many
// bytes as the header's shape needs, not one more or less, each decoded from
// little-endian bytes (or encoded into them) one at a time, so that what a file holds
// never depends on the machine reading it.
#include "io/npy_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.hpp"
#include "io/input_file.hpp"
#include "io/npy_header.hpp"
#include "io/output_files.hpp"

namespace mha {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what);
}

// ---- The element types ----

struct ElementType {
    const char* descr;
    std::size_t size;
};
constexpr ElementType float32_type{"<f4", 4}, float64_type{"<f8", 8}, bool_type{"|b1", 1}, int64_type{"<i8", 8};

// ---- The data ----

// The number of elements and of bytes the shape needs; overflow is an error, before anything
// is allocated. The product of the sizes other than 0 must fit too, even when a 0 makes the
// array empty: xtensor computes the strides of every axis as signed products (std::ptrdiff_t),
// and (0, 2^40, 2^40) would overflow them. Fuzzing found this (tests/fuzz/regressions).
std::size_t data_bytes(const std::string& name, const NpyHeader& header, std::size_t element_size,
                       std::size_t& count) {
    constexpr auto largest = static_cast<std::size_t>(std::numeric_limits<std::ptrdiff_t>::max());
    std::size_t product = 1;  // of the sizes other than 0
    bool empty = false;
    for (const std::size_t extent : header.shape) {
        if (extent == 0) {
            empty = true;
            continue;
        }
        if (product > largest / extent) {
            fail(name, "its header declares an impossibly large shape " + shape_string(header.shape));
        }
        product *= extent;
    }
    if (product > largest / element_size) {
        fail(name, "its header declares an impossibly large shape " + shape_string(header.shape));
    }
    count = empty ? 0 : product;
    return count * element_size;
}

std::uint64_t little_endian(const unsigned char* bytes, std::size_t size) {
    std::uint64_t value = 0;
    for (std::size_t i = size; i-- > 0;) {
        value = (value << 8) | bytes[i];
    }
    return value;
}

// The elements, converted to T, in the order of the file; then, for a Fortran-ordered
// file, rearranged into row-major order.
template <class T, class Convert>
xt::xarray<T> decode(const NpyHeader& header, const char* data, std::size_t count, std::size_t element_size,
                     Convert convert) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(data);
    if (!header.fortran_order || header.shape.size() < 2) {
        xt::xarray<T> values = xt::xarray<T>::from_shape(header.shape);
        for (std::size_t i = 0; i < count; ++i) {
            values.data()[i] = convert(bytes + i * element_size, i);
        }
        return values;
    }
    xt::xarray<T, xt::layout_type::column_major> column_major =
        xt::xarray<T, xt::layout_type::column_major>::from_shape(header.shape);
    for (std::size_t i = 0; i < count; ++i) {
        column_major.data()[i] = convert(bytes + i * element_size, i);
    }
    return xt::xarray<T>(column_major);  // copied element by element into row-major order
}

double to_float32(const unsigned char* bytes) {
    const auto bits = static_cast<std::uint32_t>(little_endian(bytes, 4));
    float value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

double to_float64(const unsigned char* bytes) {
    const std::uint64_t bits = little_endian(bytes, 8);
    double value;
    std::memcpy(&value, &bits, sizeof value);
    return value;
}

// x rounded to float as IEEE 754 rounds it: beyond the largest float (by half a unit in
// the last place) comes infinity. A plain cast of such a double is undefined behaviour in C++.
float to_float(double x) {
    constexpr double largest = std::numeric_limits<float>::max();
    constexpr double overflow = largest + 0x1p103;  // FLT_MAX plus half of its last place, 2^104
    if (x >= overflow) return std::numeric_limits<float>::infinity();
    if (x <= -overflow) return -std::numeric_limits<float>::infinity();
    if (x > largest) return std::numeric_limits<float>::max();
    if (x < -largest) return -std::numeric_limits<float>::max();
    return static_cast<float>(x);
}

// The position of element `flat` of the file (in its own order), for a message.
std::string position(const NpyHeader& header, std::size_t flat) {
    std::vector<std::size_t> shape = header.shape;
    if (header.fortran_order) {
        std::reverse(shape.begin(), shape.end());
    }
    std::vector<std::size_t> index = unravel_index(flat, shape);
    if (header.fortran_order) {
        std::reverse(index.begin(), index.end());
    }
    return shape_string(index);
}

// The element type of a header that read_npy() accepts.
NpyType accepted_type(const std::string& name, const NpyHeader& header) {
    if (header.descr == float32_type.descr) return NpyType::float32;
    if (header.descr == float64_type.descr) return NpyType::float64;
    if (header.descr == bool_type.descr) return NpyType::boolean;
    fail(name, "holds elements of type " + describe_npy_descr(header.descr) +
                   "; expected float32 ('<f4'), float64 ('<f8') or bool ('|b1')");
}

std::size_t size_of(NpyType type) {
    switch (type) {
        case NpyType::float32: return float32_type.size;
        case NpyType::float64: return float64_type.size;
        case NpyType::boolean: return bool_type.size;
    }
    return 0;
}

// The elements of an accepted type as doubles.
xt::xarray<double> decode_values(const std::string& name, const NpyHeader& header, NpyType type, const char* data,
                                 std::size_t count) {
    switch (type) {
        case NpyType::float32:
            return decode<double>(header, data, count, 4, [](const unsigned char* b, std::size_t) { return to_float32(b); });
        case NpyType::float64:
            return decode<double>(header, data, count, 8, [](const unsigned char* b, std::size_t) { return to_float64(b); });
        case NpyType::boolean:
            return decode<double>(header, data, count, 1, [&](const unsigned char* b, std::size_t i) {
                if (*b > 1) {
                    fail(name, "holds the byte " + std::to_string(*b) + " at index " + position(header, i) +
                                   " of a bool array; a bool is stored as 0 or 1, so the file is corrupt");
                }
                return static_cast<double>(*b);
            });
    }
    return {};
}

// The header of a file and the size of its data, checked against each other.
struct CheckedHeader {
    NpyHeader header;
    std::size_t count = 0;       // elements
    std::size_t data_bytes = 0;  // bytes of data, as the shape needs and the file holds
};

void check_data_size(const std::string& name, std::size_t expected, std::uint64_t held) {
    if (held != expected) {
        fail(name, "is truncated or corrupt: its header promises " + std::to_string(expected) +
                       " bytes of data but the file holds " + std::to_string(held));
    }
}

// A file can be larger than memory (a sparse file is cheap to make): refuse to read one
// whose data and values would need more than the machine has, rather than have the
// system kill the process halfway through.
void check_memory(const std::string& path, double needed) {
    const long pages = sysconf(_SC_PHYS_PAGES), page_size = sysconf(_SC_PAGE_SIZE);
    const double memory = static_cast<double>(pages) * static_cast<double>(page_size);
    if (pages > 0 && page_size > 0 && needed > memory) {
        fail(path, "would need " + std::to_string(static_cast<long long>(needed / 1048576)) +
                       " MiB of memory to read, more than this machine's " +
                       std::to_string(static_cast<long long>(memory / 1048576)) + " MiB");
    }
}

// Reads the header of an open file, leaving the file at its data.
NpyHeader read_header(const std::string& path, InputFile& file) {
    try {
        char first_bytes[npy_preamble_bytes] = {};
        const std::size_t first = static_cast<std::size_t>(std::min<std::uint64_t>(file.size(), sizeof first_bytes));
        file.read_exactly(first_bytes, first);
        const std::size_t needed = npy_header_end(first_bytes, first);
        if (file.size() < needed || needed < first) {  // the latter: a header of 0 or 1 byte, no room for a dict
            throw std::runtime_error("the header is cut short");
        }
        std::string bytes(needed, '\0');
        std::memcpy(bytes.data(), first_bytes, first);
        file.read_exactly(bytes.data() + first, bytes.size() - first);
        return parse_npy_header(bytes.data(), bytes.size());
    } catch (const std::runtime_error& error) {
        fail(path, std::string("not a valid .npy file (") + error.what() + ")");
    }
}

// The header of bytes in memory.
NpyHeader header_of(const std::string& name, const char* bytes, std::size_t size) {
    try {
        return parse_npy_header(bytes, size);
    } catch (const std::runtime_error& error) {
        fail(name, std::string("not a valid .npy file (") + error.what() + ")");
    }
}

// The header of a .npy header string for values of this shape (version 1.0, or 2.0 when longer).
std::string header_bytes(const std::string& descr, const std::vector<std::size_t>& shape) {
    std::string text = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (";
    for (std::size_t i = 0; i < shape.size(); ++i) {
        text += std::to_string(shape[i]) + (shape.size() == 1 ? "," : i + 1 < shape.size() ? ", " : "");
    }
    text += "), }";
    // Pad with spaces so that the data starts at a multiple of 64 bytes, as NumPy does; version 1.0's
    // 2-byte length holds at most 65535, beyond which version 2.0 has 4 bytes.
    const auto padded = [&text](std::size_t preamble) {
        const std::size_t unpadded = preamble + text.size() + 1;
        return text.size() + 1 + (64 - unpadded % 64) % 64;
    };
    const std::size_t preamble = padded(10) <= 65535 ? 10 : 12;
    text += std::string(padded(preamble) - text.size() - 1, ' ') + "\n";
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(preamble == 10 ? 1 : 2);
    bytes += '\0';
    for (std::size_t i = 0; i < preamble - 8; ++i) {
        bytes += static_cast<char>((text.size() >> (8 * i)) & 0xff);
    }
    return bytes + text;
}

// Writes the header and the elements, each converted to its bytes by `encode`, in blocks.
template <class Values, class Encode>
void write_elements(const std::string& path, const std::string& descr, std::size_t element_size,
                    const Values& values, Encode encode) {
    const std::vector<std::size_t> shape(values.shape().begin(), values.shape().end());
    FileWriter file(path);
    const std::string header = header_bytes(descr, shape);
    file.write(header.data(), header.size());
    std::vector<unsigned char> block(std::size_t{1} << 16);
    const std::size_t per_block = block.size() / element_size;
    const auto* data = values.data();
    for (std::size_t start = 0; start < values.size(); start += per_block) {
        const std::size_t count = std::min(per_block, values.size() - start);
        for (std::size_t i = 0; i < count; ++i) {
            encode(data[start + i], block.data() + i * element_size);
        }
        file.write(reinterpret_cast<const char*>(block.data()), count * element_size);
    }
    file.close();
}

void put_little_endian(std::uint64_t bits, unsigned char* bytes, std::size_t size) {
    for (std::size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<unsigned char>(bits >> (8 * i));
    }
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
    InputFile file(path);
    const NpyHeader header = read_header(path, file);
    NpyArray array;
    array.type = accepted_type(path, header);
    std::size_t count = 0;
    const std::size_t bytes = data_bytes(path, header, size_of(array.type), count);
    check_data_size(path, bytes, file.size() - header.data_offset);
    check_memory(path, static_cast<double>(bytes) + 8.0 * static_cast<double>(count));
    std::vector<char> data(bytes);
    file.read_exactly(data.data(), bytes);
    array.values = decode_values(path, header, array.type, data.data(), count);
    return array;
}

NpyArray read_npy_bytes(const char* bytes, std::size_t size, const std::string& name) {
    const NpyHeader header = header_of(name, bytes, size);
    NpyArray array;
    array.type = accepted_type(name, header);
    std::size_t count = 0;
    const std::size_t expected = data_bytes(name, header, size_of(array.type), count);
    check_data_size(name, expected, size - header.data_offset);
    array.values = decode_values(name, header, array.type, bytes + header.data_offset, count);
    return array;
}

xt::xarray<std::int64_t> read_npy_int64(const std::string& path) {
    InputFile file(path);
    const NpyHeader header = read_header(path, file);
    if (header.descr != int64_type.descr) {
        fail(path, "holds elements of type " + describe_npy_descr(header.descr) + "; expected int64 ('<i8')");
    }
    std::size_t count = 0;
    const std::size_t bytes = data_bytes(path, header, int64_type.size, count);
    check_data_size(path, bytes, file.size() - header.data_offset);
    check_memory(path, 2.0 * static_cast<double>(bytes));
    std::vector<char> data(bytes);
    file.read_exactly(data.data(), bytes);
    return decode<std::int64_t>(header, data.data(), count, 8, [](const unsigned char* b, std::size_t) {
        return static_cast<std::int64_t>(little_endian(b, 8));
    });
}

void write_npy(const std::string& path, const xt::xarray<double>& values, NpyType type) {
    switch (type) {
        case NpyType::float32:
            write_elements(path, float32_type.descr, 4, values, [](double x, unsigned char* bytes) {
                const float value = to_float(x);
                std::uint32_t bits;
                std::memcpy(&bits, &value, sizeof bits);
                put_little_endian(bits, bytes, 4);
            });
            break;
        case NpyType::float64:
            write_elements(path, float64_type.descr, 8, values, [](double x, unsigned char* bytes) {
                std::uint64_t bits;
                std::memcpy(&bits, &x, sizeof bits);
                put_little_endian(bits, bytes, 8);
            });
            break;
        case NpyType::boolean:
            write_elements(path, bool_type.descr, 1, values,
                           [](double x, unsigned char* bytes) { bytes[0] = x != 0.0 ? 1 : 0; });
            break;
    }
}

void write_npy_int64(const std::string& path, const xt::xarray<std::int64_t>& values) {
    write_elements(path, int64_type.descr, 8, values, [](std::int64_t x, unsigned char* bytes) {
        put_little_endian(static_cast<std::uint64_t>(x), bytes, 8);
    });
}

}  // namespace mha
