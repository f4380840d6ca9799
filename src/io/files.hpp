// Lesson 4 introduces this header, with `mha forward`: files read and written
// with every step checked. A file given to read must be a regular file, and is
// never waited on (a FIFO or a device is refused at once); every write is
// checked, up to the closing of the file; and the outputs of one run are
// written all or nothing (OutputFiles).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

/// @file
/// @brief Checked reading and writing of files; outputs all or nothing (introduced in @ref lesson04).

namespace mha {

/// What kind of thing a path names, in words for a message: "a regular file",
/// "a folder", "a FIFO (named pipe)", "a character device", "a block device",
/// "a socket", "a symbolic link to a missing file" or "missing".
///
/// @param path any path; symbolic links are followed.
/// @return the words.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::string file_kind(const std::string& path);

/// Whether a path names a regular file (symbolic links are followed).
///
/// @param path any path.
/// @return true for a regular file, false for anything else or nothing.
/// @throws nothing.
/// @see @ref lesson04
bool is_regular_file(const std::string& path);

/// Whether a path names anything at all (symbolic links are followed); unlike
/// opening the file, this never blocks and does not need read permission.
///
/// @param path any path.
/// @return true if stat() succeeds.
/// @throws nothing.
/// @see @ref lesson04
bool path_exists(const std::string& path);

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

/// A file opened for writing whose every write is checked, as is its closing.
/// If it is destroyed before close() succeeded (a write failed, an exception
/// passed by), the partial file is removed.
class FileWriter {
public:
    /// Creates (or truncates) the file.
    ///
    /// @param path the file.
    /// @throws std::runtime_error naming the path and why (no such folder,
    ///         permission denied, not a regular file...) if it cannot be created.
    /// @see @ref lesson04
    explicit FileWriter(const std::string& path);
    /// Closes the file if close() was not called, and then removes it: it is incomplete.
    ~FileWriter();
    /// Not copied: one object, one open file.
    FileWriter(const FileWriter&) = delete;
    /// Not copied: one object, one open file.
    FileWriter& operator=(const FileWriter&) = delete;

    /// Writes all of the bytes, retrying short writes.
    ///
    /// @param bytes the data.
    /// @param count how many bytes.
    /// @throws std::runtime_error naming the path and why (disk full, file-size limit...).
    /// @see @ref lesson04
    void write(const char* bytes, std::size_t count);

    /// Closes the file, checking that the system accepted everything.
    ///
    /// @throws std::runtime_error naming the path if closing reports an error.
    /// @see @ref lesson04
    void close();

private:
    std::string path_;
    int descriptor_ = -1;
};

/// Writes text (or any bytes) to a file with FileWriter: all written and
/// closed, or the partial file removed and an error thrown.
///
/// @param path the file to create or overwrite.
/// @param bytes its contents.
/// @throws std::runtime_error naming the path and why if it cannot be written completely.
/// @see @ref lesson04
void write_file(const std::string& path, const std::string& bytes);

/// The identity of a file, to tell whether two paths name the same file
/// however they are spelt: a relative or an absolute path, with or without
/// `..`, a symbolic or a hard link. It is the device and inode of an existing file (links
/// followed), or, for a file that does not exist yet, those of its folder and its name.
struct FileIdentity {
    dev_t device = 0;      ///< st_dev of the file, or of its folder.
    ino_t inode = 0;       ///< st_ino of the file, or of its folder.
    std::string name;      ///< empty for an existing file; the file's name in its folder otherwise.
    bool known = false;    ///< false if neither the file nor its folder exists.

    /// Both known and the same file.
    /// @param other another identity.
    /// @return whether they are the same file.
    /// @see @ref lesson04
    bool operator==(const FileIdentity& other) const {
        return known && other.known && device == other.device && inode == other.inode && name == other.name;
    }
};

/// The identity of a path, existing or not.
///
/// @param path any path.
/// @return its identity; FileIdentity::known is false if neither it nor its folder exists.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
FileIdentity file_identity(const std::string& path);

/// The outputs of one run, written all or nothing.
///
/// Each output is first written to a temporary file in its own folder (a
/// hidden name such as `.out.npy.mha-1234-0.tmp`); commit() renames them into
/// place only when all are written. Until then, and if anything fails, the
/// files already there are untouched, and the destructor removes every
/// temporary file and every folder this object created. A file being replaced
/// is kept as a hard link until every rename has succeeded, so that a failing
/// rename puts back the files renamed before it.
///
///     mha::OutputFiles outputs;
///     mha::write_npy(outputs.add("out.npy"), output, mha::NpyType::float32);
///     mha::write_npy(outputs.add("weights.npy"), weights, mha::NpyType::float32);
///     outputs.commit();  // both appear, or neither changes
class OutputFiles {
public:
    /// No outputs yet.
    OutputFiles() = default;
    /// Removes every temporary file and created folder, unless commit() succeeded.
    ~OutputFiles();
    /// Not copied: the temporary files belong to one object.
    OutputFiles(const OutputFiles&) = delete;
    /// Not copied: the temporary files belong to one object.
    OutputFiles& operator=(const OutputFiles&) = delete;

    /// Checks that `path` can be an output and returns the temporary file to
    /// write it to. A symbolic link to a regular file is followed: its target is replaced.
    ///
    /// @param path the output file, as given.
    /// @return the temporary path, in the same folder, already created (empty).
    /// @throws std::runtime_error starting with the path if it exists and is
    ///         not a regular file (a folder, a device such as /dev/full, a FIFO),
    ///         is a symbolic link to nothing, or its folder does not exist or
    ///         cannot be written.
    /// @see @ref lesson04
    std::string add(const std::string& path);

    /// Creates a folder (and its parents) if missing; the ones created are
    /// removed again if the run fails.
    ///
    /// @param path the folder.
    /// @throws std::runtime_error starting with the path if it exists and is
    ///         not a folder, or cannot be created.
    /// @see @ref lesson04
    void create_folder(const std::string& path);

    /// Returns a fresh temporary folder inside `folder` (which must exist;
    /// see create_folder()) to write a tree of outputs into: at commit(),
    /// every file in it moves to the same place under `folder`, creating
    /// subfolders as needed, and the temporary folder is removed.
    ///
    /// @param folder the final folder.
    /// @return the temporary folder, such as `folder/.mha-1234-0.tmp`.
    /// @throws std::runtime_error starting with the folder if it cannot be written.
    /// @see @ref lesson04
    std::string add_folder(const std::string& folder);

    /// Moves every output into place: first checks that none of the places is
    /// a folder, then flushes each temporary file to disk and renames it.
    ///
    /// @return the final paths, in the order added (a folder's files sorted by path).
    /// @throws std::runtime_error naming the file at fault if a rename fails;
    ///         the files renamed before it are put back as they were.
    /// @see @ref lesson04
    std::vector<std::string> commit();

private:
    struct Staged {
        std::string temporary;  // where the data was written
        std::string final;      // where it goes
    };
    struct StagedFolder {
        std::string temporary;
        std::string final;
    };
    void remove_everything() noexcept;

    std::vector<Staged> files_;
    std::vector<StagedFolder> folders_;
    std::vector<std::string> created_folders_;  // in the order created
    bool committed_ = false;
};

}  // namespace mha
