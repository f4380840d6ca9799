// Lesson 2 example: from a sentence of text to one head of self-attention.
//
// text -> tokens -> ids -> embeddings + positional encodings = X -> Q, K, V -> attention.
// Every weight here is random (seeded, so the run is the same on every machine):
// nothing has been trained. The example shows the mechanics and the shapes;
// the pattern of the attention weights carries no meaning yet.
// With MHA_FIGURES_DIR set (the website's build sets it) it also draws the heatmaps
// and the positional encodings, as SVG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "reference/attention.hpp"
#include "reference/embedding.hpp"
#include "io/heatmap.hpp"
#include "reference/matmul.hpp"
#include "reference/positional_encoding.hpp"
#include "core/random.hpp"
#include "reference/self_attention.hpp"
#include "reference/tokenizer.hpp"

namespace {

// The rows of a matrix in reverse order: the sentence read backwards.
mha::Matrix reversed_rows(const mha::Matrix& m) {
    mha::Matrix r = m;  // (rows, columns)
    for (std::size_t i = 0; i < m.shape(0); ++i) {
        for (std::size_t j = 0; j < m.shape(1); ++j) {
            r(i, j) = m(m.shape(0) - 1 - i, j);
        }
    }
    return r;
}

double max_abs_difference(const mha::Matrix& a, const mha::Matrix& b) {
    double worst = 0.0;
    for (std::size_t i = 0; i < a.shape(0); ++i) {
        for (std::size_t j = 0; j < a.shape(1); ++j) {
            worst = std::max(worst, std::abs(a(i, j) - b(i, j)));
        }
    }
    return worst;
}

// The column of the largest entry of row i: the key that query i attends to most.
std::size_t argmax_in_row(const mha::Matrix& weights, std::size_t i) {
    std::size_t best = 0;
    for (std::size_t j = 1; j < weights.shape(1); ++j) {
        if (weights(i, j) > weights(i, best)) best = j;
    }
    return best;
}

// How many queries put their largest weight on themselves (on the diagonal).
std::size_t self_attending_rows(const mha::Matrix& weights) {
    std::size_t count = 0;
    for (std::size_t i = 0; i < weights.shape(0); ++i) {
        count += argmax_in_row(weights, i) == i;
    }
    return count;
}

void print_shape(const char* what, const char* symbols, const mha::Matrix& m) {
    std::printf("  %-26s %-21s = %s\n", what, symbols, mha::shape_string(m).c_str());
}

}  // namespace

int main() {
    const std::string bank = "I went to the bank.";
    const std::string animal = "The animal didn't cross the street because it was too tired.";
    const std::size_t d_model = 16, d_k = 8, d_v = 8;
    mha::RandomGenerator random(2024);  // the only source of randomness: same seed, same numbers

    std::cout << "=== Lesson 2: self-attention with learned projections ===\n\n";

    // ---- Text -> tokens -> ids ----
    const mha::Vocabulary vocabulary({bank, animal});  // <unk> = 0, then in order of first appearance
    const std::vector<std::string> tokens = mha::tokenize(animal);  // L = 11 words
    const std::vector<std::size_t> ids = vocabulary.encode(animal);  // (L)
    const std::size_t L = ids.size();
    std::cout << "Vocabulary of the two sentences: " << vocabulary.size() << " ids, <unk> included\n"
              << "Sentence: \"" << animal << "\"\n  token:";
    for (const auto& token : tokens) std::printf(" %7s", token.c_str());
    std::cout << "\n  id:   ";
    for (const auto id : ids) std::printf(" %7zu", id);
    std::cout << "\n  \"I went to the river\" encodes as";
    for (const auto id : vocabulary.encode("I went to the river")) std::cout << ' ' << id;
    std::cout << "   (river is unknown: <unk> = 0)\n\n";

    // [text_to_head]
    // ---- Ids -> vectors: a lookup table, plus where each token stands ----
    const mha::Embedding embedding = mha::random_embedding(vocabulary.size(), d_model, random);  // table (15, 16)
    const mha::Matrix E = embedding.forward(ids);                           // (L, d_model) = (11, 16)
    const mha::Matrix P = mha::sinusoidal_positional_encoding(L, d_model);  // (L, d_model) = (11, 16)
    const mha::Matrix X = E + P;                                            // (L, d_model) = (11, 16)

    // ---- One head: three learned projections, then lesson 1's attention ----
    const mha::SelfAttention head = mha::random_self_attention(d_model, d_k, d_v, true, random);
    const mha::Matrix Q = head.query_projection.forward(X);  // (L, d_k) = (11, 8)
    const mha::Matrix K = head.key_projection.forward(X);    // (L, d_k) = (11, 8)
    const mha::Matrix V = head.value_projection.forward(X);  // (L, d_v) = (11, 8)
    const mha::Matrix scores = mha::matmul_transposed(Q, K) / std::sqrt(static_cast<double>(d_k));  // (L, L)
    const mha::AttentionResult result = head.forward(X);  // weights (L, L) = (11, 11), output (L, d_v) = (11, 8)
    // [text_to_head]

    std::cout << "Shapes (L = " << L << ", d_model = " << d_model << ", d_k = " << d_k << ", d_v = " << d_v
              << "):\n";
    print_shape("embedding table", "(vocabulary, d_model)", embedding.table);
    print_shape("E = table[ids]", "(L, d_model)", E);
    print_shape("P, positional encodings", "(L, d_model)", P);
    print_shape("X = E + P", "(L, d_model)", X);
    print_shape("W_q, W_k", "(d_k, d_model)", head.query_projection.weight);
    print_shape("W_v", "(d_v, d_model)", head.value_projection.weight);
    print_shape("Q = X W_q^T + b_q", "(L, d_k)", Q);
    print_shape("K = X W_k^T + b_k", "(L, d_k)", K);
    print_shape("V = X W_v^T + b_v", "(L, d_v)", V);
    print_shape("scores = Q K^T / sqrt(d_k)", "(L, L)", scores);
    print_shape("weights = softmax(scores)", "(L, L)", result.weights);
    print_shape("output = weights V", "(L, d_v)", result.output);

    std::cout << "\nAttention weights of the random head (row = query word, column = key word, in %):\n"
              << mha::terminal_heatmap(result.weights, tokens, tokens);

    const auto position_of = [&](const char* word) {
        return static_cast<std::size_t>(std::find(tokens.begin(), tokens.end(), word) - tokens.begin());
    };
    const std::size_t it = position_of("it"), animal_position = position_of("animal");
    const std::size_t most = argmax_in_row(result.weights, it);
    std::printf("\"it\" attends most to \"%s\" (%.0f%%), and gives \"animal\" %.0f%%. The weights are random and\n"
                "untrained, so this is chance, not understanding: training is what would teach \"it\" to look\n"
                "for \"animal\".\n\n",
                tokens[most].c_str(), 100.0 * result.weights(it, most), 100.0 * result.weights(it, animal_position));

    // ---- Why projections: with Q = K = V = X (lesson 1) a token mostly finds itself ----
    const mha::AttentionResult plain = mha::scaled_dot_product_attention(X, X, X);  // weights (L, L)
    std::printf("Tokens whose largest weight is on themselves: %zu of %zu with Q = K = V = X (lesson 1),\n"
                "%zu of %zu with the projections.\n\n",
                self_attending_rows(plain.weights), L, self_attending_rows(result.weights), L);
    mha::write_figure("lesson02-projections.svg",
                      mha::svg_side_by_side({mha::svg_heatmap(plain.weights, tokens, tokens, "Q = K = V = X (lesson 1)"),
                                             mha::svg_heatmap(result.weights, tokens, tokens,
                                                              "Learned projections (random, seed 2024)")}));

    // ---- Attention alone ignores order; positional encodings fix that ----
    std::vector<std::size_t> reversed_ids(ids.rbegin(), ids.rend());  // (L): "tired too was it because ..."
    const mha::Matrix E_reversed = embedding.forward(reversed_ids);   // (L, d_model)
    const mha::AttentionResult forwards = head.forward(E);            // no positions: output (L, d_v)
    const mha::AttentionResult backwards = head.forward(E_reversed);  // no positions: output (L, d_v)
    std::printf("Reversing the sentence, then reversing the output rows back:\n"
                "  without positional encodings, max |difference| = %.1e  (the same outputs, reordered)\n",
                max_abs_difference(reversed_rows(backwards.output), forwards.output));
    const mha::AttentionResult backwards_with_positions = head.forward(E_reversed + P);  // output (L, d_v)
    std::printf("  with positional encodings,    max |difference| = %.2f     (order now changes the result)\n",
                max_abs_difference(reversed_rows(backwards_with_positions.output), result.output));

    // For the website: the encodings themselves, 24 positions of this lesson's d_model = 16,
    // on a blue-white-red scale (sin and cos go below 0). The fast hands (left) change colour
    // from one row to the next; the slow ones (right) barely change over 24 positions.
    const std::size_t shown_positions = 24;
    const mha::Matrix encodings = mha::sinusoidal_positional_encoding(shown_positions, d_model);  // (24, 16)
    std::vector<std::string> position_labels, column_labels;
    for (std::size_t position = 0; position < shown_positions; ++position) {
        position_labels.push_back("pos " + std::to_string(position));
    }
    for (std::size_t column = 0; column < d_model; ++column) {
        column_labels.push_back(std::to_string(column) + (column % 2 == 0 ? " sin" : " cos"));
    }
    mha::write_figure("lesson02-positional-encoding.svg",
                      mha::svg_signed_heatmap(encodings, position_labels, column_labels,
                                              "PE " + mha::shape_string(encodings) + ": sinusoidal_positional_encoding(" +
                                                  std::to_string(shown_positions) + ", " + std::to_string(d_model) + ")"));
    return 0;
}
