// Lesson 1 example: scaled dot-product attention on a tiny sentence.
//
// There are no learned weights yet (they arrive in lesson 2), so each word gets
// a hand-made 4-number vector and that vector serves as its query, its key and
// its value at once. Run it and read the output next to the lesson text.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "reference/attention.hpp"
#include "io/heatmap.hpp"
#include "reference/mask.hpp"
#include "reference/softmax.hpp"

namespace {

// The four made-up features of our toy word vectors.
enum Feature { finance = 0, nature = 1, motion = 2, grammar = 3 };

struct Word {
    std::string text;
    double features[4];
};

// One row per word: the sentence as a matrix X, shape (L, 4).
mha::Matrix embed(const std::vector<Word>& sentence) {
    mha::Matrix X = xt::zeros<double>({sentence.size(), std::size_t{4}});  // (L, 4)
    for (std::size_t i = 0; i < sentence.size(); ++i) {
        for (std::size_t f = 0; f < 4; ++f) {
            X(i, f) = sentence[i].features[f];
        }
    }
    return X;
}

std::vector<std::string> tokens_of(const std::vector<Word>& sentence) {
    std::vector<std::string> tokens;
    for (const auto& word : sentence) {
        tokens.push_back(word.text);
    }
    return tokens;
}

// Part 1: self-attention over a sentence, and what it does to the word "bank".
// Returns the weights drawn as an SVG heatmap, for the figure.
std::string show_bank(const std::vector<Word>& sentence) {
    const mha::Matrix X = embed(sentence);  // (L, 4): Q = K = V = X in this lesson
    const auto tokens = tokens_of(sentence);
    const auto result = mha::scaled_dot_product_attention(X, X, X);

    std::string text;
    for (const auto& token : tokens) {
        text += (text.empty() ? "" : " ") + token;
    }
    std::cout << "Sentence: \"" << text << "\"\n"
              << "Attention weights (row = the query word, column = the key word it looks at, in %):\n"
              << mha::terminal_heatmap(result.weights, tokens, tokens);

    for (std::size_t i = 0; i < sentence.size(); ++i) {
        if (tokens[i] == "bank") {
            std::printf("\"bank\" before attention: finance %.2f, nature %.2f\n", X(i, finance), X(i, nature));
            std::printf("\"bank\" after attention:  finance %.2f, nature %.2f  <- the context decided\n\n",
                        result.output(i, finance), result.output(i, nature));
        }
    }
    return mha::svg_heatmap(result.weights, tokens, tokens, "\"" + text + "\"");
}

// Part 2: why divide by sqrt(d_k). For random vectors whose entries have
// variance 1, the dot product q.k has variance d_k. Without the scale, large
// d_k gives scores so spread out that softmax puts almost all weight on one key.
void show_scaling() {
    // The course's generator (lesson 2's), not std::normal_distribution, whose numbers
    // differ between standard libraries: these are the numbers the lesson's page shows.
    mha::RandomGenerator generator(2024);
    const std::size_t key_count = 16, trials = 200;

    std::cout << "Why scale by 1/sqrt(d_k): " << trials << " random queries against " << key_count
              << " random keys, entries ~ N(0, 1)\n"
              << "   d_k   variance of q.k   variance of q.k/sqrt(d_k)   largest weight: unscaled   scaled\n";
    for (const std::size_t d_k : {4, 16, 64, 256, 1024}) {
        double sum_raw = 0, sum_raw_squared = 0, sum_scaled_squared = 0;
        double largest_unscaled = 0, largest_scaled = 0;
        for (std::size_t trial = 0; trial < trials; ++trial) {
            mha::Matrix raw = xt::zeros<double>({std::size_t{1}, key_count});  // (1, S): one query's scores
            mha::Matrix scaled = raw;
            std::vector<double> q(d_k);
            for (auto& x : q) x = generator.normal();
            for (std::size_t j = 0; j < key_count; ++j) {
                double dot = 0;
                for (std::size_t p = 0; p < d_k; ++p) dot += q[p] * generator.normal();
                raw(0, j) = dot;
                scaled(0, j) = dot / std::sqrt(static_cast<double>(d_k));
                sum_raw += dot;
                sum_raw_squared += dot * dot;
                sum_scaled_squared += scaled(0, j) * scaled(0, j);
            }
            largest_unscaled += xt::amax(mha::softmax(raw))();
            largest_scaled += xt::amax(mha::softmax(scaled))();
        }
        const double n = static_cast<double>(trials * key_count);
        const double variance_raw = sum_raw_squared / n - (sum_raw / n) * (sum_raw / n);
        std::printf("%6zu   %15.1f   %25.2f   %24.2f   %6.2f\n", d_k, variance_raw, sum_scaled_squared / n,
                    largest_unscaled / trials, largest_scaled / trials);
    }
    std::cout << "Unscaled, the largest weight creeps towards 1 as d_k grows: softmax saturates, one key takes\n"
                 "everything and the gradients through the others vanish. Scaled, the spread stays the same.\n\n";
}

// Part 3: a causal mask, as a decoder uses it: no word may look at later words.
void show_causal_mask(const std::vector<Word>& sentence) {
    const mha::Matrix X = embed(sentence);  // (L, 4)
    const auto tokens = tokens_of(sentence);
    const auto mask = mha::causal_mask(sentence.size(), sentence.size());  // (L, L), true above the diagonal
    const auto result = mha::scaled_dot_product_attention(X, X, X, mask);
    std::cout << "The same sentence with a causal mask (each word sees itself and the words before it):\n"
              << mha::terminal_heatmap(result.weights, tokens, tokens) << '\n';
    mha::write_figure("lesson01-causal.svg", mha::svg_heatmap(result.weights, tokens, tokens, "With a causal mask"));
}

}  // namespace

int main() {
    //                                finance nature motion grammar
    const std::vector<Word> money = {{"I", {0.0, 0.0, 0.5, 2.0}},
                                     {"went", {0.0, 0.0, 2.0, 0.5}},
                                     {"to", {0.0, 0.0, 1.0, 2.0}},
                                     {"the", {0.0, 0.0, 0.0, 2.0}},
                                     {"bank", {1.5, 1.5, 0.0, 0.0}},
                                     {"to", {0.0, 0.0, 1.0, 2.0}},
                                     {"deposit", {2.0, 0.0, 1.0, 0.0}},
                                     {"money", {2.5, 0.0, 0.0, 0.0}}};
    const std::vector<Word> river = {{"I", {0.0, 0.0, 0.5, 2.0}},
                                     {"sat", {0.0, 0.5, 0.5, 0.5}},
                                     {"on", {0.0, 0.0, 0.5, 2.0}},
                                     {"the", {0.0, 0.0, 0.0, 2.0}},
                                     {"bank", {1.5, 1.5, 0.0, 0.0}},
                                     {"of", {0.0, 0.0, 0.0, 2.0}},
                                     {"the", {0.0, 0.0, 0.0, 2.0}},
                                     {"river", {0.0, 2.5, 0.5, 0.0}}};

    std::cout << "=== Lesson 1: scaled dot-product attention ===\n\n";
    const std::string money_figure = show_bank(money);
    const std::string river_figure = show_bank(river);
    mha::write_figure("lesson01-bank.svg", mha::svg_side_by_side({money_figure, river_figure}));
    show_scaling();
    show_causal_mask(money);
    return 0;
}
