// Lesson 7: the decoding kernel as plain loops, one float at a time, and the
// run-time choice of a table. What every SIMD version computes, in the same
// three passes (decode_kernel_templates.hpp says why they are arranged so); the
// fallback on a CPU without AVX2 and the only kernel of MHA_SIMD=scalar. This
// file is compiled with the library's ordinary flags.
#include <cmath>
#include <cstddef>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "decode/decode_kernels.hpp"

namespace mha {
namespace {

void attend_group(const float* queries, std::size_t query_heads, const float* keys, const float* values,
                  std::size_t length, std::size_t head_dim, float* output, float* scores) {
    float* sums = scores + query_heads * length;  // (R)
    // Pass 1: scores (R, L) = queries (R, d_k) · keysᵀ, key row j once for all R heads.
    for (std::size_t j = 0; j < length; ++j) {
        const float* key = keys + j * head_dim;  // (d_k)
        for (std::size_t r = 0; r < query_heads; ++r) {
            float score = 0.0f;
            for (std::size_t c = 0; c < head_dim; ++c) {
                score += queries[r * head_dim + c] * key[c];
            }
            scores[r * length + j] = score;
        }
    }
    // Pass 2: unnormalised weights exp(s - max) and their sums.
    for (std::size_t r = 0; r < query_heads; ++r) {
        float* row = scores + r * length;  // (L)
        float largest = -std::numeric_limits<float>::infinity();
        for (std::size_t j = 0; j < length; ++j) {
            largest = row[j] > largest ? row[j] : largest;
        }
        float sum = 0.0f;
        for (std::size_t j = 0; j < length; ++j) {
            row[j] = std::exp(row[j] - largest);
            sum += row[j];
        }
        sums[r] = sum;
    }
    // Pass 3: output (R, d_k) = weights (R, L) · values (L, d_k), value row j once for all R heads.
    for (std::size_t i = 0; i < query_heads * head_dim; ++i) {
        output[i] = 0.0f;
    }
    for (std::size_t j = 0; j < length; ++j) {
        const float* value = values + j * head_dim;  // (d_k)
        for (std::size_t r = 0; r < query_heads; ++r) {
            const float weight = scores[r * length + j];
            for (std::size_t c = 0; c < head_dim; ++c) {
                output[r * head_dim + c] += weight * value[c];
            }
        }
    }
    for (std::size_t r = 0; r < query_heads; ++r) {
        const float inverse = 1.0f / sums[r];
        for (std::size_t c = 0; c < head_dim; ++c) {
            output[r * head_dim + c] *= inverse;
        }
    }
}

}  // namespace

const DecodeKernels& scalar_decode_kernel_table() {
    static const DecodeKernels table = {"scalar", 1, &attend_group};
    return table;
}

// The choice is lesson 5's: the decoding table of the instruction set
// simd_kernels() chose, which the CPU can run and the build compiled.
const DecodeKernels& decode_kernels_for(const SimdKernels& simd) {
    const std::string name = simd.instruction_set;
#if MHA_WITH_AVX512
    if (name == "avx512f") {
        return avx512_decode_kernel_table();
    }
#endif
#if MHA_WITH_AVX2
    if (name == "avx2+fma") {
        return avx2_decode_kernel_table();
    }
#endif
    if (name == "scalar") {
        return scalar_decode_kernel_table();
    }
    throw std::invalid_argument("decode_kernels_for: this build has no decoding kernel for the instruction set '" +
                                name + "'");
}

const DecodeKernels& decode_kernels() {
    static const DecodeKernels& chosen = decode_kernels_for(simd_kernels());  // decided once
    return chosen;
}

std::vector<const DecodeKernels*> available_decode_kernels() {
    std::vector<const DecodeKernels*> tables;
    for (const SimdKernels* simd : available_simd_kernels()) {
        tables.push_back(&decode_kernels_for(*simd));
    }
    return tables;
}

}  // namespace mha
