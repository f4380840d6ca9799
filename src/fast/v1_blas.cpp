// Lesson 5, version 1: lesson 4's multi-head attention in float, with every
// matrix product done by OpenBLAS. The baseline the other versions are
// measured against: what calling a good library gives.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "fast/versions.hpp"
#include "fast/workspace.hpp"

namespace mha {
namespace {

// OpenBLAS uses every core for a large product; v1 is the single-threaded
// baseline, so this keeps it to one thread for the duration of a call.
// openblas_set_num_threads is one setting for the whole process.
class OneBlasThread {
public:
    OneBlasThread() : previous_(openblas_get_num_threads()) { openblas_set_num_threads(1); }
    ~OneBlasThread() { openblas_set_num_threads(previous_); }
    OneBlasThread(const OneBlasThread&) = delete;
    OneBlasThread& operator=(const OneBlasThread&) = delete;

private:
    int previous_;
};

blasint blas_size(std::size_t n) { return static_cast<blasint>(n); }

// y (rows, out) = x (rows, in) Wᵀ + b: y starts as the bias in every row, sgemm adds x Wᵀ (beta = 1).
void blas_linear(const float* x, std::size_t rows, const FloatLinear& layer, float* y) {
    const std::size_t out = layer.weight.shape(0), in = layer.weight.shape(1);
    for (std::size_t r = 0; r < rows; ++r) {
        std::copy(layer.bias.begin(), layer.bias.end(), y + r * out);
    }
    if (rows == 0) {
        return;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_size(rows), blas_size(out), blas_size(in), 1.0f, x,
                blas_size(in), layer.weight.data(), blas_size(in), 1.0f, y, blas_size(out));
}

// The softmax of lesson 1 in float, as plain loops.
void softmax_row_plain(float* row, std::size_t n) {
    const float row_max = *std::max_element(row, row + n);
    if (row_max == -std::numeric_limits<float>::infinity()) {
        std::fill(row, row + n, 0.0f);  // every key masked
        return;
    }
    float sum = 0.0f;
    for (std::size_t j = 0; j < n; ++j) {
        row[j] = std::exp(row[j] - row_max);
        sum += row[j];
    }
    for (std::size_t j = 0; j < n; ++j) {
        row[j] /= sum;
    }
}

}  // namespace

// [v1_forward]
FastAttentionResult forward_v1_blas(const FloatParameters& parameters, const ForwardCall& call, bool need_weights) {
    const OneBlasThread one_thread;
    const std::size_t B = call.B, L = call.L, S = call.S, E = call.E, H = call.H, d_k = call.d_k;
    FastAttentionResult result = allocate_result(call, need_weights);  // output (B, L, E), weights (B, H, L, S)

    // ---- 1. Project: the batch entries stacked, one product for all ----
    float* Q = workspace(WorkspaceBuffer::projections, B * L * E + 2 * B * S * E);  // (B·L, E)
    float* K = Q + B * L * E;                                                       // (B·S, E)
    float* V = K + B * S * E;                                                       // (B·S, E)
    blas_linear(call.query.data(), B * L, parameters.query, Q);
    blas_linear(call.key.data(), B * S, parameters.key, K);
    blas_linear(call.value.data(), B * S, parameters.value, V);

    // ---- 2. and 3. Split into heads and attend: head h is d_k columns of Q, K and V, read in place ----
    float* context = workspace(WorkspaceBuffer::context, B * L * E);  // (B·L, E): every head writes its d_k columns
    float* scratch = need_weights ? nullptr : workspace(WorkspaceBuffer::scores, L * S);  // (L, S): one head's scores
    const float scale = 1.0f / std::sqrt(static_cast<float>(d_k));
    for (std::size_t b = 0; b < B && L > 0; ++b) {
        for (std::size_t h = 0; h < H; ++h) {
            const float* q = Q + b * L * E + h * d_k;  // (L, d_k), row stride E
            const float* k = K + b * S * E + h * d_k;  // (S, d_k), row stride E
            const float* v = V + b * S * E + h * d_k;  // (S, d_k), row stride E
            float* out = context + b * L * E + h * d_k;  // (L, d_k), row stride E
            float* scores = need_weights ? result.weights.data() + (b * H + h) * L * S : scratch;  // (L, S)
            // scores (L, S) = Q_h (L, d_k) K_hᵀ (d_k, S) / sqrt(d_k): sgemm's alpha does the scaling
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_size(L), blas_size(S), blas_size(d_k), scale, q,
                        blas_size(E), k, blas_size(E), 0.0f, scores, blas_size(S));
            const ScoreMask mask = call.mask_of(b, h);
            for (std::size_t i = 0; i < L; ++i) {
                mask.apply(i, 0, scores + i * S, S);
                softmax_row_plain(scores + i * S, S);
            }
            // context_h (L, d_k) = P (L, S) V_h (S, d_k)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_size(L), blas_size(d_k), blas_size(S), 1.0f,
                        scores, blas_size(S), v, blas_size(E), 0.0f, out, blas_size(E));
        }
    }

    // ---- 4. and 5. Concatenate (done: the heads wrote side by side) and mix with W_o ----
    blas_linear(context, B * L, parameters.output, result.output.data());
    return result;
}
// [v1_forward]

}  // namespace mha
