// Lesson 6 example: the backward pass of multi-head attention, then training
// with it, and what the trained heads do.
//
//   1. Which positions does the output at "it" depend on? The gradient of that
//      one output row with respect to every input row of a random module,
//      without a mask and under the causal mask, which cuts the future off.
//   2. Are the gradients right? multi_head_attention_backward against central
//      differences, for the input and for every parameter, as the tests do.
//   3. Task A, induction: a 2-layer model trained on sequences that end in a
//      repeated segment; its held-out accuracy, every head's scores, and the
//      two heads' attention on one held-out sequence. Then 1 layer, which fails.
//   4. Task B, "what does it refer to": a 2-layer, 2-head model; its scores,
//      and what every head of it reads from "it" in the course's two sentences.
//
// Every number is the same on every run (the seeds are fixed), except the
// timings at the very end. With MHA_FIGURES_DIR set it writes the heatmaps
// before and after training and the loss curves as SVG (the website's figures).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xview.hpp>

#include "core/random.hpp"
#include "reference/embedding.hpp"
#include "reference/multi_head_attention.hpp"
#include "reference/positional_encoding.hpp"
#include "reference/tokenizer.hpp"
#include "io/heatmap.hpp"
#include "io/line_chart.hpp"
#include "train/multi_head_attention_backward.hpp"
#include "train/trainer.hpp"

namespace {

// The length of row i of a matrix: how strongly the loss leans on that input position.
double row_norm(const mha::Matrix& m, std::size_t i) {
    double sum = 0.0;
    for (std::size_t j = 0; j < m.shape(1); ++j) {
        sum += m(i, j) * m(i, j);
    }
    return std::sqrt(sum);
}

// The loss Σ dY ⊙ output for one module and input: the quantity whose gradient the backward pass gives.
double loss(const mha::MultiHeadAttention& module, const mha::Tensor3& x, const mha::AttentionMasks& masks,
            const mha::Tensor3& grad_output) {
    const mha::Tensor3 output = module.forward(x, x, x, masks).output;  // (1, L, E)
    double sum = 0.0;
    for (std::size_t i = 0; i < output.size(); ++i) {
        sum += grad_output.data()[i] * output.data()[i];
    }
    return sum;
}

// The largest relative difference between an analytic gradient and central differences of `loss_of`.
template <class Tensor, class Loss>
double worst_relative_error(const Tensor& analytic, Tensor point, Loss loss_of) {
    const double h = 1e-6;
    double largest = 0.0, difference = 0.0;
    for (std::size_t i = 0; i < point.size(); ++i) {
        const double original = point.data()[i];
        point.data()[i] = original + h;
        const double above = loss_of(point);
        point.data()[i] = original - h;
        const double below = loss_of(point);
        point.data()[i] = original;
        const double numerical = (above - below) / (2.0 * h);
        largest = std::max({largest, std::abs(numerical), std::abs(analytic.data()[i])});
        difference = std::max(difference, std::abs(numerical - analytic.data()[i]));
    }
    return largest > 0.0 ? difference / largest : difference;
}

// Parts 1 and 2: the backward pass of one random module.
void backward_pass() {
    const std::string sentence = "The animal didn't cross the street because it was too tired.";
    const std::size_t E = 8, H = 2;
    mha::RandomGenerator random(6);

    // ---- Text -> X (1, L, E), as in lesson 2 ----
    const mha::Vocabulary vocabulary({sentence});
    const mha::Embedding embedding = mha::random_embedding(vocabulary.size(), E, random);
    const std::vector<std::string> tokens = mha::tokenize(sentence);
    const std::vector<std::size_t> ids = vocabulary.encode(sentence);
    const std::size_t L = ids.size();
    mha::Tensor3 x = xt::zeros<double>({std::size_t{1}, L, E});  // (1, L, E): one sentence
    xt::view(x, 0, xt::all(), xt::all()) = embedding.forward(ids) + mha::sinusoidal_positional_encoding(L, E);
    const mha::MultiHeadAttention module = mha::random_multi_head_attention(E, H, true, random);

    // ---- 1. Where the output at "it" comes from ----
    const std::size_t it = static_cast<std::size_t>(std::find(tokens.begin(), tokens.end(), "it") - tokens.begin());
    mha::Tensor3 grad_output = xt::zeros<double>({std::size_t{1}, L, E});  // dL/doutput: ones on row "it", zeros elsewhere
    xt::view(grad_output, 0, it, xt::all()) = 1.0;
    std::printf("The loss is the sum of the output row of \"%s\" (position %zu). How much does it move when\n",
                tokens[it].c_str(), it);
    std::printf("each input row moves? |dL/dx_j| for every position j (query, key and value are one x here,\n");
    std::printf("so its gradient is the sum of the three):\n\n");
    std::printf("  %-10s %12s %12s\n", "token", "no mask", "causal");
    mha::AttentionMasks causal;
    causal.causal = true;
    mha::Matrix influence[2];
    const mha::AttentionMasks* mask_kinds[] = {nullptr, &causal};
    for (int kind = 0; kind < 2; ++kind) {
        const mha::AttentionMasks masks = mask_kinds[kind] ? *mask_kinds[kind] : mha::AttentionMasks{};
        const mha::MultiHeadAttentionGradients g = mha::multi_head_attention_backward(module, x, x, x, masks, grad_output);
        influence[kind] = mha::batch_entry(g.query + g.key + g.value, 0);  // (L, E): x feeds all three
    }
    for (std::size_t j = 0; j < L; ++j) {
        std::printf("  %-10s %12.4f %12.4f%s\n", tokens[j].c_str(), row_norm(influence[0], j), row_norm(influence[1], j),
                    j > it ? "   <- after \"it\": the causal mask cuts it off" : "");
    }

    // ---- 2. The check every test makes: central differences ----
    std::printf("\nThe analytic gradients against central differences (f(x+h) - f(x-h)) / 2h, h = 1e-6,\n");
    std::printf("of the loss above (no mask): the largest difference over the largest entry:\n\n");
    const mha::AttentionMasks no_mask;
    const mha::MultiHeadAttentionGradients g = mha::multi_head_attention_backward(module, x, x, x, no_mask, grad_output);
    std::printf("  %-28s %s\n", "gradient of", "relative error");
    std::printf("  %-28s %.1e\n", "x (query + key + value)",
                worst_relative_error(mha::Tensor3(g.query + g.key + g.value), x,
                                     [&](const mha::Tensor3& nudged) { return loss(module, nudged, no_mask, grad_output); }));
    const std::pair<mha::Linear mha::MultiHeadAttention::*, const char*> layers[] = {
        {&mha::MultiHeadAttention::query_projection, "W_q"},
        {&mha::MultiHeadAttention::key_projection, "W_k"},
        {&mha::MultiHeadAttention::value_projection, "W_v"},
        {&mha::MultiHeadAttention::output_projection, "W_o"}};
    for (const auto& [layer, name] : layers) {
        const double error = worst_relative_error((g.parameters.*layer).weight, (module.*layer).weight,
                                                  [&](const mha::Matrix& weight) {
                                                      mha::MultiHeadAttention changed = module;
                                                      (changed.*layer).weight = weight;
                                                      return loss(changed, x, no_mask, grad_output);
                                                  });
        std::printf("  %-28s %.1e\n", name, error);
    }
    double largest_key_bias = 0.0;
    for (const double d : g.parameters.key_projection.bias) {
        largest_key_bias = std::max(largest_key_bias, std::abs(d));
    }
    std::printf("\nThe key projection's bias gets |gradient| <= %.1e: it shifts every score of a row alike,\n",
                largest_key_bias);
    std::printf("and the softmax ignores such a shift. PyTorch keeps it anyway (in_proj_bias).\n");
}

// "layer 1, head 0".
std::string head_name(std::size_t layer, std::size_t head) {
    return "layer " + std::to_string(layer) + ", head " + std::to_string(head);
}

// The training loss at a few steps, on one line.
void print_losses(const std::vector<double>& losses, const std::vector<std::size_t>& steps) {
    std::printf("  training loss at step");
    for (const std::size_t s : steps) {
        if (s <= losses.size()) {
            std::printf("  %zu: %.4f", s, losses[s - 1]);
        }
    }
    std::printf("\n");
}

// One SVG panel per head of every layer, for `tokens` labelled `labels`; `title` starts each panel's title.
void add_panels(std::vector<std::string>& panels, const mha::AttentionOnlyTransformer& model,
                const std::vector<std::size_t>& tokens, const std::vector<std::string>& labels,
                const std::string& title) {
    const std::vector<std::vector<mha::Matrix>> maps = mha::attention_maps(model, tokens);
    for (std::size_t l = 0; l < maps.size(); ++l) {
        for (std::size_t h = 0; h < maps[l].size(); ++h) {
            panels.push_back(mha::svg_heatmap(maps[l][h], labels, labels, title + head_name(l, h)));
        }
    }
}

// The held-out accuracy with each head silenced, [layer][head].
std::vector<std::vector<double>> ablation(const mha::AttentionOnlyTransformer& model, mha::Task task,
                                          const mha::HeldOutData& data) {
    std::vector<std::vector<double>> accuracy(model.layers.size());
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
        for (std::size_t h = 0; h < model.num_heads(); ++h) {
            accuracy[l].push_back(mha::evaluate(mha::without_head(model, l, h), task, data).accuracy);
        }
    }
    return accuracy;
}

// Part 3: Task A, induction heads. Returns the trained runs: 2 layers, then 1 layer.
std::pair<mha::TrainingResult, mha::TrainingResult> induction_task() {
    std::printf("\n=== Task A: induction ===\n\n");
    const mha::HeldOutData data = mha::held_out_data(mha::Task::induction);
    mha::TrainingOptions options = mha::default_options(mha::Task::induction);  // seed 1
    std::printf("Sequences of 16 tokens out of 16: noise, a segment of 4 to 8 distinct tokens, the segment again.\n");
    std::printf("Predict the next token; counted only inside the second copy. %zu layers x %zu heads, d_model %zu,\n",
                options.layers, options.heads, options.d_model);
    std::printf("%zu Adam steps of %zu sequences, seed %llu.\n\n", options.steps, options.batch,
                static_cast<unsigned long long>(options.seed));
    mha::TrainingResult result = mha::train(options);
    const mha::Evaluation before = mha::evaluate(result.initial_model, mha::Task::induction, data);
    const mha::Evaluation after = mha::evaluate(result.model, mha::Task::induction, data);
    print_losses(result.losses, {1, 100, 200, 300, 500, 1000, 2000});
    std::printf("  held-out accuracy (512 sequences): %.1f %% before training, %.1f %% after\n\n",
                100.0 * before.accuracy, 100.0 * after.accuracy);

    const std::vector<std::vector<double>> without = ablation(result.model, mha::Task::induction, data);
    std::printf("  %-16s %14s %10s %20s\n", "head", "previous-token", "induction", "accuracy without it");
    for (std::size_t l = 0; l < options.layers; ++l) {
        for (std::size_t h = 0; h < options.heads; ++h) {
            std::printf("  %-16s %14.3f %10.3f %18.1f %%\n", head_name(l, h).c_str(),
                        after.scores.previous_token[l][h], after.scores.induction[l][h], 100.0 * without[l][h]);
        }
    }

    // One held-out sequence with a long repeat, as `mha train` draws it.
    const mha::InductionSequence* shown = &data.induction.front();
    for (const mha::InductionSequence& sequence : data.induction) {
        if (sequence.segment_length >= 6) {
            shown = &sequence;
            break;
        }
    }
    const std::vector<std::size_t>& tokens = shown->tokens;
    std::vector<std::string> labels;  // "position:token"
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        labels.push_back(std::to_string(i) + ":" + std::to_string(tokens[i]));
    }
    std::printf("\nA held-out sequence: noise at positions 0-%zu, the segment at %zu-%zu and again at %zu-%zu:\n  ",
                shown->first_copy - 1, shown->first_copy, shown->second_copy() - 1, shown->second_copy(),
                tokens.size() - 1);
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        std::printf("%zu%s", tokens[i], i + 1 == shown->first_copy || i + 1 == shown->second_copy() ? " | " : " ");
    }
    const mha::TransformerActivations activations = mha::transformer_forward(result.model, {tokens});
    std::printf("\nThe trained model's next-token guesses in the second copy:\n  ");
    for (std::size_t i = shown->second_copy(); i + 1 < tokens.size(); ++i) {
        std::size_t best = 0;
        for (std::size_t v = 1; v < result.model.vocabulary_size(); ++v) {
            best = activations.logits(0, i, v) > activations.logits(0, i, best) ? v : best;
        }
        std::printf("after %zu: %zu%s  ", tokens[i], best, best == tokens[i + 1] ? "" : " (wrong)");
    }
    std::printf("\n");
    const std::vector<std::vector<mha::Matrix>> maps = mha::attention_maps(result.model, tokens);
    for (std::size_t l = 0; l < maps.size(); ++l) {
        for (std::size_t h = 0; h < maps[l].size(); ++h) {
            std::printf("\nTrained %s (row = query position:token, column = key, in %%):\n%s", head_name(l, h).c_str(),
                        mha::terminal_heatmap(maps[l][h], labels, labels).c_str());
        }
    }

    std::vector<std::string> panels_before, panels_after;
    add_panels(panels_before, result.initial_model, tokens, labels, "before training · ");
    add_panels(panels_after, result.model, tokens, labels, "trained · ");
    // One row per layer: layer 0's heads, then layer 1's.
    mha::write_figure("lesson06-induction-before.svg", mha::svg_side_by_side(panels_before, options.heads));
    mha::write_figure("lesson06-induction-after.svg", mha::svg_side_by_side(panels_after, options.heads));

    // Why depth: the same task, one layer.
    mha::TrainingOptions shallow = options;
    shallow.layers = 1;
    shallow.steps = 500;
    std::printf("\nThe same task with 1 layer (%zu steps):\n", shallow.steps);
    mha::TrainingResult one_layer = mha::train(shallow);
    const mha::Evaluation flat = mha::evaluate(one_layer.model, mha::Task::induction, data);
    print_losses(one_layer.losses, {1, 100, 200, 300, 400, 500});
    std::printf("  held-out accuracy %.1f %%, loss %.3f\n", 100.0 * flat.accuracy, flat.loss);
    for (std::size_t h = 0; h < shallow.heads; ++h) {
        std::printf("  its %s: previous-token %.3f, induction %.3f\n", head_name(0, h).c_str(),
                    flat.scores.previous_token[0][h], flat.scores.induction[0][h]);
    }
    return {std::move(result), std::move(one_layer)};
}

// The word each id stands for.
std::vector<std::string> words(const std::vector<std::size_t>& tokens) {
    std::vector<std::string> text;
    for (const std::size_t t : tokens) {
        text.push_back(mha::coreference_vocabulary()[t]);
    }
    return text;
}

// Part 4: Task B, "what does it refer to". Returns the trained run.
mha::TrainingResult coreference_task() {
    std::printf("\n=== Task B: what does \"it\" refer to? ===\n\n");
    const mha::HeldOutData data = mha::held_out_data(mha::Task::coreference);
    const mha::CoreferenceSplit split = mha::coreference_split();
    mha::TrainingOptions options = mha::default_options(mha::Task::coreference);  // seed 1
    std::printf("%zu sentences of 11 words, %zu to train on, %zu held out (the course's two among them).\n",
                split.train.size() + split.test.size(), split.train.size(), split.test.size());
    std::printf("At \"it\", name the noun it refers to (one of %zu words). %zu layers x %zu heads, d_model %zu,\n",
                mha::coreference_vocabulary().size(), options.layers, options.heads, options.d_model);
    std::printf("%zu Adam steps of %zu sentences, seed %llu, attention not causal.\n\n", options.steps,
                options.batch, static_cast<unsigned long long>(options.seed));
    mha::TrainingResult result = mha::train(options);
    const mha::Evaluation before = mha::evaluate(result.initial_model, mha::Task::coreference, data);
    const mha::Evaluation after = mha::evaluate(result.model, mha::Task::coreference, data);
    print_losses(result.losses, {1, 100, 200, 300, 500, 1000, 2000});
    std::printf("  held-out accuracy (%zu sentences): %.1f %% before training, %.1f %% after\n\n", split.test.size(),
                100.0 * before.accuracy, 100.0 * after.accuracy);

    const std::vector<std::vector<double>> without = ablation(result.model, mha::Task::coreference, data);
    std::printf("  %-16s %18s %14s %20s\n", "head", "weight on referent", "on other noun", "accuracy without it");
    for (std::size_t l = 0; l < options.layers; ++l) {
        for (std::size_t h = 0; h < options.heads; ++h) {
            std::printf("  %-16s %18.3f %14.3f %18.1f %%\n", head_name(l, h).c_str(),
                        after.scores.weight_on_referent[l][h], after.scores.weight_on_other_noun[l][h],
                        100.0 * without[l][h]);
        }
    }

    std::vector<std::string> panels_before, panels_after;
    for (const std::string ending : {"tired", "wide"}) {
        const std::vector<std::size_t> tokens =
            mha::coreference_tokens("the animal didn't cross the street because it was too " + ending);
        const std::vector<std::string> labels = words(tokens);
        const std::size_t it = 7;

        // The answer: the softmax of the logits at "it".
        const mha::TransformerActivations activations = mha::transformer_forward(result.model, {tokens});
        std::size_t best = 0;
        double exponentials = 0.0;
        for (std::size_t v = 0; v < result.model.vocabulary_size(); ++v) {
            best = activations.logits(0, it, v) > activations.logits(0, it, best) ? v : best;
        }
        for (std::size_t v = 0; v < result.model.vocabulary_size(); ++v) {
            exponentials += std::exp(activations.logits(0, it, v) - activations.logits(0, it, best));
        }
        std::printf("\n\"the animal didn't cross the street because it was too %s\": the model answers \"%s\" (p = %.3f)\n",
                    ending.c_str(), mha::coreference_vocabulary()[best].c_str(), 1.0 / exponentials);

        // What every head reads from "it": its row of the weights.
        const std::vector<std::vector<mha::Matrix>> maps = mha::attention_maps(result.model, tokens);
        mha::Matrix rows = xt::zeros<double>({options.layers * options.heads, tokens.size()});
        std::vector<std::string> row_labels;
        for (std::size_t l = 0; l < options.layers; ++l) {
            for (std::size_t h = 0; h < options.heads; ++h) {
                xt::view(rows, row_labels.size(), xt::all()) = xt::view(maps[l][h], it, xt::all());
                row_labels.push_back(head_name(l, h));
            }
        }
        std::printf("The row of \"it\" in every head (%% of its attention on each word):\n%s",
                    mha::terminal_heatmap(rows, row_labels, labels).c_str());

        // Layer 1 reads the stream where layer 0 has written: what had the words it reads gathered?
        std::vector<std::size_t> read;  // the word each layer-1 head of "it" weighs most, once each
        for (std::size_t h = 0; h < options.heads; ++h) {
            const auto row = xt::view(maps[1][h], it, xt::all());
            const auto most = static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
            if (std::find(read.begin(), read.end(), most) == read.end()) {
                read.push_back(most);
            }
        }
        mha::Matrix read_rows = xt::zeros<double>({read.size() * options.heads, tokens.size()});
        std::vector<std::string> read_labels;
        for (const std::size_t word : read) {
            for (std::size_t h = 0; h < options.heads; ++h) {
                xt::view(read_rows, read_labels.size(), xt::all()) = xt::view(maps[0][h], word, xt::all());
                read_labels.push_back("\"" + labels[word] + "\", " + head_name(0, h));
            }
        }
        std::printf("Layer 0's rows of the words layer 1 reads most from \"it\":\n%s",
                    mha::terminal_heatmap(read_rows, read_labels, labels).c_str());

        // The stream at "it" is a sum (embeddings + what every head added), and the read-out is
        // linear: the logit difference of the two nouns is the sum of each part's share.
        const std::size_t animal = tokens[1], street = tokens[5];
        const auto share = [&](const mha::Matrix& vector) {  // (1, d): its part of logit[animal] − logit[street]
            double sum = 0.0;
            for (std::size_t c = 0; c < result.model.d_model(); ++c) {
                sum += vector(0, c) * (result.model.readout.weight(animal, c) - result.model.readout.weight(street, c));
            }
            return sum;
        };
        std::printf("Logit of \"animal\" minus logit of \"street\" at \"it\", by what wrote it into the stream:\n");
        mha::Matrix embedded = xt::view(activations.stream[0], 0, xt::range(it, it + 1), xt::all());  // (1, d)
        double total = share(embedded);
        std::printf("  %-34s %+8.2f\n", "embeddings of \"it\" and position 7", total);
        for (std::size_t l = 0; l < options.layers; ++l) {
            const mha::MultiHeadAttention& layer = result.model.layers[l];
            const std::size_t d_k = layer.head_dim(), d = result.model.d_model();
            const mha::Matrix x = xt::view(activations.stream[l], 0, xt::all(), xt::all());  // (L, d)
            const mha::Matrix values = layer.value_projection.forward(x);                 // (L, d): every head's V
            for (std::size_t h = 0; h < options.heads; ++h) {
                mha::Matrix added = xt::zeros<double>({std::size_t{1}, d});  // (1, d): O_h at "it" through W_o's block h
                for (std::size_t c = 0; c < d_k; ++c) {
                    double o = 0.0;  // column c of head h's output at "it": its weights times V_h
                    for (std::size_t j = 0; j < tokens.size(); ++j) {
                        o += activations.weights[l](0, h, it, j) * values(j, h * d_k + c);
                    }
                    for (std::size_t r = 0; r < d; ++r) {
                        added(0, r) += layer.output_projection.weight(r, h * d_k + c) * o;
                    }
                }
                const double part = share(added);
                total += part;
                std::printf("  %-34s %+8.2f\n", head_name(l, h).c_str(), part);
            }
        }
        std::printf("  %-34s %+8.2f  (the logits themselves: %+.2f)\n", "sum", total,
                    activations.logits(0, it, animal) - activations.logits(0, it, street));
        add_panels(panels_before, result.initial_model, tokens, labels, "\"" + ending + "\" · before · ");
        add_panels(panels_after, result.model, tokens, labels, "\"" + ending + "\" · trained · ");
    }
    // One row per sentence and layer, one panel per head.
    mha::write_figure("lesson06-coreference-before.svg", mha::svg_side_by_side(panels_before, options.heads));
    mha::write_figure("lesson06-coreference-after.svg", mha::svg_side_by_side(panels_after, options.heads));
    return result;
}

}  // namespace

int main() {
    std::printf("=== Lesson 6: the backward pass ===\n\n");
    backward_pass();
    const auto [induction, one_layer] = induction_task();
    const mha::TrainingResult coreference = coreference_task();

    mha::write_figure("lesson06-loss.svg",
                      mha::svg_line_chart({{"induction, 2 layers", induction.losses, "#1f5fa8"},
                                           {"induction, 1 layer", one_layer.losses, "#c0392b"},
                                           {"coreference", coreference.losses, "#2e8b57"}},
                                          "Training loss per step (batches of 32)", "step", "loss", true));

    // Timings last: they change from run to run, the numbers above never do.
    std::printf("\nTimings on this machine (they vary from run to run):\n");
    for (const auto& [name, run] : {std::pair<const char*, const mha::TrainingResult*>{"induction, 2 layers", &induction},
                                    {"induction, 1 layer", &one_layer},
                                    {"coreference", &coreference}}) {
        std::printf("  %-20s %5zu steps in %5.2f s, %.3f ms per step (median)\n", name, run->losses.size(),
                    run->seconds, run->milliseconds_per_step);
    }
    return 0;
}

