// Lesson 5: the softmax of a row in float, whole, or one block at a time (online).
#include "fast/online_softmax.hpp"

#include <algorithm>
#include <cmath>

namespace mha {

void softmax_row(const SimdKernels& kernels, float* row, std::size_t n) {
    const float row_max = kernels.max(row, n);
    if (row_max == -std::numeric_limits<float>::infinity()) {  // every key masked: all weights 0
        std::fill(row, row + n, 0.0f);
        return;
    }
    const float sum = kernels.exp_sum(row, n, row_max);  // >= 1: the maximum contributes exp(0)
    kernels.scale(row, n, 1.0f / sum);
}

float OnlineSoftmax::absorb(const SimdKernels& kernels, float* scores, std::size_t n) {
    // EXERCISE online_softmax (lesson 5)
    // HINT: The new maximum is the larger of `max` and kernels.max(scores, n).
    // HINT: If it is still -infinity, every score so far is masked: set the block's scores to 0 and return 1.
    // HINT: Otherwise the correction is std::exp(max - new_max); sum = sum * correction + kernels.exp_sum(scores, n, new_max).
    // HINT: Store the new maximum and return the correction.
    const float block_max = kernels.max(scores, n);
    const float new_max = std::max(max, block_max);
    if (new_max == -std::numeric_limits<float>::infinity()) {
        // Everything so far is masked: no weight anywhere yet, and
        // exp(-inf - (-inf)) would be NaN, so do not compute it.
        std::fill(scores, scores + n, 0.0f);
        return 1.0f;
    }
    // The old sum was taken against the old maximum: shrink it to the new one.
    // The first time, max is -infinity and the correction exp(-inf) is 0.
    const float correction = std::exp(max - new_max);
    sum = sum * correction + kernels.exp_sum(scores, n, new_max);  // scores become exp(score - new_max)
    max = new_max;
    return correction;
    // END EXERCISE
}

}  // namespace mha
