// Lesson 6: the training loop, and the numbers that say what each head does.
#include "train/trainer.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "train/adam.hpp"
#include "train/cross_entropy.hpp"
#include "train/training_step.hpp"

namespace mha {

namespace {

constexpr std::size_t induction_length = 16, induction_vocabulary = 16;
constexpr std::size_t coreference_length = 11;

std::size_t task_length(Task task) { return task == Task::induction ? induction_length : coreference_length; }

std::size_t task_vocabulary(Task task) {
    return task == Task::induction ? induction_vocabulary : coreference_vocabulary().size();
}

/// A layers × heads table of zeros, to add scores into.
std::vector<std::vector<double>> table(std::size_t layers, std::size_t heads) {
    return std::vector<std::vector<double>>(layers, std::vector<double>(heads, 0.0));
}

/// A batch of B training examples of the task, drawn from `random`.
TaskBatch training_batch(Task task, std::size_t B, RandomGenerator& random, const CoreferenceSplit& split) {
    if (task == Task::induction) {
        std::vector<InductionSequence> sequences;
        for (std::size_t b = 0; b < B; ++b) {
            sequences.push_back(random_induction_sequence(random, induction_length, induction_vocabulary));
        }
        return induction_batch(sequences);
    }
    std::vector<CoreferenceSentence> sentences;
    for (std::size_t b = 0; b < B; ++b) {
        const auto index = static_cast<std::size_t>(random.uniform(0.0, static_cast<double>(split.train.size())));
        sentences.push_back(split.train[std::min(index, split.train.size() - 1)]);
    }
    return coreference_batch(sentences);
}

}  // namespace

std::string task_name(Task task) { return task == Task::induction ? "induction" : "coreference"; }

std::size_t default_steps(Task /*task*/) { return 2000; }  // the same for both tasks, for now

TrainingOptions default_options(Task task) {
    TrainingOptions options;
    options.task = task;
    options.layers = 2;
    // Chosen by training seeds 1 to 10 (lesson 6): at d_model 16 half the induction runs stay on
    // the loss plateau; at d_model 24 with 2 heads all ten find both heads of the circuit.
    options.heads = 2;
    options.d_model = task == Task::induction ? 24 : 16;
    options.steps = default_steps(task);
    return options;
}

HeldOutData held_out_data(Task task) {
    HeldOutData data;
    if (task == Task::induction) {
        RandomGenerator random(20261201);
        for (std::size_t n = 0; n < 512; ++n) {
            data.induction.push_back(random_induction_sequence(random, induction_length, induction_vocabulary));
        }
        data.batch = induction_batch(data.induction);
    } else {
        data.coreference = coreference_split().test;
        data.batch = coreference_batch(data.coreference);
    }
    return data;
}

Evaluation evaluate(const AttentionOnlyTransformer& model, Task task, const HeldOutData& data) {
    const TaskBatch& batch = data.batch;
    const std::size_t B = batch.tokens.size(), L = batch.tokens.front().size(), V = model.vocabulary_size();
    TrainingStep step(model, B, L);
    step.forward(model, batch.tokens);
    const Matrix& logits = step.logits();  // (B·L, V)

    // Accuracy and loss at the counted positions.
    Evaluation evaluation;
    std::vector<std::size_t> targets;
    std::vector<bool> counted;
    std::size_t right = 0, total = 0;
    for (std::size_t b = 0; b < B; ++b) {
        for (std::size_t i = 0; i < L; ++i) {
            targets.push_back(batch.targets[b][i]);
            counted.push_back(batch.counted[b][i]);
            if (!batch.counted[b][i]) {
                continue;
            }
            std::size_t best = 0;
            for (std::size_t v = 1; v < V; ++v) {
                if (logits(b * L + i, v) > logits(b * L + i, best)) {
                    best = v;
                }
            }
            right += best == batch.targets[b][i] ? 1 : 0;
            ++total;
        }
    }
    evaluation.accuracy = static_cast<double>(right) / static_cast<double>(total);
    evaluation.loss = cross_entropy(logits, targets, counted).loss;

    // The heads' scores: mean weights on the positions that a head doing the job would look at.
    const std::size_t layers = model.layers.size(), H = model.num_heads();
    HeadScores& scores = evaluation.scores;
    auto mean_weight = [&](auto&& pairs_of_sequence) {
        std::vector<std::vector<double>> means = table(layers, H);
        std::size_t count = 0;
        for (std::size_t b = 0; b < B; ++b) {
            for (const auto& [query, key] : pairs_of_sequence(b)) {
                for (std::size_t l = 0; l < layers; ++l) {
                    for (std::size_t h = 0; h < H; ++h) {
                        means[l][h] += step.weight(l, b, h, query, key);
                    }
                }
                ++count;
            }
        }
        for (auto& row : means) {
            for (double& mean : row) {
                mean /= static_cast<double>(count);
            }
        }
        return means;
    };
    using Pairs = std::vector<std::pair<std::size_t, std::size_t>>;
    if (task == Task::induction) {
        scores.previous_token = mean_weight([&](std::size_t b) {
            const InductionSequence& s = data.induction[b];
            Pairs pairs;  // i → i − 1, both inside the first copy
            for (std::size_t i = s.first_copy + 1; i < s.second_copy(); ++i) {
                pairs.push_back({i, i - 1});
            }
            return pairs;
        });
        scores.induction = mean_weight([&](std::size_t b) {
            const InductionSequence& s = data.induction[b];
            Pairs pairs;  // position j of the second copy → position j + 1 of the first
            for (std::size_t j = 0; j + 1 < s.segment_length; ++j) {
                pairs.push_back({s.second_copy() + j, s.first_copy + j + 1});
            }
            return pairs;
        });
    } else {
        scores.weight_on_referent = mean_weight([&](std::size_t b) {
            const CoreferenceSentence& s = data.coreference[b];
            return Pairs{{s.pronoun, s.referent}};
        });
        scores.weight_on_other_noun = mean_weight([&](std::size_t b) {
            const CoreferenceSentence& s = data.coreference[b];
            return Pairs{{s.pronoun, s.other_noun}};
        });
    }
    return evaluation;
}

std::vector<std::vector<Matrix>> attention_maps(const AttentionOnlyTransformer& model,
                                                const std::vector<std::size_t>& tokens) {
    const std::size_t L = tokens.size(), H = model.num_heads();
    TrainingStep step(model, 1, L);
    step.forward(model, {tokens});
    std::vector<std::vector<Matrix>> maps(model.layers.size());
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
        for (std::size_t h = 0; h < H; ++h) {
            Matrix weights = xt::zeros<double>({L, L});  // (L, L): query i's weight on key j
            for (std::size_t i = 0; i < L; ++i) {
                for (std::size_t j = 0; j < L; ++j) {
                    weights(i, j) = step.weight(l, 0, h, i, j);
                }
            }
            maps[l].push_back(weights);
        }
    }
    return maps;
}

TrainingResult train(const TrainingOptions& options, const std::function<void(std::size_t, double)>& progress) {
    if (options.batch == 0) {
        throw std::invalid_argument("train: the batch size is 0; it needs at least one sequence per step");
    }
    const Task task = options.task;
    const std::size_t L = task_length(task), steps = options.steps == 0 ? default_steps(task) : options.steps;
    constexpr double pi = 3.14159265358979323846;

    // The seed decides the initial weights, then the batches, from one generator.
    RandomGenerator random(options.seed);
    TrainingResult result;
    result.initial_model = random_attention_only_transformer(task_vocabulary(task), L, options.d_model,
                                                             options.layers, options.heads,
                                                             /*causal=*/task == Task::induction, random);
    if (options.constrain_initial_model) {
        options.constrain_initial_model(result.initial_model);
    }
    result.model = result.initial_model;
    const CoreferenceSplit split = task == Task::coreference ? coreference_split() : CoreferenceSplit{};

    AdamSettings settings;
    settings.learning_rate = options.learning_rate;
    Adam adam(settings);
    TrainingStep step(result.model, options.batch, L);
    AttentionOnlyTransformer constrained_gradients;  // the gradients after constrain_gradients, if it is set
    std::vector<double> milliseconds;
    const auto start = std::chrono::steady_clock::now();
    for (std::size_t s = 1; s <= steps; ++s) {
        const TaskBatch batch = training_batch(task, options.batch, random, split);
        const auto step_start = std::chrono::steady_clock::now();
        // The whole of training: forward, loss, backward, and a step against the gradient.
        // The step size falls from lr to 0 along half a cosine: big steps early to
        // find the solution, small ones at the end to settle into it.
        const double progress_so_far = static_cast<double>(s - 1) / static_cast<double>(steps);
        adam.set_learning_rate(options.learning_rate * 0.5 * (1.0 + std::cos(pi * progress_so_far)));
        const double loss = step.forward_backward(result.model, batch.tokens, batch.targets, batch.counted);
        if (options.constrain_gradients) {
            constrained_gradients = step.gradients();
            options.constrain_gradients(constrained_gradients);
            adam.step(result.model.parameters(), std::as_const(constrained_gradients).parameters());
        } else {
            adam.step(result.model.parameters(), step.gradients().parameters());
        }
        milliseconds.push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - step_start).count());
        result.losses.push_back(loss);
        if (progress) {
            progress(s, loss);
        }
    }
    result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::sort(milliseconds.begin(), milliseconds.end());
    result.milliseconds_per_step = milliseconds.empty() ? 0.0 : milliseconds[milliseconds.size() / 2];
    return result;
}

}  // namespace mha
