// Lesson 4: temporary files removed when SIGINT or SIGTERM stops the program.
//
// A signal handler may run between any two instructions of the program, even in the
// middle of malloc(), so it may not allocate, take a lock or touch a std::string: only
// the functions POSIX lists as async-signal-safe (unlink, rmdir, openat, unlinkat,
// close, sigaction, raise...). The paths therefore wait in fixed arrays, filled before
// the signal comes, and each slot says with one atomic number whether it holds a
// complete path, so that the handler never reads one half written.
#include "io/cleanup_on_signal.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <string>

namespace mha {
namespace {

// What a slot holds: free, being filled, or a complete path of one kind.
enum SlotState : int { free_slot = 0, filling = 1, file_path = 2, tree_path = 3, empty_folder_path = 4 };

struct Slot {
    std::atomic<int> state{free_slot};
    char path[cleanup_max_path_bytes];
};
static_assert(std::atomic<int>::is_always_lock_free, "the handler reads the slots' states without a lock");

Slot slots[cleanup_max_paths];

// Removes a folder's entries and then the folder, `name` in the folder `parent`. The
// entries are listed with getdents64(), the system call under readdir(), since
// opendir() allocates. A tree of outputs is a few levels deep; depth is bounded anyway.
void remove_tree_at(int parent, const char* name, int depth) {
    if (::unlinkat(parent, name, 0) == 0 || errno == ENOENT || depth > 16) {
        return;  // a file, or nothing: done
    }
    const int folder = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (folder < 0) {
        return;
    }
    alignas(8) char buffer[2048];
    // Removing entries while listing them may make the listing skip some: list again
    // until a listing finds nothing left to remove.
    for (int listing = 0; listing < 8; ++listing) {
        bool removed_any = false;
        ::lseek(folder, 0, SEEK_SET);
        for (ssize_t got; (got = ::getdents64(folder, buffer, sizeof buffer)) > 0;) {
            for (ssize_t at = 0; at < got;) {
                const auto* entry = reinterpret_cast<const struct dirent64*>(buffer + at);
                at += entry->d_reclen;
                if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
                    remove_tree_at(folder, entry->d_name, depth + 1);
                    removed_any = true;
                }
            }
        }
        if (!removed_any) {
            break;
        }
    }
    ::close(folder);
    ::unlinkat(parent, name, AT_REMOVEDIR);
}

void remove_registered_paths() {
    for (Slot& slot : slots) {
        const int state = slot.state.load(std::memory_order_acquire);
        if (state == file_path) {
            ::unlink(slot.path);
        } else if (state == tree_path) {
            remove_tree_at(AT_FDCWD, slot.path, 0);
        }
    }
    // Created folders, once emptied: a folder inside another must go first, and the
    // slots' order need not be the creation order, so go round until nothing changes.
    for (std::size_t round = 0; round < cleanup_max_paths; ++round) {
        bool removed_any = false;
        for (Slot& slot : slots) {
            if (slot.state.load(std::memory_order_acquire) == empty_folder_path && ::rmdir(slot.path) == 0) {
                slot.state.store(free_slot, std::memory_order_release);
                removed_any = true;
            }
        }
        if (!removed_any) {
            break;
        }
    }
}

extern "C" void on_stopping_signal(int signal_number) {
    remove_registered_paths();
    // Then die of the same signal, as if there had been no handler: the shell and the
    // parent see "killed by SIGINT", not an exit status made up here.
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    sigemptyset(&default_action.sa_mask);
    ::sigaction(signal_number, &default_action, nullptr);
    ::raise(signal_number);  // delivered as soon as this handler returns and unblocks it
}

}  // namespace

void remove_registered_paths_on_signals() noexcept {
    struct sigaction action {};
    action.sa_handler = on_stopping_signal;
    sigemptyset(&action.sa_mask);
    sigaddset(&action.sa_mask, SIGINT);  // one handler at a time, even for both signals
    sigaddset(&action.sa_mask, SIGTERM);
    for (const int signal_number : {SIGINT, SIGTERM}) {
        struct sigaction previous {};
        // A signal ignored when the program started (`nohup`, a shell's background job
        // without job control) stays ignored, as the shell meant.
        if (::sigaction(signal_number, nullptr, &previous) == 0 && previous.sa_handler != SIG_IGN) {
            ::sigaction(signal_number, &action, nullptr);
        }
    }
}

int register_for_cleanup(const std::string& path, CleanupKind kind) noexcept {
    if (path.empty() || path.size() >= cleanup_max_path_bytes) {
        return -1;
    }
    for (std::size_t i = 0; i < cleanup_max_paths; ++i) {
        int expected = free_slot;
        if (slots[i].state.compare_exchange_strong(expected, filling, std::memory_order_acquire)) {
            std::memcpy(slots[i].path, path.c_str(), path.size() + 1);
            const int state = kind == CleanupKind::file ? file_path
                              : kind == CleanupKind::tree ? tree_path
                                                          : empty_folder_path;
            slots[i].state.store(state, std::memory_order_release);  // now complete
            return static_cast<int>(i);
        }
    }
    return -1;
}

void unregister_for_cleanup(int ticket) noexcept {
    if (ticket >= 0 && static_cast<std::size_t>(ticket) < cleanup_max_paths) {
        slots[ticket].state.store(free_slot, std::memory_order_release);
    }
}

SignalsHeld::SignalsHeld() noexcept {
    sigset_t held;
    sigemptyset(&held);
    sigaddset(&held, SIGINT);
    sigaddset(&held, SIGTERM);
    ::pthread_sigmask(SIG_BLOCK, &held, &saved_);
}

SignalsHeld::~SignalsHeld() { ::pthread_sigmask(SIG_SETMASK, &saved_, nullptr); }

void signal_self_if_asked(const char* point) noexcept {
    const char* asked = std::getenv("MHA_TEST_SIGNAL_AT");
    if (asked == nullptr) {
        return;
    }
    const std::size_t length = std::strlen(point);
    if (std::strncmp(asked, point, length) != 0 || asked[length] != ':') {
        return;
    }
    const char* name = asked + length + 1;
    if (std::strcmp(name, "INT") == 0) {
        ::raise(SIGINT);
    } else if (std::strcmp(name, "TERM") == 0) {
        ::raise(SIGTERM);
    }
}

}  // namespace mha
