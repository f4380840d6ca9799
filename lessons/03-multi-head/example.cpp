// Lesson 3 example: several attention heads over one sentence.
//
// Every head has its own W_q, W_k, W_v of shape (d_k, d_model), d_k = d_model / H,
// and runs attention on its own. The weights are random (seeded), not trained, so
// the patterns carry no linguistic meaning: what this example shows is that the
// heads DIFFER, that the packed projection PyTorch uses gives exactly the same
// numbers, and what changes when you use more, smaller heads.
// With MHA_FIGURES_DIR set (the website's build sets it) it also draws the heatmaps,
// split_heads on a toy matrix and the packed in_proj_weight cut in three, as SVG.
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
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xmanipulation.hpp>
#include <xtensor/xview.hpp>

#include "reference/attention_heads.hpp"
#include "reference/packed_projection.hpp"
#include "reference/embedding.hpp"
#include "io/block_diagram.hpp"
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

// ---- Pictures for the website (written only when MHA_FIGURES_DIR is set) ----

// The colour group of each entry of a matrix, from its number: `group_of(value)`.
template <typename GroupOf>
xt::xtensor<std::size_t, 2> groups_of(const mha::Matrix& values, GroupOf group_of) {
    xt::xtensor<std::size_t, 2> groups = xt::zeros<std::size_t>(values.shape());  // the shape of values
    for (std::size_t i = 0; i < values.shape(0); ++i) {
        for (std::size_t j = 0; j < values.shape(1); ++j) {
            groups(i, j) = group_of(values(i, j));
        }
    }
    return groups;
}

// A tensor's numbers in memory order, as one row: (1, size).
mha::Matrix memory_row(const mha::Tensor3& tensor) {
    mha::Matrix row = xt::zeros<double>({std::size_t{1}, tensor.size()});  // (1, size)
    std::copy(tensor.begin(), tensor.end(), row.begin());
    return row;
}

// The toy matrix's way through reshape and transpose, computed with xtensor and with
// split_heads, drawn as coloured blocks: each entry is its place in Q's memory, so
// the picture shows where every number went; its colour is the head it belongs to.
void draw_split_heads(const mha::Matrix& toy, std::size_t H) {
    const std::size_t L = toy.shape(0), E = toy.shape(1), d_k = E / H;
    const auto head_of = [&](double place) { return (static_cast<std::size_t>(place) % E) / d_k; };

    // PyTorch's way: reshape (no number moves), then transpose (the copy).
    const mha::Tensor3 reshaped = xt::reshape_view(toy, std::vector<std::size_t>{L, H, d_k});  // (L, H, d_k)
    const mha::Tensor3 transposed = xt::transpose(reshaped, {1, 0, 2});                    // (H, L, d_k), contiguous
    // The course's way: column blocks. It must be the same numbers, head by head.
    const std::vector<mha::Matrix> heads = mha::split_heads(toy, H);  // H x (L, d_k)
    for (std::size_t i = 0; i < H; ++i) {
        if (heads[i] != mha::Matrix(xt::view(transposed, i, xt::all(), xt::all()))) {
            throw std::logic_error("split_heads differs from reshape and transpose in head " + std::to_string(i));
        }
    }

    const auto block = [&](std::string caption, const mha::Matrix& values, std::size_t column_block) {
        return mha::BlockMatrix{std::move(caption), values, groups_of(values, head_of), column_block, 0};
    };
    const auto shape = [](std::vector<std::size_t> sizes) {  // "(4, 2, 3)"
        std::string text = "(";
        for (std::size_t k = 0; k < sizes.size(); ++k) {
            text += (k > 0 ? ", " : "") + std::to_string(sizes[k]);
        }
        return text + ")";
    };
    std::vector<mha::BlockStep> steps;
    steps.push_back({"Q (L, E) = " + shape({L, E}) + ": each entry is its place in memory",
                     {block("Q " + shape({L, E}), toy, 0)}});
    steps.push_back({"Q in memory, row after row: the heads alternate", {block("memory", memory_row(reshaped), 0)}});
    const mha::Matrix reshaped_rows = xt::reshape_view(reshaped, std::vector<std::size_t>{L, H * d_k});  // (L, H·d_k)
    steps.push_back({"reshape to (L, H, d_k) = " + shape({L, H, d_k}) + ": no number moves",
                     {block("row = token, then H blocks of d_k", reshaped_rows, d_k)}});
    std::vector<mha::BlockMatrix> head_blocks;
    for (std::size_t i = 0; i < H; ++i) {
        head_blocks.push_back(block("split_heads(Q, " + std::to_string(H) + ")[" + std::to_string(i) + "] " +
                                        shape({L, d_k}),
                                    heads[i], 0));
    }
    steps.push_back({"transpose to (H, L, d_k) = " + shape({H, L, d_k}) + ": one (L, d_k) block per head", head_blocks});
    steps.push_back({"in memory after the transpose: each head's numbers together",
                     {block("memory", memory_row(transposed), L * d_k)}});
    std::vector<std::string> legend;
    for (std::size_t i = 0; i < H; ++i) {
        legend.push_back("head " + std::to_string(i));
    }
    mha::write_figure("lesson03-split-heads.svg",
                      mha::svg_block_diagram(steps, legend,
                                             "split_heads(Q, " + std::to_string(H) + "): reshape, then transpose"));
}

// PyTorch's packed in_proj_weight (3E, E) for E = 6, H = 2, each entry its row number,
// cut by split_packed_projection into W_q, W_k and W_v: one colour per projection and head.
void draw_packed_projection(std::size_t E, std::size_t H) {
    const std::size_t d_k = E / H;
    mha::Linear packed;
    packed.weight = xt::zeros<double>({3 * E, E});      // (3E, E): entry = its row
    packed.bias = xt::zeros<double>({std::size_t{0}});  // (0): no bias
    for (std::size_t row = 0; row < 3 * E; ++row) {
        xt::row(packed.weight, row) = static_cast<double>(row);
    }
    const mha::QueryKeyValueProjections cut = mha::split_packed_projection(packed);  // 3 x (E, E)

    // Row r of in_proj_weight belongs to projection r / E, and to head (r mod E) / d_k of it.
    const auto group_of = [&](double row) {
        const auto r = static_cast<std::size_t>(row);
        return (r / E) * H + (r % E) / d_k;
    };
    const auto block = [&](std::string caption, const mha::Matrix& values) {
        return mha::BlockMatrix{std::move(caption), values, groups_of(values, group_of), 0, d_k};
    };
    std::vector<std::string> legend;
    for (const char* projection : {"W_q", "W_k", "W_v"}) {
        for (std::size_t i = 0; i < H; ++i) {
            legend.push_back(std::string(projection) + " head " + std::to_string(i));
        }
    }
    const std::vector<mha::BlockStep> steps = {
        {"in_proj_weight (3E, E) = " + mha::shape_string(packed.weight) + ", E = " + std::to_string(E) +
             ", H = " + std::to_string(H) + ": each entry is its row",
         {block("in_proj_weight " + mha::shape_string(packed.weight), packed.weight)}},
        {"split_packed_projection: rows [0, E), [E, 2E), [2E, 3E)",
         {block("W_q " + mha::shape_string(cut.query.weight), cut.query.weight),
          block("W_k " + mha::shape_string(cut.key.weight), cut.key.weight),
          block("W_v " + mha::shape_string(cut.value.weight), cut.value.weight)}},
    };
    mha::write_figure("lesson03-packed-projection.svg",
                      mha::svg_block_diagram(steps, legend, "in_proj_weight cut into W_q, W_k, W_v"));
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
    draw_split_heads(toy, 2);
    draw_packed_projection(6, 2);
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
