// Lesson 3 example: several attention heads over one sentence.
//
// Every head has its own W_q, W_k, W_v of shape (d_k, d_model), d_k = d_model / H,
// and runs attention on its own. The weights are random (seeded), not trained, so
// the patterns carry no linguistic meaning: what this example shows is that the
// heads DIFFER, that the packed projection PyTorch uses gives exactly the same
// numbers, and what changes when you use more, smaller heads.
//
//   ./build/default/lessons/lesson03-example       4 heads (d_k = 4)
//   ./build/default/lessons/lesson03-example 8     8 heads (d_k = 2)
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "reference/attention_heads.hpp"
#include "reference/packed_projection.hpp"
#include "reference/embedding.hpp"
#include "io/heatmap.hpp"
#include "reference/linear.hpp"
#include "reference/positional_encoding.hpp"
#include "core/random.hpp"
#include "reference/tokenizer.hpp"

namespace {

constexpr std::size_t d_model = 16;    // E: the width of every token vector
constexpr std::uint64_t seed = 2017;   // the year of "Attention Is All You Need"
const std::string sentence = "The animal didn't cross the street because it was too tired";

// The whole command line: an optional number of heads H, which must divide d_model.
// Returns 0, after saying why on stderr, when the command line is unusable.
std::size_t heads_from_arguments(int argc, char** argv) {
    if (argc == 1) {
        return 4;  // the default: 4 heads of d_k = 4
    }
    const std::string text = argv[1];
    const bool whole_number = argc == 2 && !text.empty() && text.size() <= 6 &&
                              std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!whole_number) {
        std::cerr << "usage: " << argv[0] << " [number of heads]\n"
                  << "The number of heads must be a whole number that divides d_model = " << d_model
                  << ": 1, 2, 4, 8 or 16.\n";
        return 0;
    }
    const std::size_t heads = std::stoul(text);
    if (heads == 0) {
        std::cerr << "error: the number of heads must be at least 1.\n";
        return 0;
    }
    if (d_model % heads != 0) {
        std::cerr << "error: d_model = " << d_model << " is not divisible by H = " << heads
                  << ", so the heads cannot all get d_k = d_model / H columns.\n"
                  << "Choose H from 1, 2, 4, 8 or 16.\n";
        return 0;
    }
    return heads;
}

// The index of the largest entry in row i.
std::size_t argmax_of_row(const mha::Matrix& weights, std::size_t i) {
    std::size_t best = 0;
    for (std::size_t j = 1; j < weights.shape(1); ++j) {
        if (weights(i, j) > weights(i, best)) {
            best = j;
        }
    }
    return best;
}

double max_abs_difference(const std::vector<mha::Matrix>& a, const std::vector<mha::Matrix>& b) {
    double worst = 0.0;
    for (std::size_t h = 0; h < a.size(); ++h) {
        worst = std::max(worst, xt::amax(xt::abs(a[h] - b[h]))());
    }
    return worst;
}

// Part 1: text -> token ids -> vectors X (L, d_model).
mha::Matrix embed_sentence(const std::vector<std::string>& tokens, mha::RandomGenerator& random) {
    const mha::Vocabulary vocabulary({sentence});
    const std::vector<std::size_t> ids = vocabulary.encode(sentence);                  // (L)
    const mha::Embedding embedding = mha::random_embedding(vocabulary.size(), d_model, random);
    const mha::Matrix token_vectors = embedding.forward(ids);                         // (L, d_model)
    const mha::Matrix positions = mha::sinusoidal_positional_encoding(ids.size(), d_model);  // (L, d_model)
    const mha::Matrix X = token_vectors + positions;                                  // (L, d_model)

    std::cout << "Sentence: \"" << sentence << "\"\n"
              << "  tokens                     " << tokens.size() << " words, L = " << tokens.size() << '\n'
              << "  token ids                  (" << ids.size() << ")\n"
              << "  embedding table            " << mha::shape_string(embedding.table)
              << "   (vocabulary size, d_model)\n"
              << "  X = embeddings + positions " << mha::shape_string(X) << "   (L, d_model)\n\n";
    return X;
}

// Part 2: H heads, each with its own projections, and each head's attention pattern.
mha::HeadsResult show_heads(const mha::AttentionHeads& heads, const mha::Matrix& X,
                            const std::vector<std::string>& tokens) {
    const std::size_t H = heads.heads.size(), d_k = d_model / H, L = X.shape(0);
    std::printf("H = %zu head%s, d_k = d_model / H = %zu / %zu = %zu\n", H, H == 1 ? "" : "s", d_model, H, d_k);
    const auto& first = heads.heads[0];
    std::cout << "  every head i: W_q, W_k, W_v  " << mha::shape_string(first.query_projection.weight)
              << "   (d_k, d_model)\n"
              << "  Q_i = X W_qᵀ, K_i, V_i       (" << L << ", " << d_k << ")   (L, d_k)\n"
              << "  scores Q_i K_iᵀ / sqrt(d_k)  (" << L << ", " << L << ")  (L, L)\n";

    const mha::HeadsResult result = heads.forward(X);  // H outputs (L, d_k), H weights (L, L)
    std::cout << "  output_i                     " << mha::shape_string(result.outputs[0]) << "   (L, d_k)\n"
              << "  weights_i                    " << mha::shape_string(result.weights[0]) << "  (L, L)\n\n";

    // The position of "it", or L when the sentence has no "it".
    const auto it = static_cast<std::size_t>(std::find(tokens.begin(), tokens.end(), "it") - tokens.begin());
    std::vector<std::string> panels;  // the same heatmaps as pictures, for the figure
    for (std::size_t h = 0; h < H; ++h) {
        std::cout << "Head " << h << " (row = the query word, column = the key word it looks at, in %):\n"
                  << mha::terminal_heatmap(result.weights[h], tokens, tokens) << '\n';
        panels.push_back(mha::svg_heatmap(result.weights[h], tokens, tokens, "Head " + std::to_string(h)));
    }
    mha::write_figure("lesson03-heads.svg", mha::svg_side_by_side(panels, H == 1 ? 1 : H <= 4 ? 2 : 4));
    if (it == L) {  // a sentence without "it" (see "What to try" in the lesson)
        return result;
    }
    std::cout << "Which word does \"it\" attend to most?\n";
    for (std::size_t h = 0; h < H; ++h) {
        const std::size_t best = argmax_of_row(result.weights[h], it);
        std::printf("  head %2zu: \"%s\" (position %zu), weight %.2f\n", h, tokens[best].c_str(), best,
                    result.weights[h](it, best));
    }
    std::cout << "(Random, untrained weights: the heads disagree, but none of them \"knows\" what it refers to.)\n\n";
    return result;
}

// Part 3: the packed projection PyTorch stores, built from the same weights.
void show_packed(const mha::AttentionHeads& heads, const mha::Matrix& X, const mha::HeadsResult& separate) {
    const std::size_t H = heads.heads.size(), d_k = d_model / H;

    // in_proj_weight (3·d_model, d_model): rows [0, E) are W_q, [E, 2E) W_k, [2E, 3E) W_v,
    // and inside each block, rows [h·d_k, (h+1)·d_k) belong to head h.
    mha::Linear packed;
    packed.weight = xt::zeros<double>({3 * d_model, d_model});  // (3·d_model, d_model)
    packed.bias = xt::zeros<double>({std::size_t{0}});          // (0): no bias
    for (std::size_t h = 0; h < H; ++h) {
        const auto& head = heads.heads[h];
        xt::view(packed.weight, xt::range(0 * d_model + h * d_k, 0 * d_model + (h + 1) * d_k), xt::all()) =
            head.query_projection.weight;  // (d_k, d_model)
        xt::view(packed.weight, xt::range(1 * d_model + h * d_k, 1 * d_model + (h + 1) * d_k), xt::all()) =
            head.key_projection.weight;    // (d_k, d_model)
        xt::view(packed.weight, xt::range(2 * d_model + h * d_k, 2 * d_model + (h + 1) * d_k), xt::all()) =
            head.value_projection.weight;  // (d_k, d_model)
    }
    const std::size_t L = X.shape(0);
    std::cout << "The packed form (PyTorch's in_proj_weight), built from the same weights:\n"
              << "  in_proj_weight               " << mha::shape_string(packed.weight) << "  (3·d_model, d_model)\n"
              << "  QKV = X in_proj_weightᵀ      (" << L << ", " << 3 * d_model << ")  (L, 3·d_model)\n"
              << "  Q, K, V                      (" << L << ", " << d_model << ")  each (L, d_model)\n"
              << "  split_heads(Q, " << H << ")             " << H << " x (" << L << ", " << d_k
              << ")  H x (L, d_k)\n";

    const mha::HeadsResult packed_result = mha::packed_heads_forward(packed, H, X);  // H x (L, d_k), H x (L, L)
    const double output_difference = max_abs_difference(packed_result.outputs, separate.outputs);
    const double weight_difference = max_abs_difference(packed_result.weights, separate.weights);
    std::printf("  max |packed - separate|: outputs %.1e, weights %.1e%s\n\n", output_difference, weight_difference,
                output_difference == 0.0 && weight_difference == 0.0
                    ? " (identical: the same dot products, summed in the same order)"
                    : "");

    // Which columns go to which head: a toy (L = 4, d_model = 6) matrix split into H = 2 heads.
    mha::Matrix toy = xt::zeros<double>({4, 6});  // (4, 6): entry = its position in row-major memory
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 6; ++j) {
            toy(i, j) = static_cast<double>(6 * i + j);
        }
    }
    const std::vector<mha::Matrix> toy_heads = mha::split_heads(toy, 2);  // 2 x (4, 3)
    std::cout << "split_heads on a toy (4, 6) matrix, H = 2 (each entry is its place in memory):\n";
    for (std::size_t i = 0; i < 4; ++i) {
        std::string line = "  ";
        for (std::size_t j = 0; j < 6; ++j) {
            char cell[8];
            std::snprintf(cell, sizeof cell, "%3.0f", toy(i, j));
            line += cell;
        }
        line += i == 1 ? "   ->   " : "        ";
        for (std::size_t h = 0; h < 2; ++h) {
            line += h == 0 ? "head 0:" : "   head 1:";
            for (std::size_t c = 0; c < 3; ++c) {
                char cell[8];
                std::snprintf(cell, sizeof cell, "%3.0f", toy_heads[h](i, c));
                line += cell;
            }
        }
        std::cout << line << '\n';
    }
    std::cout << '\n';
}

// Part 4: is more heads always better? The same d_model = 16, split into 1 to 16 heads.
struct Measures {
    double pairwise_distance = 0.0;  // mean total-variation distance between two heads' rows
    double peak = 0.0;               // mean largest weight of a row
    double top_keys = 0.0;           // mean number of distinct "most attended" keys per head
};

Measures measure(const mha::HeadsResult& result) {
    const std::size_t H = result.weights.size(), L = result.weights[0].shape(0), S = result.weights[0].shape(1);
    Measures m;
    std::size_t pairs = 0;
    for (std::size_t a = 0; a < H; ++a) {
        for (std::size_t b = a + 1; b < H; ++b) {
            for (std::size_t i = 0; i < L; ++i) {
                double distance = 0.0;  // TV(p, q) = 1/2 sum_j |p_j - q_j|, from 0 (same) to 1 (disjoint)
                for (std::size_t j = 0; j < S; ++j) {
                    distance += 0.5 * std::abs(result.weights[a](i, j) - result.weights[b](i, j));
                }
                m.pairwise_distance += distance;
                ++pairs;
            }
        }
    }
    m.pairwise_distance = pairs == 0 ? NAN : m.pairwise_distance / static_cast<double>(pairs);
    for (const mha::Matrix& weights : result.weights) {
        std::set<std::size_t> top;
        for (std::size_t i = 0; i < L; ++i) {
            m.peak += weights(i, argmax_of_row(weights, i));
            top.insert(argmax_of_row(weights, i));
        }
        m.top_keys += static_cast<double>(top.size());
    }
    m.peak /= static_cast<double>(H * L);
    m.top_keys /= static_cast<double>(H);
    return m;
}

void more_heads_experiment(const mha::Matrix& X) {
    const std::size_t L = X.shape(0), trials = 50;
    std::printf("Is more heads always better? d_model = %zu, L = %zu, averaged over %zu seeds of random weights\n",
                d_model, L, trials);
    std::printf("   H  d_k   multiply-adds: proj + attn = total   exps   head difference   peak weight   top keys\n");
    for (const std::size_t H : {1, 2, 4, 8, 16}) {
        const std::size_t d_k = d_model / H;
        // Per head: three projections L·d_model·d_k each, then Q Kᵀ and weights·V, L·L·d_k each.
        const std::size_t projections = H * 3 * L * d_model * d_k, attention = H * 2 * L * L * d_k;
        Measures mean;
        for (std::size_t trial = 0; trial < trials; ++trial) {
            mha::RandomGenerator random(1000 + trial);
            const Measures m = measure(mha::random_attention_heads(d_model, H, false, random).forward(X));
            mean.pairwise_distance += m.pairwise_distance / trials;
            mean.peak += m.peak / trials;
            mean.top_keys += m.top_keys / trials;
        }
        char difference[16] = "   -";
        if (H > 1) {
            std::snprintf(difference, sizeof difference, "%.2f", mean.pairwise_distance);
        }
        std::printf("%4zu %4zu   %19zu + %4zu = %5zu   %4zu   %15s   %11.2f   %8.1f\n", H, d_k, projections, attention,
                    projections + attention, H * L * L, difference, mean.peak, mean.top_keys);
    }
    std::printf("exps: the exponentials of the softmaxes, H·L·L\n"
                "head difference: mean total-variation distance between two heads' weight rows (0 same, 1 disjoint)\n"
                "peak weight: mean largest weight in a row (uniform would be 1/L = %.2f)\n"
                "top keys: per head, how many different keys are some query's favourite (at most 2 when d_k = 1)\n",
                1.0 / static_cast<double>(L));
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t H = heads_from_arguments(argc, argv);
    if (H == 0) {
        return 2;
    }
    std::cout << "=== Lesson 3: multi-head attention ===\n\n";
    mha::RandomGenerator random(seed);
    const std::vector<std::string> tokens = mha::tokenize(sentence);  // L = 11 words
    const mha::Matrix X = embed_sentence(tokens, random);              // (L, d_model)

    const mha::AttentionHeads heads = mha::random_attention_heads(d_model, H, false, random);  // H heads
    const mha::HeadsResult separate = show_heads(heads, X, tokens);  // H x (L, d_k), H x (L, L)
    show_packed(heads, X, separate);
    more_heads_experiment(X);
    return 0;
}
