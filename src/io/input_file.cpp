// Lesson 4: a file given to read is checked with stat() before it is opened, and opened
// so that nothing can make the open wait (O_NONBLOCK); then checked again on the open file,
// since the path may name something else by then.
#include "io/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <stdexcept>
#include <string>

#include "io/file_status.hpp"

namespace mha {

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what);
}

}  // namespace

InputFile::InputFile(const std::string& path) : path_(path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) != 0) {
        const int error = errno;
        if (error == ENOENT && file_kind(path) != "missing") {
            fail(path, "cannot open the file (it is a symbolic link to a missing file)");
        }
        fail(path, "cannot open the file (" + error_words(error) + ")");
    }
    if (S_ISDIR(status.st_mode)) {
        fail(path, "is a folder, not a file");
    }
    if (!S_ISREG(status.st_mode)) {
        fail(path, "is " + file_kind_words(status.st_mode) + ", not a regular file; only regular files are read");
    }
    // O_NONBLOCK: should the path have become a FIFO since stat(), open() still returns at once.
    descriptor_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (descriptor_ < 0) {
        fail(path, "cannot open the file (" + error_words(errno) + ")");
    }
    if (::fstat(descriptor_, &status) != 0 || !S_ISREG(status.st_mode)) {
        ::close(descriptor_);
        descriptor_ = -1;
        fail(path, "is not a regular file; only regular files are read");
    }
    size_ = static_cast<std::uint64_t>(status.st_size);
}

InputFile::~InputFile() {
    if (descriptor_ >= 0) {
        ::close(descriptor_);
    }
}

void InputFile::read_exactly(char* buffer, std::size_t count) {
    std::size_t done = 0;
    while (done < count) {
        const std::size_t chunk = std::min<std::size_t>(count - done, std::size_t{1} << 30);
        const ssize_t got = ::read(descriptor_, buffer + done, chunk);
        if (got < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(path_, "cannot be read (" + error_words(errno) + ")");
        }
        if (got == 0) {
            fail(path_, "ended early: it is shorter than when it was opened (was it changed while being read?)");
        }
        done += static_cast<std::size_t>(got);
    }
}

std::string read_file(const std::string& path, std::size_t max_bytes) {
    InputFile file(path);
    if (file.size() > max_bytes) {
        fail(path, "is " + std::to_string(file.size()) + " bytes long, more than the " + std::to_string(max_bytes) +
                       " expected");
    }
    std::string bytes(static_cast<std::size_t>(file.size()), '\0');
    file.read_exactly(bytes.data(), bytes.size());
    return bytes;
}

}  // namespace mha
