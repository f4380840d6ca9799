// Lesson 5 introduces this header: memory a thread keeps from one forward
// call to the next, for the large intermediates of every version.
//
// At L = 2048, E = 512 one call needs about 30 MB of intermediates: Q, K and V,
// the concatenated heads, v3's (L, S) scores, the packed K and V of v4. Memory
// fresh from the operating system arrives one 4 KB page at a time, and the
// first touch of each page is a page fault, handled by the kernel. Allocated
// anew on every call, those faults took 10 to 20 % of v3's and v4's time,
// depending on where the allocator happened to place each buffer (measured in
// this lesson's benchmarks). Reused, they cost nothing after the first call.
// So each thread keeps one buffer per purpose, grown when a call needs more
// and never shrunk. Its contents are whatever the last call left: every
// version writes each float before it reads it.
#pragma once

#include <cstddef>

/// @file
/// @brief Per-thread buffers reused from one call to the next (introduced in @ref lesson05).

namespace mha {

/// What a workspace buffer holds; each purpose has a buffer of its own.
enum class WorkspaceBuffer {
    projections,    ///< Q, K and V of every head: (B·L, E) + 2 (B·S, E), or [Q | K | V] (B·L, 3E).
    context,        ///< the concatenated heads' outputs, (B·L, E).
    scores,         ///< one head's (L, S) scores and weights (v1 to v3).
    packed_keys,    ///< K packed for the attention products, one head (v3) or every head (v4, v5).
    packed_values,  ///< V packed likewise.
};

/// The calling thread's buffer for `purpose`, at least `count` floats, aligned
/// to 64 bytes. Valid until the same thread asks for the same purpose again.
///
/// @param purpose which buffer.
/// @param count how many floats the caller needs.
/// @return the first float; its contents are unspecified.
/// @throws std::bad_alloc when it must grow and cannot.
/// @see @ref lesson05
float* workspace(WorkspaceBuffer purpose, std::size_t count);

}  // namespace mha
