// Lesson 7's yardstick: how many bytes per second one core can read from
// memory, measured rather than looked up, in the manner of STREAM's tests but
// reading only: the sum of a large float array, one thread. A decoding step
// reads the K/V cache once and does almost no arithmetic per byte, so the
// fraction of this rate it reaches says how close it comes to the machine.
#pragma once

#include <cstddef>
#include <string>

namespace mha::bench {

/// The instruction set the probe sums with: "avx2" when the CPU has it (two
/// 256-bit loads per cycle are more than memory delivers), else "scalar".
std::string read_probe_instruction_set();

/// The sum of x[0..n), with several independent accumulators so that the adds
/// never wait for each other: the loop runs at the speed of the loads.
float sum_floats(const float* x, std::size_t n);

}  // namespace mha::bench
