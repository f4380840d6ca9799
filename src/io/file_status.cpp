// Lesson 4: what a path names and which file it is, asked with stat() alone.
#include "io/file_status.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace mha {

namespace fs = std::filesystem;

std::string error_words(int error) {
    switch (error) {
        case ENOENT: return "no such file";
        case EACCES:
        case EPERM: return "permission denied";
        case ENOSPC: return "no space left on the device";
        case EFBIG: return "file too large: a file-size limit (ulimit -f) or the file system's";
        case EDQUOT: return "disk quota exceeded";
        case EROFS: return "read-only file system";
        case ENOTDIR: return "a part of the path is not a folder";
        case EISDIR: return "is a folder";
        case ELOOP: return "too many levels of symbolic links";
        case ENAMETOOLONG: return "the name is too long";
        case EIO: return "input/output error";
        default: return std::strerror(error);
    }
}

std::string file_kind_words(mode_t mode) {
    if (S_ISREG(mode)) return "a regular file";
    if (S_ISDIR(mode)) return "a folder";
    if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a regular file";
}

std::string folder_of(const std::string& path) {
    const std::string folder = fs::path(path).parent_path().string();
    return folder.empty() ? "." : folder;
}

std::string file_kind(const std::string& path) {
    struct stat status {};
    if (::stat(path.c_str(), &status) == 0) {
        return file_kind_words(status.st_mode);
    }
    if (::lstat(path.c_str(), &status) == 0 && S_ISLNK(status.st_mode)) {
        return "a symbolic link to a missing file";
    }
    return "missing";
}

bool is_regular_file(const std::string& path) {
    struct stat status {};
    return ::stat(path.c_str(), &status) == 0 && S_ISREG(status.st_mode);
}

bool path_exists(const std::string& path) {
    struct stat status {};
    return ::stat(path.c_str(), &status) == 0;
}

FileIdentity file_identity(const std::string& path) {
    FileIdentity identity;
    struct stat status {};
    if (::stat(path.c_str(), &status) == 0) {
        identity.device = status.st_dev;
        identity.inode = status.st_ino;
        identity.known = true;
        return identity;
    }
    if (::stat(folder_of(path).c_str(), &status) == 0) {
        identity.device = status.st_dev;
        identity.inode = status.st_ino;
        identity.name = fs::path(path).filename().string();
        identity.known = !identity.name.empty();
    }
    return identity;
}

}  // namespace mha
