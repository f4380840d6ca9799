// Lesson 5 introduces this header: running independent tasks on several
// threads, the last step of the fast attention (version 5).
#pragma once

#include <cstddef>
#include <functional>

/// @file
/// @brief A minimal parallel loop over std::thread (introduced in @ref lesson05).

namespace mha {

/// Calls task(i) for every i in [0, count), on `threads` threads at once.
///
/// The calling thread works too, so `threads - 1` std::threads are started and
/// joined before it returns. The tasks are handed out one at a time from a
/// shared atomic counter: a thread that finishes early takes the next one, so
/// tasks of different sizes (causal attention, say) still keep every thread
/// busy. The tasks must be independent: each writes its own part of the output.
///
/// @param threads how many threads work, at least 1; never more than `count`
///        are started. With 1, the tasks run in order on the calling thread.
/// @param count the number of tasks.
/// @param task what to do for task i; it may be called from any of the threads.
/// @throws std::invalid_argument if threads is 0; the first exception a task
///         throws, once every thread has stopped.
/// @see @ref lesson05
void parallel_for(std::size_t threads, std::size_t count, const std::function<void(std::size_t)>& task);

}  // namespace mha
