// Lesson 7's read-bandwidth probe: the sum, with AVX2 when the CPU has it
// (read_bandwidth_avx2.cpp, the only file compiled with -mavx2), else plain loops.
#include "read_bandwidth_probe.hpp"

#include <cstddef>

#if MHA_READ_PROBE_X86
#include <xsimd/xsimd.hpp>
float sum_floats_avx2(const float* x, std::size_t n);  // read_bandwidth_avx2.cpp
#endif

namespace mha::bench {
namespace {

bool cpu_has_avx2() {
#if MHA_READ_PROBE_X86
    return xsimd::available_architectures().avx2;
#else
    return false;
#endif
}

// Eight chains of adds: the compiler keeps them apart (float addition is not
// reassociated), and eight are enough to hide the latency of each.
float sum_scalar(const float* x, std::size_t n) {
    float sums[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        for (std::size_t lane = 0; lane < 8; ++lane) {
            sums[lane] += x[i + lane];
        }
    }
    for (; i < n; ++i) {
        sums[0] += x[i];
    }
    return ((sums[0] + sums[1]) + (sums[2] + sums[3])) + ((sums[4] + sums[5]) + (sums[6] + sums[7]));
}

}  // namespace

std::string read_probe_instruction_set() { return cpu_has_avx2() ? "avx2" : "scalar"; }

float sum_floats(const float* x, std::size_t n) {
#if MHA_READ_PROBE_X86
    if (cpu_has_avx2()) {
        return sum_floats_avx2(x, n);
    }
#endif
    return sum_scalar(x, n);
}

}  // namespace mha::bench
