// libFuzzer target: mha::parse_npy_header alone, on any bytes (tests/fuzz/README.md).
// It must return a header that makes sense or throw std::runtime_error with a
// one-line message; anything else (a crash, a sanitizer report, another
// exception, an impossible header) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "io/npy_header.hpp"

namespace {

void require(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "npy_header_fuzzer: %s\n", what);
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        const mha::NpyHeader header = mha::parse_npy_header(reinterpret_cast<const char*>(data), size);
        require(header.data_offset <= size, "the data starts after the end of the bytes");
        require(header.data_offset >= 10 + 2, "the data starts inside the preamble");
        require(header.major_version >= 1 && header.major_version <= 3, "an impossible version");
        require(!header.descr.empty(), "an empty descr");
        require(header.shape.size() <= mha::npy_max_dimensions, "too many dimensions");
        require(data[header.data_offset - 1] == '\n', "the header does not end with a newline");
    } catch (const std::runtime_error& error) {
        require(std::string(error.what()).find('\n') == std::string::npos, "a message is more than one line");
    }
    return 0;
}
