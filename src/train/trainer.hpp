// Lesson 6 introduces this header: the training loop, and the numbers that
// say what each trained head does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "train/attention_only_transformer.hpp"
#include "train/training_tasks.hpp"

/// @file
/// @brief Training the tiny transformer on a task, and scoring its heads (introduced in @ref lesson06).

namespace mha {

/// The two tasks of lesson 6.
enum class Task { induction, coreference };

/// The task's name as the command line spells it: "induction" or "coreference".
/// @see @ref lesson06
std::string task_name(Task task);

/// How to train.
struct TrainingOptions {
    /// The task.
    Task task = Task::induction;
    /// The attention layers.
    std::size_t layers = 2;
    /// H, the heads per layer; must divide d_model.
    std::size_t heads = 2;
    /// The width of the residual stream.
    std::size_t d_model = 16;
    /// Adam steps; 0 means the task's default (default_steps()).
    std::size_t steps = 0;
    /// B, the sequences per step.
    std::size_t batch = 32;
    /// Adam's step size at the first step; it falls to 0 along half a cosine by the last.
    double learning_rate = 1e-2;
    /// Seeds the initial weights and the training batches; the held-out data never depends on it.
    std::uint64_t seed = 1;
    /// Optional, for a later lesson's constraint on the parameters (lesson 7 ties key/value heads):
    /// called once on the fresh model, before the first step. Not set: lesson 6's training, bit for bit.
    std::function<void(AttentionOnlyTransformer& model)> constrain_initial_model;
    /// Optional, with constrain_initial_model: called after every backward pass on a copy of the
    /// gradients, which Adam then uses, so that the constraint holds after every step.
    std::function<void(AttentionOnlyTransformer& gradients)> constrain_gradients;
};

/// The steps a task trains for when TrainingOptions::steps is 0: 2000 for either task.
/// @see @ref lesson06
std::size_t default_steps(Task task);

/// The settings lesson 6 trains each task with, found by trying seeds 1 to 10
/// (the lesson gives the numbers): 2 layers of 2 heads; d_model 24 for induction,
/// 16 for coreference; default_steps().
/// @param task the task.
/// @return the options, seed 1.
/// @see @ref lesson06
TrainingOptions default_options(Task task);

/// What each head does, measured on held-out data, [layer][head].
struct HeadScores {
    /// Induction: the mean weight from position i to i − 1 inside the first copy.
    std::vector<std::vector<double>> previous_token;
    /// Induction: the mean weight from a position of the second copy to the position
    /// just after the same token's earlier occurrence.
    std::vector<std::vector<double>> induction;
    /// Coreference: the mean weight from "it" to the noun it refers to.
    std::vector<std::vector<double>> weight_on_referent;
    /// Coreference: the mean weight from "it" to the other noun.
    std::vector<std::vector<double>> weight_on_other_noun;
};

/// How a model does on the task's held-out data.
struct Evaluation {
    /// The share of counted positions where the highest logit is the target.
    double accuracy = 0.0;
    /// The mean cross-entropy over them.
    double loss = 0.0;
    /// Every head's scores (those of the task; the others stay empty).
    HeadScores scores;
};

/// The held-out data of a task: 512 induction sequences drawn with seed
/// 20261201, or the held-out coreference sentences; the same for every
/// training seed, so that models are compared on the same questions.
/// @param task the task.
/// @return the batch, with the sequences it was made from (`induction`) or the sentences (`coreference`).
/// @see @ref lesson06
struct HeldOutData {
    /// The batch to evaluate on.
    TaskBatch batch;
    /// Induction: the sequences of the batch.
    std::vector<InductionSequence> induction;
    /// Coreference: the sentences of the batch.
    std::vector<CoreferenceSentence> coreference;
};

/// See HeldOutData.
/// @param task the task.
/// @return its held-out data.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson06
HeldOutData held_out_data(Task task);

/// Evaluates a model on held-out data: accuracy, loss and head scores.
/// @param model a model for the task.
/// @param task the task.
/// @param data held_out_data(task).
/// @return the evaluation.
/// @throws std::invalid_argument if the model does not fit the task's vocabulary or length.
/// @see @ref lesson06
Evaluation evaluate(const AttentionOnlyTransformer& model, Task task, const HeldOutData& data);

/// Every head's attention weights on one sequence: [layer][head], (L, L) each.
///
/// @param model the model.
/// @param tokens the L token ids.
/// @return the weights.
/// @throws std::invalid_argument if the sequence is empty, too long, or has an id not below V.
/// @see @ref lesson06
std::vector<std::vector<Matrix>> attention_maps(const AttentionOnlyTransformer& model,
                                                const std::vector<std::size_t>& tokens);

/// What a training run gives back.
struct TrainingResult {
    /// The model before the first step.
    AttentionOnlyTransformer initial_model;
    /// The trained model.
    AttentionOnlyTransformer model;
    /// The training loss of every step.
    std::vector<double> losses;
    /// The median time of one step (forward, backward and Adam), in milliseconds.
    double milliseconds_per_step = 0.0;
    /// The whole training loop's time, in seconds.
    double seconds = 0.0;
};

/// Trains a fresh model (random_attention_only_transformer, seeded by options.seed) with Adam,
/// the step size falling from options.learning_rate to 0 along half a cosine. If set,
/// options.constrain_initial_model changes the fresh model and options.constrain_gradients
/// every step's gradients (neither draws random numbers, so the batches stay those of the seed).
///
/// Deterministic: the same options give the same numbers, bit for bit, on
/// every run on the same machine and build.
///
/// @param options the task, the model's sizes, the steps, the seed.
/// @param progress if set, called after every step with the step's number (from 1) and its loss.
/// @return the initial and the trained model, the losses and the time per step.
/// @throws std::invalid_argument if a size is 0, H does not divide d_model, or the batch is 0.
/// @see @ref lesson06
TrainingResult train(const TrainingOptions& options,
                     const std::function<void(std::size_t step, double loss)>& progress = {});

}  // namespace mha
