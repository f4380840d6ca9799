// Lesson 5: fast multi-head attention in float, versions 1 to 5.
//
// Every version computes the same thing as lesson 4, in the same order:
//
//   Q (B·L, E) = query (B·L, E)    W_qᵀ + b_q     the batch entries stacked: one product for all
//   K (B·S, E) = key   (B·S, kdim) W_kᵀ + b_k
//   V (B·S, E) = value (B·S, vdim) W_vᵀ + b_v
//   for each entry b and head h: context[b, :, h·d_k : (h+1)·d_k] = attention(Q_bh, K_bh, V_bh, masks)
//   output (B·L, E) = context (B·L, E) W_oᵀ + b_o
//
// What changes from version to version is how the products and the attention are computed.
// For self-attention (one tensor as query, key and value), v3 to v5 make the first three
// products one: [Q | K | V] (B·L, 3E) = x [W_q; W_k; W_v]ᵀ + [b_q; b_k; b_v].
#include "fast_attention.hpp"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "head_attention.hpp"
#include "parallel_for.hpp"

namespace mha {
namespace {

constexpr const char* function_name = "FastMultiHeadAttention::forward";
constexpr std::size_t max_threads = 1024;

[[noreturn]] void fail(const std::string& what) { throw std::invalid_argument(std::string(function_name) + ": " + what); }

std::string number(std::size_t n) { return std::to_string(n); }

xt::xtensor<float, 2> to_float(const Matrix& m) {
    xt::xtensor<float, 2> copy = xt::xtensor<float, 2>::from_shape({m.shape(0), m.shape(1)});
    std::transform(m.begin(), m.end(), copy.begin(), [](double x) { return static_cast<float>(x); });
    return copy;
}

// The bias in float, or zeros when the layer has none (adding 0.0f changes nothing).
xt::xtensor<float, 1> bias_to_float(const Linear& layer) {
    xt::xtensor<float, 1> bias = xt::zeros<float>({layer.out_features()});
    for (std::size_t o = 0; o < layer.bias.size(); ++o) {
        bias(o) = static_cast<float>(layer.bias(o));
    }
    return bias;
}

// NaN or infinity in an input would silently turn rows of the output into NaN (lesson 1 refuses them too).
void check_finite(const xt::xtensor<float, 3>& tensor, const char* name) {
    const float* end = tensor.data() + tensor.size();
    const float* bad = std::find_if(tensor.data(), end, [](float x) { return !std::isfinite(x); });
    if (bad != end) {
        const std::size_t index = static_cast<std::size_t>(bad - tensor.data());
        const std::size_t rows = tensor.shape(1), columns = tensor.shape(2);
        fail(std::string(name) + " " + shape_string(tensor) + " holds " + std::to_string(*bad) + " at (" +
             number(index / (rows * columns)) + ", " + number(index / columns % rows) + ", " +
             number(index % columns) + "); inputs must be finite");
    }
}

// v1 is the single-threaded baseline, but OpenBLAS uses every core for a large
// product. This keeps it to one thread for the duration of a call.
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

// The softmax of lesson 1 in float, as plain loops (v1).
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

// The rows of a product cut into about `parts` equal runs of whole MR-row
// slivers, so that the threads share a projection evenly: run i is rows
// [first(i), first(i) + size(i)).
struct RowSplit {
    std::size_t rows, chunk;
    RowSplit(std::size_t rows_, std::size_t parts, std::size_t mr)
        : rows(rows_), chunk(std::max(mr, (rows_ + parts * mr - 1) / (parts * mr) * mr)) {}
    std::size_t count() const { return (rows + chunk - 1) / chunk; }
    std::size_t first(std::size_t part) const { return part * chunk; }
    std::size_t size(std::size_t part) const { return std::min(chunk, rows - first(part)); }
};

}  // namespace

std::string fast_version_name(FastVersion version) {
    switch (version) {
        case FastVersion::blas: return "v1-blas";
        case FastVersion::simd: return "v2-simd";
        case FastVersion::blocked: return "v3-blocked";
        case FastVersion::fused: return "v4-fused";
        case FastVersion::threaded: return "v5-threaded";
    }
    throw std::invalid_argument("fast_version_name: unknown version " + std::to_string(static_cast<int>(version)) +
                                "; the versions are 1 (v1-blas) to 5 (v5-threaded)");
}

FastMultiHeadAttention::FastMultiHeadAttention(const MultiHeadAttention& reference) {
    reference.check();  // the same refusals as lesson 4
    embed_dim_ = reference.embed_dim();
    num_heads_ = reference.num_heads;
    kdim_ = reference.kdim();
    vdim_ = reference.vdim();
    kernels_ = &simd_kernels();
    const std::size_t NR = kernels_->nr;
    const float scale = 1.0f / std::sqrt(static_cast<float>(embed_dim_ / num_heads_));  // 1 / sqrt(d_k)

    const auto copy = [&](const Linear& layer, float factor) {
        FloatLinear result;
        result.weight = to_float(layer.weight) * factor;  // (out, in)
        result.bias = bias_to_float(layer) * factor;      // (out)
        // Wᵀ (in, out), packed once: the B operand of every X Wᵀ.
        result.packed = PackedMatrix::transposed(result.weight.data(), layer.in_features(), layer.in_features(),
                                                 layer.out_features(), NR);
        return result;
    };
    query_ = copy(reference.query_projection, 1.0f);
    // softmax(Q Kᵀ / sqrt(d_k)) = softmax((Q / sqrt(d_k)) Kᵀ), and Q / sqrt(d_k) = X (W_q / sqrt(d_k))ᵀ + b_q / sqrt(d_k):
    // scaling W_q and b_q once saves multiplying every score.
    scaled_query_ = copy(reference.query_projection, scale);
    key_ = copy(reference.key_projection, 1.0f);
    value_ = copy(reference.value_projection, 1.0f);
    output_ = copy(reference.output_projection, 1.0f);
    if (kdim_ == embed_dim_ && vdim_ == embed_dim_) {
        // The three weights one under the other, (3E, E), and their biases: X [W_q'; W_k; W_v]ᵀ is
        // [Q | K | V] side by side, one product whose packed X serves three times as many columns.
        const std::size_t E = embed_dim_;
        stacked_projection_.weight = xt::xtensor<float, 2>::from_shape({3 * E, E});
        stacked_projection_.bias = xt::xtensor<float, 1>::from_shape({3 * E});
        const FloatLinear* parts[] = {&scaled_query_, &key_, &value_};
        for (std::size_t part = 0; part < 3; ++part) {
            std::copy(parts[part]->weight.begin(), parts[part]->weight.end(),
                      stacked_projection_.weight.data() + part * E * E);
            std::copy(parts[part]->bias.begin(), parts[part]->bias.end(), stacked_projection_.bias.data() + part * E);
        }
        stacked_projection_.packed = PackedMatrix::transposed(stacked_projection_.weight.data(), E, E, 3 * E, NR);
    }
}

// ---------------------------------------------------------------------------
// One forward pass: the shapes, the intermediate matrices, and the versions
// ---------------------------------------------------------------------------

struct FastMultiHeadAttention::Forward {
    const FastMultiHeadAttention& module;
    const xt::xtensor<float, 3>& query;  // (B, L, E)
    const xt::xtensor<float, 3>& key;    // (B, S, kdim)
    const xt::xtensor<float, 3>& value;  // (B, S, vdim)
    const AttentionMasks& masks;
    const FastAttentionOptions& options;
    const SimdKernels& kernels;
    std::size_t B = 0, L = 0, S = 0, E = 0, H = 0, d_k = 0;

    AlignedFloats Q, K, V;  // (B·L, E), (B·S, E), (B·S, E): all heads side by side
    AlignedFloats QKV;      // (B·L, 3E): [Q | K | V] from one product, for self-attention (v3 to v5)
    // Where Q, K and V are, whichever of the two above holds them, and the
    // floats from one of their rows to the next: E, or 3E in QKV.
    float *q = nullptr, *k = nullptr, *v = nullptr;
    std::size_t projection_stride = 0;
    AlignedFloats context;  // (B·L, E): every head's output in its d_k columns
    AlignedFloats scratch;  // (L, S): one head's weights, when they are not returned
    AlignedFloats packed_k, packed_v;  // per (b, h): K and V, packed for the blocked products
    FastAttentionResult result;

    Forward(const FastMultiHeadAttention& module_, const xt::xtensor<float, 3>& query_,
            const xt::xtensor<float, 3>& key_, const xt::xtensor<float, 3>& value_, const AttentionMasks& masks_,
            const FastAttentionOptions& options_)
        : module(module_), query(query_), key(key_), value(value_), masks(masks_), options(options_),
          kernels(*module_.kernels_) {}

    // ---- Pass 0: every shape must line up before anything is computed (the reference's checks) ----
    void check() {
        if (options.threads == 0 || options.threads > max_threads) {
            fail("threads is " + number(options.threads) + "; it must be from 1 to " + number(max_threads));
        }
        const int version = static_cast<int>(options.version);
        if (version < 1 || version > 5) {
            fail("unknown version " + std::to_string(version) + "; the versions are 1 (v1-blas) to 5 (v5-threaded)");
        }
        B = query.shape(0);
        L = query.shape(1);
        S = key.shape(1);
        E = module.embed_dim_;
        H = module.num_heads_;
        d_k = E / H;
        const auto shape_of = [](const xt::xtensor<float, 3>& t) {
            return std::vector<std::size_t>(t.shape().begin(), t.shape().end());
        };
        check_forward_shapes(function_name, shape_of(query), shape_of(key), shape_of(value), E, H, module.kdim_,
                             module.vdim_, masks);
        if (B > 0 && S == 0) {
            fail("key is " + shape_string(key) + " and value " + shape_string(value) +
                 ": there must be at least one key (S >= 1)");
        }
        check_finite(query, "query");
        if (&key != &query) {  // self-attention passes one tensor three times: one look is enough
            check_finite(key, "key");
        }
        if (&value != &query && &value != &key) {
            check_finite(value, "value");
        }
    }

    // ---- Where things are ----

    ScoreMask mask_for(std::size_t b, std::size_t h) const {
        ScoreMask mask;
        mask.keys = S;
        mask.causal = masks.causal;
        if (masks.attention_mask) {
            const std::size_t index = masks.attention_mask->per_head() ? b * H + h : 0;  // (B·H, L, S) or (1, L, S)
            mask.attention = masks.attention_mask->additive().data() + index * L * S;
        }
        if (masks.key_padding_mask) {
            mask.padding = masks.key_padding_mask->additive().data() + b * S;  // row b of (B, S)
        }
        return mask;
    }

    // v3 packs Kᵀ (d_k, S) for gemm(); v4 packs K (S, d_k) in slivers of MR keys, for K Qᵀ.
    std::size_t packed_k_size() const {
        return fused() ? packed_a_size(S, d_k, kernels.mr) : packed_size(d_k, S, kernels.nr);
    }
    std::size_t packed_v_size() const { return packed_size(S, d_k, kernels.nr); }  // V: (S, d_k)

    // Entry b, head h: its columns of Q, K, V and of the context, its masks and its packed K and V.
    HeadProblem head(std::size_t b, std::size_t h) {
        HeadProblem problem;
        problem.queries = L;
        problem.keys = S;
        problem.head_dim = d_k;
        problem.q = q + b * L * projection_stride + h * d_k;  // (L, d_k)
        problem.q_stride = projection_stride;
        problem.k = k + b * S * projection_stride + h * d_k;  // (S, d_k)
        problem.k_stride = projection_stride;
        problem.v = v + b * S * projection_stride + h * d_k;  // (S, d_k)
        problem.v_stride = projection_stride;
        problem.out = context.data() + b * L * E + h * d_k;  // (L, d_k)
        problem.out_stride = E;
        problem.mask = mask_for(b, h);
        if (!packed_k.empty()) {
            const std::size_t index = b * H + h;
            if (fused()) {
                problem.k_slivers = SliverView::packed(packed_k.data() + index * packed_k_size(), d_k, kernels.mr);
            } else {
                problem.k_transposed = {packed_k.data() + index * packed_k_size(), d_k, S, kernels.nr,
                                        d_k * kernels.nr};
            }
            problem.v_packed = {packed_v.data() + index * packed_v_size(), S, d_k, kernels.nr, S * kernels.nr};
        }
        return problem;
    }

    // Self-attention, forward(x, x, x), in v3 to v5: Q, K and V come from one product (stacked_projection_).
    bool one_projection_product() const {
        return options.version >= FastVersion::blocked && &query == &key && &key == &value &&
               module.stacked_projection_.weight.size() > 0;
    }

    // v4 and v5 run the fused kernel, unless the weights are asked for: then they must be materialised.
    bool fused() const {
        return (options.version == FastVersion::fused || options.version == FastVersion::threaded) &&
               !options.need_weights;
    }

    // The (L, S) weights of entry b, head h: in the result when they are returned, else scratch.
    float* weights_of(std::size_t b, std::size_t h) {
        return options.need_weights ? result.weights.data() + (b * H + h) * L * S : scratch.data();
    }

    // ---- The whole pass ----

    FastAttentionResult run() {
        check();
        if (one_projection_product()) {
            QKV.resize(B * L * 3 * E);
            q = QKV.data();
            k = q + E;
            v = q + 2 * E;
            projection_stride = 3 * E;
        } else {
            Q.resize(B * L * E);
            K.resize(B * S * E);
            V.resize(B * S * E);
            q = Q.data();
            k = K.data();
            v = V.data();
            projection_stride = E;
        }
        context.resize(B * L * E);
        result.output = xt::xtensor<float, 3>::from_shape({B, L, E});
        result.weights = options.need_weights ? xt::xtensor<float, 4>::from_shape({B, H, L, S})
                                              : xt::xtensor<float, 4>::from_shape({0, 0, 0, 0});
        if (!options.need_weights && options.version <= FastVersion::blocked) {
            scratch.resize(L * S);  // v1 to v3 hold one head's (L, S) scores at a time
        }
        switch (options.version) {
            case FastVersion::blas: run_blas(); break;
            case FastVersion::simd: run_simd(); break;
            case FastVersion::blocked:
            case FastVersion::fused: run_blocked_or_fused(); break;
            case FastVersion::threaded: run_threaded(); break;
        }
        return std::move(result);
    }

    // ---- v1: OpenBLAS for every matrix product ----

    // y (rows, out) = x (rows, in) Wᵀ + b: y starts as the bias in every row, sgemm adds x Wᵀ (beta = 1).
    static void blas_linear(const float* x, std::size_t rows, const FloatLinear& layer, float* y) {
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

    void run_blas() {
        const OneBlasThread one_thread;
        blas_linear(query.data(), B * L, module.query_, Q.data());
        blas_linear(key.data(), B * S, module.key_, K.data());
        blas_linear(value.data(), B * S, module.value_, V.data());
        const float scale = 1.0f / std::sqrt(static_cast<float>(d_k));
        for (std::size_t b = 0; b < B && L > 0; ++b) {
            for (std::size_t h = 0; h < H; ++h) {
                const HeadProblem problem = head(b, h);
                float* scores = weights_of(b, h);  // (L, S)
                // scores (L, S) = Q_h (L, d_k) K_hᵀ (d_k, S) / sqrt(d_k): sgemm's alpha does the scaling
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, blas_size(L), blas_size(S), blas_size(d_k), scale,
                            problem.q, blas_size(E), problem.k, blas_size(E), 0.0f, scores, blas_size(S));
                for (std::size_t i = 0; i < L; ++i) {
                    problem.mask.apply(i, 0, scores + i * S, S);
                    softmax_row_plain(scores + i * S, S);
                }
                // context_h (L, d_k) = P (L, S) V_h (S, d_k)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, blas_size(L), blas_size(d_k), blas_size(S),
                            1.0f, scores, blas_size(S), problem.v, blas_size(E), 0.0f, problem.out, blas_size(E));
            }
        }
        blas_linear(context.data(), B * L, module.output_, result.output.data());
    }

    // ---- v2: our SIMD kernels, no blocking ----

    // y (rows, out) = x (rows, in) Wᵀ + b, every element one SIMD dot product of a row of x and a row of W.
    void simd_linear(const float* x, std::size_t rows, const FloatLinear& layer, float* y) const {
        const std::size_t out = layer.weight.shape(0), in = layer.weight.shape(1);
        for (std::size_t r = 0; r < rows; ++r) {
            for (std::size_t o = 0; o < out; ++o) {
                y[r * out + o] = layer.bias(o) + kernels.dot(x + r * in, layer.weight.data() + o * in, in);
            }
        }
    }

    void run_simd() {
        simd_linear(query.data(), B * L, module.scaled_query_, Q.data());  // Q / sqrt(d_k)
        simd_linear(key.data(), B * S, module.key_, K.data());
        simd_linear(value.data(), B * S, module.value_, V.data());
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t h = 0; h < H; ++h) {
                attention_head_simd(kernels, head(b, h), weights_of(b, h));
            }
        }
        simd_linear(context.data(), B * L, module.output_, result.output.data());
    }

    // ---- v3 and v4: the blocked GEMM; v4 fuses the attention ----

    // Rows [first, first + rows) of y = x Wᵀ + b: y starts as the bias, gemm() adds x Wᵀ.
    void gemm_linear(const float* x, std::size_t first, std::size_t rows, const FloatLinear& layer, float* y) const {
        const std::size_t out = layer.weight.shape(0), in = layer.weight.shape(1);
        for (std::size_t r = first; r < first + rows; ++r) {
            std::copy(layer.bias.begin(), layer.bias.end(), y + r * out);
        }
        gemm(kernels, rows, x + first * in, in, layer.packed.view(), y + first * out, out, true);
    }

    // Packs K and V of entry b, head h: each is read by every query block.
    void pack_head(std::size_t b, std::size_t h) {
        const std::size_t index = b * H + h;
        const float* k_head = k + b * S * projection_stride + h * d_k;  // (S, d_k)
        const float* v_head = v + b * S * projection_stride + h * d_k;  // (S, d_k)
        float* k_packed = packed_k.data() + index * packed_k_size();
        if (fused()) {
            pack_a(k_head, projection_stride, S, d_k, kernels.mr, k_packed);  // K (S, d_k), the A of K Qᵀ
        } else {
            pack_b_transposed(k_head, projection_stride, d_k, S, kernels.nr, k_packed);  // Kᵀ (d_k, S)
        }
        pack_b(v_head, projection_stride, S, d_k, kernels.nr, packed_v.data() + index * packed_v_size());  // V
    }

    // Self-attention: rows [first, first + rows) of [Q | K | V] (B·L, 3E) = x [W_q'; W_k; W_v]ᵀ + b, one product.
    void project_stacked(std::size_t first, std::size_t rows) {
        gemm_linear(query.data(), first, rows, module.stacked_projection_, QKV.data());
    }

    void run_blocked_or_fused() {
        if (one_projection_product()) {
            project_stacked(0, B * L);
        } else {
            gemm_linear(query.data(), 0, B * L, module.scaled_query_, Q.data());  // Q / sqrt(d_k)
            gemm_linear(key.data(), 0, B * S, module.key_, K.data());
            gemm_linear(value.data(), 0, B * S, module.value_, V.data());
        }
        packed_k.resize(B * H * packed_k_size());
        packed_v.resize(B * H * packed_v_size());
        for (std::size_t b = 0; b < B; ++b) {
            for (std::size_t h = 0; h < H; ++h) {
                pack_head(b, h);
                if (fused()) {
                    attention_head_fused(kernels, head(b, h), 0, L);
                } else {  // v3, or v4 asked for the weights: materialise them
                    attention_head_blocked(kernels, head(b, h), 0, L, weights_of(b, h));
                }
            }
        }
        gemm_linear(context.data(), 0, B * L, module.output_, result.output.data());
    }

    // ---- v5: v4 on several threads ----

    void run_threaded() {
        const std::size_t threads = options.threads;
        // The projections, split into runs of rows: the stacked one, or the three, all run as one set of tasks.
        const RowSplit query_rows(B * L, 2 * threads, kernels.mr), key_rows(B * S, 2 * threads, kernels.mr);
        const std::size_t query_parts = query_rows.count(), key_parts = key_rows.count();
        if (one_projection_product()) {
            parallel_for(threads, query_parts,
                         [&](std::size_t part) { project_stacked(query_rows.first(part), query_rows.size(part)); });
        } else {
            parallel_for(threads, query_parts + 2 * key_parts, [&](std::size_t task) {
                if (task < query_parts) {
                    gemm_linear(query.data(), query_rows.first(task), query_rows.size(task), module.scaled_query_,
                                Q.data());
                } else if (task < query_parts + key_parts) {
                    const std::size_t part = task - query_parts;
                    gemm_linear(key.data(), key_rows.first(part), key_rows.size(part), module.key_, K.data());
                } else {
                    const std::size_t part = task - query_parts - key_parts;
                    gemm_linear(value.data(), key_rows.first(part), key_rows.size(part), module.value_, V.data());
                }
            });
        }

        // Pack every head's K and V, one task per (b, h).
        packed_k.resize(B * H * packed_k_size());
        packed_v.resize(B * H * packed_v_size());
        parallel_for(threads, B * H, [&](std::size_t task) { pack_head(task / H, task % H); });

        // Attention: one task per (b, h, block of query rows); the blocks are independent.
        const std::size_t rows_per_task = fused_query_block;  // one block of the fused kernel per task
        const std::size_t blocks = (L + rows_per_task - 1) / rows_per_task;
        parallel_for(threads, B * H * blocks, [&](std::size_t task) {
            const std::size_t b = task / (H * blocks), h = task / blocks % H, block = task % blocks;
            const std::size_t first = block * rows_per_task, rows = std::min(rows_per_task, L - first);
            if (options.need_weights) {
                attention_head_blocked(kernels, head(b, h), first, rows, weights_of(b, h) + first * S);
            } else {
                attention_head_fused(kernels, head(b, h), first, rows);
            }
        });

        // The output projection, split into runs of rows.
        parallel_for(threads, query_parts, [&](std::size_t part) {
            gemm_linear(context.data(), query_rows.first(part), query_rows.size(part), module.output_,
                        result.output.data());
        });
    }
};

FastAttentionResult FastMultiHeadAttention::forward(const xt::xtensor<float, 3>& query,
                                                    const xt::xtensor<float, 3>& key,
                                                    const xt::xtensor<float, 3>& value, const AttentionMasks& masks,
                                                    const FastAttentionOptions& options) const {
    return Forward(*this, query, key, value, masks, options).run();
}

}  // namespace mha
