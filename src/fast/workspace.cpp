// Lesson 5: per-thread buffers reused from one call to the next.
#include "fast/workspace.hpp"

#include <array>

#include "fast/packing.hpp"

namespace mha {

float* workspace(WorkspaceBuffer purpose, std::size_t count) {
    // One buffer per purpose for each thread, kept until the thread ends.
    thread_local std::array<AlignedFloats, 5> buffers;
    AlignedFloats& buffer = buffers[static_cast<std::size_t>(purpose)];
    if (buffer.size() < count) {
        buffer.resize(count);
    }
    return buffer.data();
}

}  // namespace mha
