// `mha train` (lesson 6): trains the tiny transformer on a task and prints,
// as one JSON object, how well it does and what every head attends to.
#include "cli/train_command.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cli/command_line.hpp"
#include "decode/tied_key_value_heads.hpp"
#include "io/output_files.hpp"
#include "io/heatmap.hpp"
#include "io/line_chart.hpp"
#include "io/model_files.hpp"

namespace mha::cli {

namespace {

// The largest sizes `mha train` accepts: far above what the tasks need, low
// enough that a typo (--steps 1000000000) is refused rather than run for days.
constexpr std::size_t max_layers = 8, max_d_model = 256, max_steps = 100000;
constexpr std::uint64_t max_seed = 1'000'000'000;

void check_options(const mha::TrainingOptions& o) {
    if (o.layers > max_layers) {
        fail("--layers", std::to_string(o.layers) + " is more than " + std::to_string(max_layers) +
                             "; the tasks need 1 or 2");
    }
    if (o.d_model > max_d_model) {
        fail("--d-model", std::to_string(o.d_model) + " is more than " + std::to_string(max_d_model));
    }
    if (o.heads > o.d_model || o.d_model % o.heads != 0) {
        fail("--heads", "H = " + std::to_string(o.heads) + " does not divide d_model = " + std::to_string(o.d_model) +
                            "; every head gets d_model / H columns");
    }
    if (o.steps > max_steps) {
        fail("--steps", std::to_string(o.steps) + " is more than " + std::to_string(max_steps));
    }
    if (o.seed > max_seed) {
        fail("--seed", std::to_string(o.seed) + " is more than " + std::to_string(max_seed));
    }
}

// Lesson 7: G key/value heads must split the H query heads into equal groups.
void check_num_kv_heads(std::size_t num_kv_heads, std::size_t heads) {
    if (num_kv_heads > heads) {
        fail("--num-kv-heads", "G = " + std::to_string(num_kv_heads) + " is more than H = " + std::to_string(heads) +
                                   " (--heads); every key/value head serves one query head or more");
    }
    if (heads % num_kv_heads != 0) {
        fail("--num-kv-heads", "G = " + std::to_string(num_kv_heads) + " does not divide H = " +
                                   std::to_string(heads) + " (--heads); every key/value head serves H / G query heads");
    }
}

// A progress bar on stderr, redrawn in place on a terminal; in a log, a line every tenth of the way.
class ProgressBar {
public:
    explicit ProgressBar(std::size_t steps) : steps_(steps), terminal_(isatty(STDERR_FILENO) != 0) {}

    void update(std::size_t step, double loss) {
        const std::size_t tenth = std::max<std::size_t>(1, steps_ / 10);
        if (terminal_ ? (step % std::max<std::size_t>(1, steps_ / 100) != 0 && step != steps_)
                      : (step % tenth != 0 && step != steps_)) {
            return;
        }
        const std::size_t filled = 30 * step / steps_;
        char line[160];
        std::snprintf(line, sizeof line, "[%s%s] step %zu/%zu  loss %.4f", std::string(filled, '#').c_str(),
                      std::string(30 - filled, '.').c_str(), step, steps_, loss);
        std::cerr << (terminal_ ? "\r" : "") << line << (terminal_ && step != steps_ ? "" : "\n") << std::flush;
    }

private:
    std::size_t steps_;
    bool terminal_;
};

// The sequences the heatmaps show: one held-out induction sequence, or the course's two sentences.
std::vector<std::vector<std::size_t>> example_sequences(mha::Task task, std::vector<std::string>& names) {
    if (task == mha::Task::induction) {
        for (const mha::InductionSequence& sequence : mha::held_out_data(task).induction) {
            if (sequence.segment_length >= 6) {  // a long repeat reads best
                names = {""};
                return {sequence.tokens};
            }
        }
    }
    names = {"tired", "wide"};
    return {mha::coreference_tokens("the animal didn't cross the street because it was too tired"),
            mha::coreference_tokens("the animal didn't cross the street because it was too wide")};
}

std::vector<std::string> labels(mha::Task task, const std::vector<std::size_t>& tokens) {
    std::vector<std::string> text;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
        text.push_back(task == mha::Task::induction ? std::to_string(tokens[i])
                                                    : mha::coreference_vocabulary()[tokens[i]]);
    }
    return text;
}

// Every head of every layer on the example sequences: one row of panels per (sequence, layer).
std::string heads_figure(const mha::AttentionOnlyTransformer& model, mha::Task task, const std::string& when) {
    std::vector<std::string> names;
    std::vector<std::string> panels;
    for (const auto& tokens : example_sequences(task, names)) {
        const std::string name = names[panels.size() / (model.layers.size() * model.num_heads())];
        const std::vector<std::vector<mha::Matrix>> maps = mha::attention_maps(model, tokens);
        for (std::size_t l = 0; l < maps.size(); ++l) {
            for (std::size_t h = 0; h < maps[l].size(); ++h) {
                const std::string title = (name.empty() ? "" : "\"" + name + "\" · ") + when + " · layer " +
                                          std::to_string(l) + ", head " + std::to_string(h);
                panels.push_back(mha::svg_heatmap(maps[l][h], labels(task, tokens), labels(task, tokens), title));
            }
        }
    }
    return mha::svg_side_by_side(panels, model.num_heads());
}

// Training must not have diverged: every parameter finite, or nothing is written.
void check_finite_model(const mha::AttentionOnlyTransformer& model, double final_loss) {
    const auto finite = [](const auto& values) {
        return std::all_of(values.begin(), values.end(), [](double x) { return std::isfinite(x); });
    };
    bool ok = std::isfinite(final_loss) && finite(model.token_embedding.table) &&
              finite(model.position_embedding.table) && finite(model.readout.weight);
    for (const mha::MultiHeadAttention& layer : model.layers) {
        for (const mha::Linear* projection : {&layer.query_projection, &layer.key_projection, &layer.value_projection,
                                              &layer.output_projection}) {
            ok = ok && finite(projection->weight) && finite(projection->bias);
        }
    }
    if (!ok) {
        fail("mha train", "training diverged: the final loss is " + std::to_string(final_loss) +
                              " and the weights hold NaN or infinity; nothing was written");
    }
}

}  // namespace

CLI::App& add_train_command(CLI::App& program, TrainOptions& options) {
    CLI::App& train = *program.add_subcommand("train", "trains lesson 6's tiny transformer on a task");
    add_help_flag(train);
    add_value_option(train, "--task", "TASK", [&options](const std::string& text) {
        if (text == "induction") {
            options.training.task = mha::Task::induction;
        } else if (text == "coreference") {
            options.training.task = mha::Task::coreference;
        } else {
            fail("--task", "'" + text + "' is not a task; give induction or coreference");
        }
    })->required();
    options.training.layers = options.training.heads = options.training.d_model = options.training.steps = 0;
    add_whole_number_option(train, "--layers", "N", options.training.layers);
    add_whole_number_option(train, "--heads", "H", options.training.heads);
    add_whole_number_option(train, "--num-kv-heads", "G", options.num_kv_heads);
    add_whole_number_option(train, "--d-model", "D", options.training.d_model);
    add_whole_number_option(train, "--steps", "S", options.training.steps);
    add_value_option(train, "--seed", "X", [&options](const std::string& text) {
        options.training.seed = parse_whole_number("--seed", text);
    });
    add_path_option(train, "--out", "DIR", options.out)->required();
    return train;
}

void run_train(const TrainOptions& options) {
    // The sizes not given come from the task's defaults.
    mha::TrainingOptions o = mha::default_options(options.training.task);
    o.seed = options.training.seed;
    for (auto [given, value] : {std::pair{options.training.layers, &o.layers}, {options.training.heads, &o.heads},
                                {options.training.d_model, &o.d_model}, {options.training.steps, &o.steps}}) {
        *value = given != 0 ? given : *value;
    }
    check_options(o);
    // Lesson 7: G < H key/value heads are trained as tied rows of W_k and W_v (decode/tied_key_value_heads.hpp).
    const std::size_t num_kv_heads = options.num_kv_heads != 0 ? options.num_kv_heads : o.heads;
    check_num_kv_heads(num_kv_heads, o.heads);
    if (num_kv_heads != o.heads) {
        mha::train_with_key_value_groups(o, num_kv_heads);
    }
    // The folder first, so that a wrong path costs no training; the files all at the end,
    // all or nothing (a folder created here is removed again if the run fails).
    mha::OutputFiles outputs;
    try {
        outputs.create_folder(options.out);
    } catch (const std::runtime_error& error) {
        fail("--out", std::string(error.what()) + "; --out needs a folder, created if missing");
    }
    if (::access(options.out.c_str(), W_OK | X_OK) != 0) {
        fail("--out", options.out + ": permission denied; the files cannot be written there");
    }
    const std::size_t steps = o.steps;

    ProgressBar bar(steps);
    const mha::TrainingResult result = mha::train(o, [&bar](std::size_t step, double loss) { bar.update(step, loss); });
    const mha::HeldOutData held_out = mha::held_out_data(o.task);
    const mha::Evaluation evaluation = mha::evaluate(result.model, o.task, held_out);

    check_finite_model(result.model, result.losses.back());

    // The files: the weights, the heads before and after, the loss curve; written into a
    // temporary folder inside --out, then moved into place together.
    std::string staging;
    try {
        staging = outputs.add_folder(options.out);
        mha::save_transformer(result.model, staging + "/weights", num_kv_heads);
        mha::write_file(staging + "/heads_before.svg", heads_figure(result.initial_model, o.task, "before"));
        mha::write_file(staging + "/heads_after.svg", heads_figure(result.model, o.task, "after"));
        mha::write_file(staging + "/loss.svg",
                        mha::svg_line_chart({{"training loss", result.losses, "#1f5fa8"}},
                                            mha::task_name(o.task) + ": loss per step", "step", "loss", true));
        outputs.commit();
    } catch (const std::runtime_error& error) {
        std::string what = error.what();  // in the temporary folder's words: say where the file was going
        for (std::size_t at = staging.empty() ? std::string::npos : what.find(staging); at != std::string::npos;
             at = what.find(staging, at)) {
            what.replace(at, staging.size(), options.out);
        }
        fail("--out", what + "; nothing was written");
    }

    nlohmann::ordered_json json;
    json["task"] = mha::task_name(o.task);
    json["layers"] = o.layers;
    json["heads"] = o.heads;
    json["num_kv_heads"] = num_kv_heads;
    json["d_model"] = o.d_model;
    json["vocabulary_size"] = result.model.vocabulary_size();
    json["sequence_length"] = result.model.max_length();
    json["batch"] = o.batch;
    json["steps"] = steps;
    json["seed"] = o.seed;
    json["seconds"] = result.seconds;
    json["milliseconds_per_step"] = result.milliseconds_per_step;
    json["final_loss"] = result.losses.back();
    json["test_loss"] = evaluation.loss;
    json["test_accuracy"] = evaluation.accuracy;
    nlohmann::ordered_json heads = nlohmann::ordered_json::array();
    for (std::size_t l = 0; l < o.layers; ++l) {
        for (std::size_t h = 0; h < o.heads; ++h) {
            nlohmann::ordered_json head;
            head["layer"] = l;
            head["head"] = h;
            const mha::HeadScores& scores = evaluation.scores;
            if (o.task == mha::Task::induction) {
                head["previous_token_score"] = scores.previous_token[l][h];
                head["induction_score"] = scores.induction[l][h];
            } else {
                head["weight_on_referent"] = scores.weight_on_referent[l][h];
                head["weight_on_other_noun"] = scores.weight_on_other_noun[l][h];
            }
            // The ablation: the held-out accuracy with this head silenced (Michel et al. 2019).
            head["accuracy_without_head"] =
                mha::evaluate(mha::without_head(result.model, l, h), o.task, held_out).accuracy;
            heads.push_back(head);
        }
    }
    json["heads_scores"] = heads;
    json["out"] = options.out;
    std::cout << json.dump() << "\n";  // flushed, and checked, by main.cpp
}

}  // namespace mha::cli
