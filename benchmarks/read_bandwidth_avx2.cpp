// Lesson 7's read-bandwidth probe for AVX2: this file, and only this file of
// the probe, is compiled with -mavx2 (benchmarks/CMakeLists.txt).
#include <cstddef>

#include <xsimd/xsimd.hpp>

static_assert(XSIMD_WITH_AVX2, "read_bandwidth_avx2.cpp must be compiled with -mavx2");

float sum_floats_avx2(const float* x, std::size_t n);

// Four registers of 8 floats, four independent chains of adds: 128 bytes per
// round, two loads per cycle, far beyond what memory delivers to one core.
float sum_floats_avx2(const float* x, std::size_t n) {
    using batch = xsimd::batch<float, xsimd::avx2>;
    constexpr std::size_t W = batch::size;
    batch s0(0.0f), s1(0.0f), s2(0.0f), s3(0.0f);
    std::size_t i = 0;
    for (; i + 4 * W <= n; i += 4 * W) {
        s0 += batch::load_unaligned(x + i);
        s1 += batch::load_unaligned(x + i + W);
        s2 += batch::load_unaligned(x + i + 2 * W);
        s3 += batch::load_unaligned(x + i + 3 * W);
    }
    alignas(32) float lanes[W];
    ((s0 + s1) + (s2 + s3)).store_aligned(lanes);
    float sum = 0.0f;
    for (std::size_t lane = 0; lane < W; ++lane) {
        sum += lanes[lane];
    }
    for (; i < n; ++i) {
        sum += x[i];
    }
    return sum;
}
