// libFuzzer target: mha::read_npy and mha::read_npy_bytes on any bytes at all
// (tests/fuzz/README.md). Each input is read twice, from memory and from a file
// (an anonymous in-memory file, memfd), and the two readings must agree. Any
// crash, sanitizer report, exception other than std::runtime_error, message of
// more than one line, or disagreement is a finding.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

#include "io/npy_file.hpp"

namespace {

void require(bool condition, const char* what) {
    if (!condition) {
        std::fprintf(stderr, "npy_reader_fuzzer: %s\n", what);
        std::abort();
    }
}

// The outcome of one reading: the array, or the message after the file's name.
struct Reading {
    bool ok = false;
    mha::NpyArray array;
    std::string message;
};

template <class Read>
Reading attempt(const std::string& name, const Read& read) {
    Reading reading;
    try {
        reading.array = read();
        reading.ok = true;
    } catch (const std::runtime_error& error) {
        reading.message = error.what();
        require(reading.message.rfind(name + ": ", 0) == 0, "a message does not start with the file's name");
        require(reading.message.find('\n') == std::string::npos, "a message is more than one line");
        reading.message = reading.message.substr(name.size());
    }
    return reading;
}

// One anonymous file for the whole run, rewritten for every input.
int memory_file() {
    static const int descriptor = memfd_create("npy_reader_fuzzer", 0);
    require(descriptor >= 0, "memfd_create failed");
    return descriptor;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const char* bytes = reinterpret_cast<const char*>(data);
    const Reading from_memory =
        attempt("fuzz.npy", [&] { return mha::read_npy_bytes(bytes, size, "fuzz.npy"); });

    const int descriptor = memory_file();
    require(ftruncate(descriptor, 0) == 0, "ftruncate failed");
    require(pwrite(descriptor, data, size, 0) == static_cast<ssize_t>(size), "pwrite failed");
    const std::string path = "/proc/self/fd/" + std::to_string(descriptor);
    const Reading from_file = attempt(path, [&] { return mha::read_npy(path); });

    require(from_memory.ok == from_file.ok, "reading from memory and from a file disagree on success");
    if (!from_memory.ok) {
        return 0;
    }
    const xt::xarray<double>& values = from_memory.array.values;
    require(from_memory.array.type == from_file.array.type, "the two readings disagree on the type");
    require(values.shape() == from_file.array.values.shape(), "the two readings disagree on the shape");
    std::size_t count = 1;
    for (const std::size_t extent : values.shape()) {
        count *= extent;
    }
    require(values.size() == count, "the values do not fill the shape");
    for (std::size_t i = 0; i < values.size(); ++i) {
        const double a = values.data()[i], b = from_file.array.values.data()[i];
        require(a == b || (a != a && b != b), "the two readings disagree on a value");
        if (from_memory.array.type == mha::NpyType::boolean) {
            require(a == 0.0 || a == 1.0, "a bool is neither 0 nor 1");
        }
    }
    return 0;
}
