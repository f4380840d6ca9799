// Lesson 4 introduces this header, with `mha forward`: what a path names (a
// regular file, a folder, a FIFO, nothing...) and which file it is however it
// is spelt, asked of the system with stat() so that nothing is opened or
// waited on; and the words a message uses for it.
#pragma once

#include <sys/types.h>

#include <string>

/// @file
/// @brief What a path names, in words for a message, and its identity (introduced in @ref lesson04).

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

/// A kind of file as stat() gives it (`st_mode`), in words for a message:
/// "a regular file", "a folder", "a FIFO (named pipe)", "a character device",
/// "a block device", "a socket", or "not a regular file" for anything else.
///
/// @param mode `st_mode` of a `struct stat`.
/// @return the words.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::string file_kind_words(mode_t mode);

/// An error number (errno) in a few plain words for a message, such as
/// "no such file" or "permission denied"; strerror()'s words for the rare ones.
///
/// @param error an errno value.
/// @return the words.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::string error_words(int error);

/// The folder a path is in, as written: "." for a bare name.
///
/// @param path any path.
/// @return its folder.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
std::string folder_of(const std::string& path);

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

}  // namespace mha
