// Lesson 4 introduces this header, with `mha forward`'s all-or-nothing outputs
// (io/output_files.hpp): a run stopped by Ctrl-C (SIGINT) or by SIGTERM while it
// writes leaves no temporary file behind. A signal stops the program wherever
// it is, so no destructor runs; a signal handler removes what OutputFiles has
// registered instead, using only the few system calls that are safe there.
#pragma once

#include <csignal>
#include <cstddef>
#include <string>

/// @file
/// @brief Temporary files and folders removed when SIGINT or SIGTERM stops the program (introduced in @ref lesson04).

namespace mha {

/// The most paths registered at once; one more is not registered (see register_for_cleanup()).
inline constexpr std::size_t cleanup_max_paths = 64;

/// The longest path registered, in bytes, with its closing zero (Linux's PATH_MAX).
inline constexpr std::size_t cleanup_max_path_bytes = 4096;

/// How a registered path is removed.
enum class CleanupKind {
    file,          ///< unlink(): a temporary file.
    tree,          ///< everything in it, then the folder: a temporary folder of outputs.
    empty_folder,  ///< rmdir(), which removes it only if it is empty: a folder the run created.
};

/// Installs the handler of SIGINT and SIGTERM that removes every registered
/// path (files and trees first, then the empty folders, innermost first), then
/// restores the signal's default action and raises it again, so that the
/// program still ends "killed by SIGINT" (status 130 in a shell) or SIGTERM.
/// The `mha` command calls it first thing; a program that does not leaves the
/// signals as they were, and registering costs nothing.
///
/// @throws nothing.
/// @see @ref lesson04
void remove_registered_paths_on_signals() noexcept;

/// Registers a path for the signal handler to remove, in fixed storage
/// (nothing is allocated, so the handler can read it at any moment). Register
/// a path before it exists, or with the signals held (SignalsHeld), so that no
/// moment leaves it created and unregistered.
///
/// @param path the path, relative to the current folder or absolute.
/// @param kind how to remove it.
/// @return a ticket for unregister_for_cleanup(), or -1 if cleanup_max_paths
///         paths are registered already or the path is longer than
///         cleanup_max_path_bytes: the path is then not removed on a signal.
/// @throws nothing.
/// @see @ref lesson04
int register_for_cleanup(const std::string& path, CleanupKind kind) noexcept;

/// Forgets a registered path: it is kept, or already gone, whatever happens next.
///
/// @param ticket what register_for_cleanup() returned; -1 is ignored.
/// @throws nothing.
/// @see @ref lesson04
void unregister_for_cleanup(int ticket) noexcept;

/// Holds SIGINT and SIGTERM back in this thread for its lifetime: one that
/// arrives meanwhile is delivered when the object is destroyed. Around a step
/// that must not be cut in two, such as creating a file and registering it, or
/// renaming several outputs into place.
class SignalsHeld {
public:
    /// Blocks SIGINT and SIGTERM (pthread_sigmask).
    /// @see @ref lesson04
    SignalsHeld() noexcept;
    /// Restores the mask as it was, delivering a signal that waited.
    ~SignalsHeld();
    /// Not copied: one object, one saved mask.
    SignalsHeld(const SignalsHeld&) = delete;
    /// Not copied: one object, one saved mask.
    SignalsHeld& operator=(const SignalsHeld&) = delete;

private:
    sigset_t saved_;
};

/// For the tests of the signal handling, a deterministic interruption: if the
/// environment variable MHA_TEST_SIGNAL_AT is `POINT:INT` or `POINT:TERM` for this
/// `point`, the program sends itself SIGINT or SIGTERM here. OutputFiles::commit()
/// has the point `commit`, reached when every output is written and none is in
/// place yet: the moment the most temporary files exist.
///
/// @param point the name of this place in the program.
/// @throws nothing.
/// @see @ref lesson04
void signal_self_if_asked(const char* point) noexcept;

}  // namespace mha
