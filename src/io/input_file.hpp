// Lesson 4 introduces this header, with `mha forward`: a file given to read,
// checked before it is opened. It must be a regular file, and it is never
// waited on: a FIFO or a device is refused at once, where a plain open() of a
// FIFO would block until someone writes to it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

/// @file
/// @brief Regular files read with every step checked, never waited on (introduced in @ref lesson04).

namespace mha {

/// A regular file opened for reading. Opening never blocks: the path is
/// checked with stat() first and opened with O_NONBLOCK, so a FIFO, a device
/// or a folder is refused at once.
class InputFile {
public:
    /// Opens the file.
    ///
    /// @param path the file.
    /// @throws std::runtime_error, one line starting with the path: "cannot open
    ///         the file (no such file)", "(permission denied)", or "is a folder /
    ///         a FIFO (named pipe) / a device ..., not a regular file".
    /// @see @ref lesson04
    explicit InputFile(const std::string& path);
    /// Closes the file.
    ~InputFile();
    /// Not copied: one object, one open file.
    InputFile(const InputFile&) = delete;
    /// Not copied: one object, one open file.
    InputFile& operator=(const InputFile&) = delete;

    /// The file's size in bytes when it was opened.
    /// @return the size.
    /// @see @ref lesson04
    std::uint64_t size() const { return size_; }

    /// Reads exactly `count` bytes from where the last read ended.
    ///
    /// @param buffer where they go; room for `count` bytes.
    /// @param count how many.
    /// @throws std::runtime_error naming the path if the file ends first or cannot be read.
    /// @see @ref lesson04
    void read_exactly(char* buffer, std::size_t count);

private:
    std::string path_;
    int descriptor_ = -1;
    std::uint64_t size_ = 0;
};

/// Reads a whole regular file, as InputFile does (never blocking).
///
/// @param path the file.
/// @param max_bytes the largest size accepted.
/// @return its bytes.
/// @throws std::runtime_error starting with the path if it cannot be read, is
///         not a regular file, or is longer than max_bytes.
/// @see @ref lesson04
std::string read_file(const std::string& path, std::size_t max_bytes);

}  // namespace mha
