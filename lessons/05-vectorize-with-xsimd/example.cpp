// Lesson 5 example: the same multi-head attention, five ways, each faster.
//
// One module with random weights (seeded: the same on every machine), one
// random batch (B, L, E) = (1, 256, 256) with H = 4 heads. The lesson 4
// reference computes it in double precision; each fast version computes it in
// float, and the example prints how far each is from the reference and about
// how long it took. The times are ONE rough run on whatever else the machine
// is doing: the benchmarks (benchmarks/, ./scripts/run_benchmarks.sh) measure
// properly.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <thread>

#include "fast/fast_multi_head_attention.hpp"
#include "fast/flop_count.hpp"
#include "reference/multi_head_attention.hpp"
#include "core/random.hpp"
#include "fast/simd_dispatch.hpp"

namespace {

// Seconds taken by f(), once.
template <class F>
double seconds(F&& f) {
    const auto start = std::chrono::steady_clock::now();
    f();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// The largest |fast - reference| over the output.
double max_error(const xt::xtensor<float, 3>& fast, const mha::Tensor3& reference) {
    double worst = 0.0;
    for (std::size_t i = 0; i < fast.size(); ++i) {
        worst = std::max(worst, std::abs(fast.data()[i] - reference.data()[i]));
    }
    return worst;
}

}  // namespace

int main() {
    const std::size_t B = 1, L = 256, E = 256, H = 4;  // d_k = E / H = 64
    mha::RandomGenerator random(2024);

    std::printf("=== Lesson 5: vectorise with xsimd ===\n\n");
    const mha::SimdKernels& kernels = mha::simd_kernels();
    std::printf("SIMD instruction set chosen at run time: %s (%zu float%s per register,\n"
                "GEMM micro-kernel %zu x %zu)\n\n",
                mha::simd_instruction_set().c_str(), kernels.width, kernels.width == 1 ? "" : "s", kernels.mr, kernels.nr);

    // ---- The module and the input: the reference in double, the fast module in float ----
    const mha::MultiHeadAttention reference = mha::random_multi_head_attention(E, H, true, random);
    const mha::FastMultiHeadAttention fast(reference);  // float copies of W and b, packed for the GEMM
    xt::xtensor<float, 3> x = xt::xtensor<float, 3>::from_shape({B, L, E});  // (B, L, E) = (1, 256, 256)
    for (float& v : x) {
        v = static_cast<float>(random.uniform(-1.0, 1.0));
    }
    mha::Tensor3 x_double = mha::Tensor3::from_shape(x.shape());  // the same numbers in double
    std::copy(x.begin(), x.end(), x_double.begin());

    // Self-attention: query = key = value = x.
    mha::MultiHeadAttentionResult expected;  // output (1, 256, 256), weights (1, 4, 256, 256)
    const double reference_seconds = seconds([&] { expected = reference.forward(x_double, x_double, x_double); });

    // 4 projections of (L, E) x (E, E): 8 L E^2 flops; Q K^T and P V over all heads: 4 L^2 E.
    const double flops = mha::attention_flops(B, L, E);
    std::printf("(B, L, E, H) = (%zu, %zu, %zu, %zu): %.0f MFLOP per forward pass\n", B, L, E, H, flops / 1e6);
    std::printf("A rough single run each (the benchmarks give the real numbers):\n\n");
    std::printf("  %-22s %14s %10s %10s\n", "version", "max |error|", "time", "GFLOP/s");
    std::printf("  %-22s %14s %8.1f ms %10.2f\n", "lesson 4, double", "(reference)", reference_seconds * 1e3,
                flops / reference_seconds / 1e9);

    const unsigned threads = std::max(1u, std::thread::hardware_concurrency());
    for (const mha::FastVersion version : {mha::FastVersion::blas, mha::FastVersion::simd, mha::FastVersion::blocked,
                                           mha::FastVersion::fused, mha::FastVersion::threaded}) {
        mha::FastAttentionOptions options;
        options.version = version;
        options.threads = threads;  // only v5 uses them
        mha::FastAttentionResult result = fast.forward(x, x, x, {}, options);  // a first run warms the caches
        const double time = seconds([&] { result = fast.forward(x, x, x, {}, options); });
        std::string name = mha::fast_version_name(version);
        if (version == mha::FastVersion::threaded) {
            name += " (" + std::to_string(threads) + " threads)";
        }
        std::printf("  %-22s %14.1e %8.2f ms %10.1f\n", name.c_str(), max_error(result.output, expected.output),
                    time * 1e3, flops / time / 1e9);
    }
    std::printf("\nEvery version agrees with the double-precision reference to float's precision.\n"
                "Try MHA_SIMD=avx2 or MHA_SIMD=scalar in the environment to run lesser kernels.\n");
    return 0;
}
