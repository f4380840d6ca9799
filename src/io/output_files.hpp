// Lesson 4 introduces this header, with `mha forward`: files written with
// every step checked, up to the closing of the file; and the outputs of one run
// written all or nothing (OutputFiles), so that a failure halfway never leaves
// a mix of old and new files.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

/// @file
/// @brief Checked writing of files; the outputs of a run all or nothing (introduced in @ref lesson04).

namespace mha {

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

/// The outputs of one run, written all or nothing.
///
/// Each output is first written to a temporary file in its own folder (a
/// hidden name such as `.out.npy.mha-1234-0.tmp`); commit() renames them into
/// place only when all are written. Until then, and if anything fails, the
/// files already there are untouched, and the destructor removes every
/// temporary file and every folder this object created. A file being replaced
/// is kept as a hard link until every rename has succeeded, so that a failing
/// rename puts back the files renamed before it. A run stopped by SIGINT or
/// SIGTERM, where no destructor runs, leaves no temporary file or created
/// folder either, in a program that installed
/// remove_registered_paths_on_signals(); the renames into place are never
/// cut in two by those signals.
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
    std::vector<int> tickets_;  // what a SIGINT or SIGTERM would remove (io/cleanup_on_signal.hpp)
    bool committed_ = false;
};

}  // namespace mha
