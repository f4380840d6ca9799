// Lesson 7 example: generating one token at a time with a KV cache, and how
// many key/value heads attention needs.
//
//   1. Which key/value head does each query head read? The mapping for H = 8
//      and G = 8, 4, 2, 1, and what one cached token costs for each G.
//   2. Does the cache change the answer? A grouped-query layer (H = 8, G = 2)
//      decoded step by step against its causal forward over the whole sequence.
//   3. Lesson 6's induction model, trained here (a few seconds), continues a
//      prompt that ends in the start of a repeated segment: greedy decoding with
//      one cache per layer, each token printed as it is chosen, then every head's
//      attention at the last step: the induction heads look where the answer is.
//
// Every number is the same on every run (the seeds are fixed), except the
// training time.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include <xtensor/xview.hpp>

#include "core/random.hpp"
#include "decode/grouped_query_attention.hpp"
#include "decode/key_value_cache.hpp"
#include "decode/transformer_decoder.hpp"
#include "train/trainer.hpp"

namespace {

// ---- 1. The head mapping, and the cache it needs ----
void head_mapping() {
    std::printf("1. Query head i reads key/value head floor(i * G / H); H = 8, d_k = 64:\n\n");
    std::printf("  G   query heads 0..7 read        cache per token and layer (K and V, float32)\n");
    for (const std::size_t G : {8, 4, 2, 1}) {
        std::printf("  %zu   ", G);
        for (std::size_t h = 0; h < 8; ++h) {
            std::printf("%zu ", mha::key_value_head_for(h, 8, G));
        }
        // 2 (K and V) · G heads · d_k numbers · 4 bytes.
        std::printf("            %5zu bytes%s\n", 2 * G * 64 * 4, G == 8 ? "   (multi-head)" : G == 1 ? "   (multi-query)" : "");
    }
}

// ---- 2. The cache gives the same numbers as the whole forward pass ----
void cache_equals_forward() {
    std::printf("\n2. A grouped-query layer (E = 16, H = 8, G = 2) decoded with the cache, against its causal\n"
                "   forward over the whole sequence of L = 6 (B = 2): the largest difference at each step\n\n");
    mha::RandomGenerator random(7);
    const mha::GroupedQueryAttention layer = mha::random_grouped_query_attention(16, 8, 2, true, random);
    mha::Tensor3 x = xt::zeros<double>({2, 6, 16});  // (B, L, E)
    for (double& value : x) value = random.normal();
    const mha::MultiHeadAttentionResult full = layer.forward(x, true);  // (B, L, E)
    mha::KeyValueCache cache = mha::empty_key_value_cache(2, 2, 6, 2);    // (B, G, L, d_k)
    for (std::size_t t = 0; t < 6; ++t) {
        const mha::DecodeStepResult step = mha::decode_step(layer, cache, xt::view(x, xt::all(), t, xt::all()));
        const mha::Matrix expected = xt::view(full.output, xt::all(), t, xt::all());  // (B, E)
        std::printf("  step %zu: cache (B, G, length, d_k) = (2, 2, %zu, 2), difference %.1e\n", t, cache.length,
                    xt::amax(xt::abs(step.output - expected))());
    }
}

// ---- 3. Generation with lesson 6's induction model ----
void generate_with_induction_model() {
    std::printf("\n3. Lesson 6's induction model (2 layers of 2 heads, d_model 24, seed 1), trained here:\n");
    const mha::TrainingResult trained = mha::train(mha::default_options(mha::Task::induction));
    std::printf("   trained in %.1f s\n\n", trained.seconds);
    // Noise, then the segment 3 11 7 2 5, then its first two tokens again: what comes next is in the past.
    const std::vector<std::size_t> prompt = {14, 0, 9, 1, 13, 6, 3, 11, 7, 2, 5, 3, 11};
    std::printf("  prompt:    ");
    for (const std::size_t token : prompt) std::printf("%zu ", token);
    std::printf("\n  generated: ");
    const mha::Generation generation = mha::generate_greedy(trained.model, prompt, 3, [](std::size_t token) {
        std::printf("%zu ", token);
        std::fflush(stdout);  // each token as soon as it is chosen
    });
    std::printf("  (the segment goes on 7 2 5)\n");

    std::vector<std::size_t> fed = prompt;  // what the model has seen at the last step
    fed.insert(fed.end(), generation.tokens.begin(), generation.tokens.end() - 1);
    std::printf("\n  attention at the last step: the query is position %zu (token %zu), one row per head\n\n",
                fed.size() - 1, fed.back());
    std::printf("  position        ");
    for (std::size_t j = 0; j < fed.size(); ++j) std::printf("%4zu", j);
    std::printf("\n  token           ");
    for (const std::size_t token : fed) std::printf("%4zu", token);
    std::printf("\n");
    for (std::size_t l = 0; l < generation.last_weights.size(); ++l) {
        for (std::size_t h = 0; h < generation.last_weights[l].size(); ++h) {
            const mha::Vector& weights = generation.last_weights[l][h];  // (length)
            std::printf("  layer %zu head %zu  ", l, h);
            for (const double w : weights) std::printf("%4.0f", 100 * w);
            const std::size_t top = static_cast<std::size_t>(std::max_element(weights.begin(), weights.end()) - weights.begin());
            std::printf("   most on position %zu\n", top);
        }
    }
    std::printf("  (in percent)\n");
}

}  // namespace

int main() {
    head_mapping();
    cache_equals_forward();
    generate_with_induction_model();
    return 0;
}
