// Lesson 4: every write checked; the outputs of a run written to temporary files beside
// their places and renamed into place together, only once all of them are complete.
#include "io/output_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <system_error>
#include <utility>

#include "io/cleanup_on_signal.hpp"
#include "io/file_status.hpp"

namespace mha {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
    throw std::runtime_error(path + ": " + what);
}

// A hidden name next to `path`, unique to this process: ".out.npy.mha-1234-0.tmp".
std::string temporary_name(const std::string& folder, const std::string& name, unsigned long counter) {
    std::string base = name.substr(0, 180);  // room for the suffix within NAME_MAX (255)
    return (fs::path(folder) / ("." + base + ".mha-" + std::to_string(::getpid()) + "-" + std::to_string(counter) +
                                ".tmp"))
        .string();
}

unsigned long next_counter() {
    static unsigned long counter = 0;
    return counter++;
}

}  // namespace

// ---- One file ----

FileWriter::FileWriter(const std::string& path) : path_(path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) == 0 && !S_ISREG(status.st_mode)) {
        fail(path, "cannot be written: it is " + file_kind_words(status.st_mode) + ", not a regular file");
    }
    // O_NONBLOCK: a FIFO appearing since stat() makes open() fail at once instead of waiting for a reader.
    descriptor_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
    if (descriptor_ < 0) {
        const int error = errno;
        fail(path, "cannot be written (" +
                       (error == ENOENT ? "its folder " + folder_of(path) + " does not exist" : error_words(error)) +
                       ")");
    }
    if (::fstat(descriptor_, &status) != 0 || !S_ISREG(status.st_mode)) {
        ::close(descriptor_);
        descriptor_ = -1;
        fail(path, "cannot be written: it is not a regular file");
    }
    ::fcntl(descriptor_, F_SETFL, ::fcntl(descriptor_, F_GETFL) & ~O_NONBLOCK);
}

FileWriter::~FileWriter() {
    if (descriptor_ >= 0) {  // not closed: a write failed or an exception passed by
        ::close(descriptor_);
        ::unlink(path_.c_str());
    }
}

void FileWriter::write(const char* bytes, std::size_t count) {
    if (descriptor_ < 0) {
        fail(path_, "cannot be written: the file is closed");
    }
    std::size_t done = 0;
    while (done < count) {
        const std::size_t chunk = std::min<std::size_t>(count - done, std::size_t{1} << 30);
        const ssize_t written = ::write(descriptor_, bytes + done, chunk);
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            fail(path_, "cannot be written (" + error_words(errno) + ") after " + std::to_string(done) + " of " +
                            std::to_string(count) + " bytes");
        }
        done += static_cast<std::size_t>(written);
    }
}

void FileWriter::close() {
    if (descriptor_ < 0) {
        return;
    }
    const int result = ::close(descriptor_);
    const int error = errno;
    descriptor_ = -1;
    if (result != 0) {
        ::unlink(path_.c_str());
        fail(path_, "cannot be written (" + error_words(error) + " when closing the file)");
    }
}

void write_file(const std::string& path, const std::string& bytes) {
    FileWriter file(path);
    file.write(bytes.data(), bytes.size());
    file.close();
}

// ---- Outputs all or nothing ----

OutputFiles::~OutputFiles() {
    if (!committed_) {
        remove_everything();
    }
    for (const int ticket : tickets_) {
        unregister_for_cleanup(ticket);
    }
}

void OutputFiles::remove_everything() noexcept {
    for (const Staged& file : files_) {
        ::unlink(file.temporary.c_str());
    }
    for (const StagedFolder& folder : folders_) {
        std::error_code ignored;
        fs::remove_all(folder.temporary, ignored);
    }
    for (auto folder = created_folders_.rbegin(); folder != created_folders_.rend(); ++folder) {
        ::rmdir(folder->c_str());  // only if still empty: nothing of anyone else's is removed
    }
}

std::string OutputFiles::add(const std::string& path) {
    std::string final_path = path;
    struct stat status {};
    if (::lstat(path.c_str(), &status) == 0) {
        if (S_ISLNK(status.st_mode)) {
            std::error_code error;
            const fs::path target = fs::canonical(path, error);
            if (error) {
                fail(path, "cannot be written: it is a symbolic link to a missing file");
            }
            final_path = target.string();
        }
        if (::stat(final_path.c_str(), &status) != 0) {
            fail(path, "cannot be written (" + error_words(errno) + ")");
        }
        if (!S_ISREG(status.st_mode)) {
            fail(path, "cannot be written: it is " + file_kind_words(status.st_mode) +
                           ", not a regular file; an output must be a regular file or a new one");
        }
    }
    const std::string folder = folder_of(final_path);
    if (::stat(folder.c_str(), &status) != 0) {
        fail(path, "cannot be written: its folder " + folder + " does not exist");
    }
    if (!S_ISDIR(status.st_mode)) {
        fail(path, "cannot be written: " + folder + " is not a folder");
    }
    const FileIdentity identity = file_identity(final_path);
    for (const Staged& file : files_) {
        if (file_identity(file.final) == identity) {
            fail(path, "is the same file as the output " + file.final + "; each output needs its own file");
        }
    }
    for (int attempt = 0;; ++attempt) {
        const std::string temporary =
            temporary_name(folder, fs::path(final_path).filename().string(), next_counter());
        const SignalsHeld held;  // created and registered for removal on a signal, with nothing between
        const int descriptor = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (descriptor >= 0) {
            ::close(descriptor);
            tickets_.push_back(register_for_cleanup(temporary, CleanupKind::file));
            files_.push_back({temporary, final_path});
            return temporary;
        }
        if (errno != EEXIST || attempt > 100) {
            fail(path, "cannot be written (" + error_words(errno) + " in the folder " + folder + ")");
        }
    }
}

void OutputFiles::create_folder(const std::string& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) == 0) {
        if (!S_ISDIR(status.st_mode)) {
            fail(path, "is " + file_kind_words(status.st_mode) + ", not a folder");
        }
        return;
    }
    // The missing folders, innermost first, then created outermost first.
    std::vector<fs::path> missing;
    for (fs::path folder = fs::path(path).lexically_normal(); !folder.empty(); folder = folder.parent_path()) {
        if (::stat(folder.c_str(), &status) == 0) {
            if (!S_ISDIR(status.st_mode)) {
                fail(path, "cannot be created: " + folder.string() + " is " + file_kind_words(status.st_mode) +
                               ", not a folder");
            }
            break;
        }
        missing.push_back(folder);
        if (folder == folder.parent_path()) {
            break;
        }
    }
    for (auto folder = missing.rbegin(); folder != missing.rend(); ++folder) {
        if (folder->filename().empty()) {  // "a/b/" gives "a/b/" and then "a/b"
            continue;
        }
        const SignalsHeld held;
        if (::mkdir(folder->c_str(), 0777) != 0) {
            if (errno == EEXIST) {
                continue;
            }
            fail(path, "cannot be created (" + error_words(errno) + ")");
        }
        tickets_.push_back(register_for_cleanup(folder->string(), CleanupKind::empty_folder));
        created_folders_.push_back(folder->string());
    }
}

std::string OutputFiles::add_folder(const std::string& folder) {
    struct stat status {};
    if (::stat(folder.c_str(), &status) != 0 || !S_ISDIR(status.st_mode)) {
        fail(folder, "is not a folder");
    }
    for (int attempt = 0;; ++attempt) {
        const std::string temporary = (fs::path(folder) / (".mha-" + std::to_string(::getpid()) + "-" +
                                                           std::to_string(next_counter()) + ".tmp"))
                                          .string();
        const SignalsHeld held;
        if (::mkdir(temporary.c_str(), 0777) == 0) {
            tickets_.push_back(register_for_cleanup(temporary, CleanupKind::tree));
            folders_.push_back({temporary, folder});
            return temporary;
        }
        if (errno != EEXIST || attempt > 100) {
            fail(folder, "cannot be written (" + error_words(errno) + ")");
        }
    }
}

std::vector<std::string> OutputFiles::commit() {
    signal_self_if_asked("commit");  // the tests' Ctrl-C (tests/cli/mha_train_test.cpp)
    // Every file to move: those added one by one, then every file written into a staged folder.
    std::vector<Staged> moves = files_;
    for (const StagedFolder& folder : folders_) {
        std::vector<fs::path> entries;
        std::error_code error;
        for (auto entry = fs::recursive_directory_iterator(folder.temporary, error);
             !error && entry != fs::recursive_directory_iterator(); entry.increment(error)) {
            entries.push_back(entry->path());
        }
        if (error) {
            fail(folder.temporary, "cannot be listed (" + error.message() + ")");
        }
        std::sort(entries.begin(), entries.end());  // a folder before what is inside it
        for (const fs::path& entry : entries) {
            const fs::path final_path = fs::path(folder.final) / entry.lexically_relative(folder.temporary);
            std::error_code ignored;
            if (fs::is_directory(entry, ignored)) {
                create_folder(final_path.string());
            } else {
                moves.push_back({entry.string(), final_path.string()});
            }
        }
    }

    // Check every place before anything moves: a folder cannot be replaced by a file.
    struct stat status {};
    for (const Staged& move : moves) {
        if (::lstat(move.final.c_str(), &status) == 0 && S_ISDIR(status.st_mode)) {
            fail(move.final, "cannot be written: it is a folder");
        }
    }
    // Every byte on disk before any name changes, and an old file's permissions kept.
    for (const Staged& move : moves) {
        const int descriptor = ::open(move.temporary.c_str(), O_RDONLY | O_CLOEXEC);
        if (descriptor < 0 || ::fsync(descriptor) != 0) {
            const int error = errno;
            if (descriptor >= 0) {
                ::close(descriptor);
            }
            fail(move.final, "cannot be written (" + error_words(error) + ")");
        }
        ::close(descriptor);
        if (::stat(move.final.c_str(), &status) == 0 && S_ISREG(status.st_mode)) {
            ::chmod(move.temporary.c_str(), status.st_mode & 07777);
        }
    }
    // From here to the end, SIGINT and SIGTERM wait: the renames happen all or not at all.
    const SignalsHeld held;
    // A hard link to each file about to be replaced, to put it back should a later rename fail.
    std::vector<std::string> backups(moves.size());
    for (std::size_t i = 0; i < moves.size(); ++i) {
        if (::lstat(moves[i].final.c_str(), &status) == 0) {
            const std::string backup = moves[i].temporary + ".old";
            if (::link(moves[i].final.c_str(), backup.c_str()) == 0) {
                backups[i] = backup;
            }
        }
    }
    const auto remove_backups = [&backups] {
        for (const std::string& backup : backups) {
            if (!backup.empty()) {
                ::unlink(backup.c_str());
            }
        }
    };
    for (std::size_t i = 0; i < moves.size(); ++i) {
        if (::rename(moves[i].temporary.c_str(), moves[i].final.c_str()) != 0) {
            const int error = errno;
            for (std::size_t j = i; j-- > 0;) {  // undo, last first
                if (!backups[j].empty()) {
                    ::rename(backups[j].c_str(), moves[j].final.c_str());
                    backups[j].clear();
                } else {
                    ::unlink(moves[j].final.c_str());
                }
            }
            remove_backups();
            fail(moves[i].final, "cannot be written (" + error_words(error) + "); no output was changed");
        }
    }
    remove_backups();
    committed_ = true;
    for (const int ticket : tickets_) {
        unregister_for_cleanup(ticket);  // the outputs and the folders created are there to stay
    }
    tickets_.clear();
    for (const StagedFolder& folder : folders_) {
        std::error_code ignored;
        fs::remove_all(folder.temporary, ignored);  // only its emptied subfolders are left
    }
    std::vector<std::string> written;
    for (const Staged& move : moves) {
        written.push_back(move.final);
    }
    return written;
}

}  // namespace mha
