// Lesson 5: the kernels as plain loops, one float at a time. This is what every
// SIMD kernel computes, and the fallback on a CPU without AVX2 (or in a build
// with MHA_SIMD=scalar). It is compiled with the library's ordinary flags.
#include <cmath>
#include <cstddef>
#include <limits>

#include "fast/simd_dispatch.hpp"

namespace mha {
namespace {

constexpr std::size_t scalar_mr = 4;  // a 4 × 8 tile of C in 32 local floats
constexpr std::size_t scalar_nr = 8;

float dot(const float* a, const float* b, std::size_t n) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        sum += a[i] * b[i];
    }
    return sum;
}

float max(const float* x, std::size_t n) {
    float largest = -std::numeric_limits<float>::infinity();
    for (std::size_t i = 0; i < n; ++i) {
        largest = x[i] > largest ? x[i] : largest;
    }
    return largest;
}

float exp_sum(float* x, std::size_t n, float shift) {
    float sum = 0.0f;
    for (std::size_t i = 0; i < n; ++i) {
        x[i] = std::exp(x[i] - shift);  // exp(-inf) = 0: a masked score gets no weight
        sum += x[i];
    }
    return sum;
}

void scale(float* x, std::size_t n, float factor) {
    for (std::size_t i = 0; i < n; ++i) {
        x[i] *= factor;
    }
}

void axpy(float a, const float* x, float* y, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        y[i] += a * x[i];
    }
}

// The online softmax of each column, as OnlineSoftmax::absorb does it for a row
// (simd_kernels.hpp has the formulas).
void online_softmax_columns(float* scores, std::size_t keys, std::size_t queries, std::size_t ld,
                            float* running_max, float* running_sum, float* correction) {
    const float minus_infinity = -std::numeric_limits<float>::infinity();
    for (std::size_t q = 0; q < queries; ++q) {
        float new_max = running_max[q];
        for (std::size_t k = 0; k < keys; ++k) {
            new_max = scores[k * ld + q] > new_max ? scores[k * ld + q] : new_max;
        }
        const float shift = new_max == minus_infinity ? 0.0f : new_max;  // all masked so far: exp(-inf) = 0
        const float c = std::exp(running_max[q] - shift);
        float sum = 0.0f;
        for (std::size_t k = 0; k < keys; ++k) {
            scores[k * ld + q] = std::exp(scores[k * ld + q] - shift);
            sum += scores[k * ld + q];
        }
        running_sum[q] = running_sum[q] * c + sum;
        running_max[q] = new_max;
        correction[q] = c;
    }
}

// The micro-kernel's contract (simd_dispatch.hpp) with plain loops: the tile
// lives in a local array instead of registers.
void micro_kernel(std::size_t kc, const float* a, std::size_t a_step, const float* b, float* c, std::size_t ldc,
                  bool accumulate) {
    float tile[scalar_mr][scalar_nr] = {};  // (MR, NR)
    for (std::size_t p = 0; p < kc; ++p) {
        for (std::size_t r = 0; r < scalar_mr; ++r) {
            const float a_rp = a[p * a_step + r];  // A(r, p)
            for (std::size_t j = 0; j < scalar_nr; ++j) {
                tile[r][j] += a_rp * b[p * scalar_nr + j];  // B(p, j)
            }
        }
    }
    for (std::size_t r = 0; r < scalar_mr; ++r) {
        for (std::size_t j = 0; j < scalar_nr; ++j) {
            c[r * ldc + j] = accumulate ? c[r * ldc + j] + tile[r][j] : tile[r][j];
        }
    }
}

}  // namespace

const SimdKernels& scalar_kernel_table() {
    static const SimdKernels table = {"scalar", 1,    scalar_mr, scalar_nr, &dot,        &max,
                                      &exp_sum, &scale, &axpy,   &online_softmax_columns, &micro_kernel};
    return table;
}

}  // namespace mha
