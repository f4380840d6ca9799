// Lesson 4 example: complete multi-head attention, as PyTorch's nn.MultiheadAttention.
//
// text -> tokens -> embeddings + positions = X (L, E) -> H heads -> concat (L, E) -> W_o -> output (L, E).
// Every weight is random (seeded, so the run is the same on every machine) and
// untrained: the example shows the mechanics and the shapes, not meaning.
// It runs the module three ways: self-attention, cross-attention (L != S), and
// a padded batch of two sentences with a key_padding_mask.
// With MHA_FIGURES_DIR set (the website's build sets it) it also draws the heatmaps
// and concat_heads on lesson 3's toy heads, as SVG.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <xtensor/xview.hpp>

#include "reference/attention.hpp"
#include "reference/attention_heads.hpp"
#include "reference/embedding.hpp"
#include "io/block_diagram.hpp"
#include "io/heatmap.hpp"
#include "reference/multi_head_attention.hpp"
#include "reference/positional_encoding.hpp"
#include "core/random.hpp"
#include "reference/tokenizer.hpp"

namespace {

void print_shape(const char* what, const char* symbols, const std::string& shape) {
    std::printf("  %-40s %-14s = %s\n", what, symbols, shape.c_str());
}

// A batch of one: (L, E) -> (1, L, E), the layout of batch_first=True.
mha::Tensor3 batch_of_one(const mha::Matrix& X) {
    mha::Tensor3 batch = xt::zeros<double>({std::size_t{1}, X.shape(0), X.shape(1)});  // (1, L, E)
    xt::view(batch, 0, xt::all(), xt::all()) = X;
    return batch;
}

// Weights of batch entry b, head h: (B, H, L, S) -> (L, S).
mha::Matrix head_weights(const mha::Tensor4& weights, std::size_t b, std::size_t h) {
    return xt::view(weights, b, h, xt::all(), xt::all());
}

// Entry b of a batch: (B, L, S) -> (L, S).
mha::Matrix entry(const mha::Tensor3& tensor, std::size_t b) { return xt::view(tensor, b, xt::all(), xt::all()); }

double max_abs_difference(const mha::Matrix& a, const mha::Matrix& b) {
    double worst = 0.0;
    for (std::size_t i = 0; i < a.shape(0); ++i) {
        for (std::size_t j = 0; j < a.shape(1); ++j) {
            worst = std::max(worst, std::abs(a(i, j) - b(i, j)));
        }
    }
    return worst;
}

// For the website (written only when MHA_FIGURES_DIR is set): concat_heads on lesson 3's
// toy heads, drawn as coloured blocks, one colour per head. Each entry is its place in
// the memory of the (4, 6) matrix the heads were cut from, so the picture shows every
// number going back to the column it came from.
void draw_concat_heads() {
    const std::size_t L = 4, E = 6, H = 2, d_k = E / H;
    mha::Matrix toy = xt::zeros<double>({L, E});  // (L, E): entry = its place in memory
    for (std::size_t t = 0; t < L; ++t) {
        for (std::size_t c = 0; c < E; ++c) {
            toy(t, c) = static_cast<double>(E * t + c);
        }
    }
    const std::vector<mha::Matrix> heads = mha::split_heads(toy, H);  // H x (L, d_k)
    const mha::Matrix joined = mha::concat_heads(heads);              // (L, H·d_k) = (L, E)

    const auto block = [&](std::string caption, const mha::Matrix& values, std::size_t column_block) {
        xt::xtensor<std::size_t, 2> groups = xt::zeros<std::size_t>(values.shape());  // the head of each entry
        for (std::size_t t = 0; t < values.shape(0); ++t) {
            for (std::size_t c = 0; c < values.shape(1); ++c) {
                groups(t, c) = (static_cast<std::size_t>(values(t, c)) % E) / d_k;
            }
        }
        return mha::BlockMatrix{std::move(caption), values, groups, column_block, 0};
    };
    std::vector<mha::BlockMatrix> head_blocks;
    std::vector<std::string> legend;
    for (std::size_t i = 0; i < H; ++i) {
        head_blocks.push_back(block("head " + std::to_string(i) + " output " + mha::shape_string(heads[i]), heads[i], 0));
        legend.push_back("head " + std::to_string(i));
    }
    const std::vector<mha::BlockStep> steps = {
        {"H = " + std::to_string(H) + " head outputs, each (L, d_k) = " + mha::shape_string(heads[0]), head_blocks},
        {"concat_heads: side by side, (L, H d_k) = " + mha::shape_string(joined),
         {block("concat_heads(heads) " + mha::shape_string(joined), joined, d_k)}},
    };
    mha::write_figure("lesson04-concat-heads.svg",
                      mha::svg_block_diagram(steps, legend, "concat_heads: the heads side by side again"));
}

}  // namespace

int main() {
    const std::string animal = "The animal didn't cross the street because it was too tired.";
    const std::string bank = "I went to the bank.";
    const std::size_t E = 16, H = 4;    // d_model and the number of heads
    const std::size_t d_k = E / H;      // 4 columns per head
    mha::RandomGenerator random(2024);  // the only source of randomness: same seed, same numbers

    std::cout << "=== Lesson 4: concatenation and the output layer ===\n\n";

    // ---- Text -> X, as in lesson 2 ----
    const mha::Vocabulary vocabulary({animal, bank});
    const mha::Embedding embedding = mha::random_embedding(vocabulary.size(), E, random);  // table (vocab, E)
    const auto embed = [&](const std::string& text) {
        const std::vector<std::size_t> ids = vocabulary.encode(text);  // (L)
        return mha::Matrix(embedding.forward(ids) + mha::sinusoidal_positional_encoding(ids.size(), E));  // (L, E)
    };
    const std::vector<std::string> tokens = mha::tokenize(animal);  // 11 words
    const mha::Matrix X = embed(animal);                             // (L, E) = (11, 16)
    const std::size_t L = tokens.size();

    // ---- The module: four projections, initialised as PyTorch initialises them ----
    const mha::MultiHeadAttention attention = mha::random_multi_head_attention(E, H, true, random);

    // ---- Self-attention on a batch of one: query = key = value = X ----
    const mha::Tensor3 x = batch_of_one(X);  // (B, L, E) = (1, 11, 16)
    // output (B, L, E) = (1, 11, 16), weights (B, H, L, S) = (1, 4, 11, 11)
    const mha::MultiHeadAttentionResult self = attention.forward(x, x, x);

    // The same computation step by step, to see the concatenated heads before W_o.
    // [step_by_step]
    const mha::Matrix Q = attention.query_projection.forward(X);  // (L, E) = (11, 16)
    const mha::Matrix K = attention.key_projection.forward(X);    // (L, E) = (11, 16)
    const mha::Matrix V = attention.value_projection.forward(X);  // (L, E) = (11, 16)
    const std::vector<mha::Matrix> Q_heads = mha::split_heads(Q, H);  // H x (L, d_k) = 4 x (11, 4)
    const std::vector<mha::Matrix> K_heads = mha::split_heads(K, H);  // H x (L, d_k)
    const std::vector<mha::Matrix> V_heads = mha::split_heads(V, H);  // H x (L, d_k)
    std::vector<mha::Matrix> head_outputs;                            // H x (L, d_k)
    for (std::size_t h = 0; h < H; ++h) {
        head_outputs.push_back(mha::scaled_dot_product_attention(Q_heads[h], K_heads[h], V_heads[h]).output);
    }
    const mha::Matrix concatenated = mha::concat_heads(head_outputs);               // (L, H·d_k) = (11, 16)
    const mha::Matrix by_hand = attention.output_projection.forward(concatenated);  // (L, E) = (11, 16)
    // [step_by_step]

    std::printf("Shapes (B = 1, L = %zu, E = d_model = %zu, H = %zu, d_k = E / H = %zu):\n", L, E, H, d_k);
    print_shape("X = embeddings + positions", "(L, E)", mha::shape_string(X));
    print_shape("input, batch_first", "(B, L, E)", mha::shape_string(x));
    print_shape("W_q, W_k, W_v (rows of in_proj_weight)", "(E, E)",
                mha::shape_string(attention.query_projection.weight));
    print_shape("Q = X W_q^T + b_q (K, V alike)", "(L, E)", mha::shape_string(Q));
    print_shape("split_heads(Q): one head's queries", "H x (L, d_k)",
                std::to_string(H) + " x " + mha::shape_string(Q_heads[0]));
    print_shape("one head's weights", "(L, S)", mha::shape_string(head_weights(self.weights, 0, 0)));
    print_shape("one head's output", "(L, d_k)", mha::shape_string(head_outputs[0]));
    print_shape("concat_heads(head outputs)", "(L, H d_k)", mha::shape_string(concatenated));
    print_shape("W_o (out_proj.weight)", "(E, E)", mha::shape_string(attention.output_projection.weight));
    print_shape("concatenated W_o^T + b_o", "(L, E)", mha::shape_string(by_hand));
    print_shape("forward(): output", "(B, L, E)", mha::shape_string(self.output));
    print_shape("forward(): weights, per head", "(B, H, L, S)", mha::shape_string(self.weights));
    std::printf("Step by step vs forward(): max |difference| = %.1e\n\n",
                max_abs_difference(by_hand, entry(self.output, 0)));

    // ---- Every head has its own pattern ----
    std::vector<std::string> panels;  // the same heatmaps as pictures, for the figure
    for (std::size_t h = 0; h < H; ++h) {
        std::printf("Head %zu of %zu (columns %zu-%zu of Q, K, V; row = query word, column = key word, in %%):\n", h,
                    H, h * d_k, (h + 1) * d_k - 1);
        std::cout << mha::terminal_heatmap(head_weights(self.weights, 0, h), tokens, tokens) << '\n';
        panels.push_back(mha::svg_heatmap(head_weights(self.weights, 0, h), tokens, tokens,
                                          "Head " + std::to_string(h) + " of " + std::to_string(H)));
    }
    mha::write_figure("lesson04-heads.svg", mha::svg_side_by_side(panels, 2));
    const mha::Tensor3 averaged = mha::average_over_heads(self.weights);  // (B, L, S) = (1, 11, 11)
    std::cout << "Averaged over the heads (PyTorch's average_attn_weights=True), shape "
              << mha::shape_string(averaged) << ":\n"
              << mha::terminal_heatmap(entry(averaged, 0), tokens, tokens) << '\n';

    // ---- Cross-attention: queries from one sentence, keys and values from another ----
    const std::vector<std::string> bank_tokens = mha::tokenize(bank);  // 5 words
    const mha::Tensor3 queries = batch_of_one(embed(bank));             // (B, L, E) = (1, 5, 16)
    const mha::MultiHeadAttentionResult cross = attention.forward(queries, x, x);  // weights (1, 4, 5, 11)
    std::cout << "Cross-attention: queries \"" << bank << "\" " << mha::shape_string(queries)
              << ", keys and values \"" << animal << "\" " << mha::shape_string(x) << "\n"
              << "  output " << mha::shape_string(cross.output) << " (B, L, E): one row per query word\n"
              << "  weights " << mha::shape_string(cross.weights) << " (B, H, L, S): L = " << bank_tokens.size()
              << " is not S = " << L << "\n"
              << "Averaged over the heads (row = a word of the first sentence, column = a word of the second):\n"
              << mha::terminal_heatmap(entry(mha::average_over_heads(cross.weights), 0), bank_tokens, tokens)
              << '\n';

    // ---- A padded batch: the short sentence is filled up to L with padding ----
    const std::size_t short_length = bank_tokens.size();
    mha::Tensor3 batch = xt::zeros<double>({std::size_t{2}, L, E});  // (B, L, E) = (2, 11, 16)
    xt::view(batch, 0, xt::all(), xt::all()) = X;                             // entry 0: 11 real tokens
    xt::view(batch, 1, xt::range(0, short_length), xt::all()) = embed(bank);  // entry 1: 5 real tokens
    // Rows 5-10 of entry 1 stay zero: padding. Whatever is there, the mask makes it invisible.
    mha::BoolMatrix padding = xt::zeros<bool>({std::size_t{2}, L});  // (B, S), true = padding
    for (std::size_t j = short_length; j < L; ++j) {
        padding(1, j) = true;
    }
    mha::AttentionMasks masks;
    masks.key_padding_mask = padding;
    // output (B, L, E) = (2, 11, 16), weights (B, H, L, S) = (2, 4, 11, 11)
    const mha::MultiHeadAttentionResult padded = attention.forward(batch, batch, batch, masks);

    std::vector<std::string> padded_tokens = bank_tokens;  // 11 labels: 5 words, then <pad>
    padded_tokens.resize(L, "<pad>");
    std::cout << "A batch of two sentences " << mha::shape_string(batch) << ", the second padded from "
              << short_length << " to " << L << " tokens; key_padding_mask " << mha::shape_string(padding)
              << " marks the padding.\n"
              << "Entry 1, averaged over the heads: every <pad> column gets zero weight.\n"
              << "(The <pad> rows are computed too, and ignored by whatever comes next.)\n"
              << mha::terminal_heatmap(entry(mha::average_over_heads(padded.weights), 1), padded_tokens,
                                       padded_tokens);
    // Entry 1's real words give the same answer with or without the padding around them.
    const mha::Tensor3 alone = batch_of_one(embed(bank));  // (1, 5, 16)
    const mha::Matrix alone_output = entry(attention.forward(alone, alone, alone).output, 0);  // (5, 16)
    const mha::Matrix padded_output = xt::view(padded.output, 1, xt::range(0, short_length), xt::all());  // (5, 16)
    std::printf("Its %zu real words, padded in the batch vs on their own: max |difference| = %.1e\n", short_length,
                max_abs_difference(padded_output, alone_output));
    mha::write_figure("lesson04-cross-and-padding.svg",
                      mha::svg_side_by_side(
                          {mha::svg_heatmap(entry(mha::average_over_heads(cross.weights), 0), bank_tokens, tokens,
                                            "Cross-attention, averaged over the heads"),
                           mha::svg_heatmap(entry(mha::average_over_heads(padded.weights), 1), padded_tokens, padded_tokens,
                                            "Padded batch entry 1, averaged")}));
    draw_concat_heads();
    return 0;
}
