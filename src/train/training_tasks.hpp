// Lesson 6 introduces this header: the two tiny tasks the course trains,
// chosen because solving them needs heads that do recognisable jobs.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/random.hpp"
#include "train/attention_only_transformer.hpp"

/// @file
/// @brief The induction task and the "what does it refer to" task (introduced in @ref lesson06).

namespace mha {

/// What a model is trained on: B sequences, the id each position should
/// predict, and which positions count in the loss and the accuracy.
struct TaskBatch {
    /// B rows of L token ids.
    TokenBatch tokens;
    /// B rows of L ids: what each position should predict (meaningful where counted).
    std::vector<std::vector<std::size_t>> targets;
    /// B rows of L flags: the positions that count.
    std::vector<std::vector<bool>> counted;
};

// ---------------------------------------------------------------------------
// Task A: induction heads (Olsson et al. 2022)

/// One sequence of the induction task: noise, a segment, the segment again.
///
///     position:  0 … first_copy−1 | first_copy … +k−1 | second_copy … +k−1
///     tokens:    random noise     | k distinct tokens | the same k tokens
///
/// The segment's tokens do not occur in the noise, so once the second copy
/// has begun, "find where this token was before and say what came next"
/// predicts every following token; nothing else does.
struct InductionSequence {
    /// The L token ids.
    std::vector<std::size_t> tokens;
    /// Where the first copy of the segment starts.
    std::size_t first_copy = 0;
    /// k, the segment's length.
    std::size_t segment_length = 0;
    /// Where the second copy starts: first_copy + k.
    std::size_t second_copy() const { return first_copy + segment_length; }
};

/// Draws one induction sequence: k uniform in [min_segment, max_segment], the
/// segment at the end (so where it starts varies with k), the noise drawn
/// from the other ids.
///
/// @param random the generator.
/// @param length L.
/// @param vocabulary V; at least max_segment + 1.
/// @param min_segment the shortest segment (at least 2).
/// @param max_segment the longest; 2 · max_segment ≤ L.
/// @return the sequence.
/// @throws std::invalid_argument if the sizes do not allow such a sequence.
/// @see @ref lesson06
InductionSequence random_induction_sequence(RandomGenerator& random, std::size_t length = 16,
                                            std::size_t vocabulary = 16, std::size_t min_segment = 4,
                                            std::size_t max_segment = 8);

/// Next-token prediction on induction sequences, counted only where the next
/// token is predictable: from the first token of the second copy to the
/// one before its last, each predicting its successor.
///
/// @param sequences B sequences of the same length.
/// @return the batch.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson06
TaskBatch induction_batch(const std::vector<InductionSequence>& sequences);

// ---------------------------------------------------------------------------
// Task B: "what does it refer to"

/// One sentence of the coreference task, 11 tokens:
///
///     the animal didn't cross the street because it was too tired     → animal
///     the animal didn't cross the street because it was too wide      → street
///     the dog couldn't catch the cat because it was too slow          → dog
///     the dog couldn't catch the cat because it was too fast          → cat
///
/// The model reads the whole sentence (attention is not causal) and, at the
/// position of "it", must output the noun "it" refers to. The adjective
/// decides, and it comes after "it": the information has to travel.
struct CoreferenceSentence {
    /// The 11 token ids.
    std::vector<std::size_t> tokens;
    /// The position of "it" (7).
    std::size_t pronoun = 7;
    /// The position of the noun "it" refers to (1 or 5).
    std::size_t referent = 1;
    /// The position of the other noun.
    std::size_t other_noun = 5;
};

/// The words of the coreference task; a word's index is its token id.
/// @see @ref lesson06
const std::vector<std::string>& coreference_vocabulary();

/// The token ids of a sentence of the coreference task's words.
/// @param sentence words separated by single spaces.
/// @return the ids.
/// @throws std::invalid_argument naming a word that is not in coreference_vocabulary().
/// @see @ref lesson06
std::vector<std::size_t> coreference_tokens(const std::string& sentence);

/// Every sentence of the task (2976), split once and for all (the same split
/// for every training seed) into 80 % to train on and 20 % held out. The
/// course's two sentences ("the animal didn't cross the street because it was
/// too tired / wide") are always held out.
struct CoreferenceSplit {
    /// The sentences to train on.
    std::vector<CoreferenceSentence> train;
    /// The held-out sentences.
    std::vector<CoreferenceSentence> test;
};

/// The split described at CoreferenceSplit.
/// @return the split.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson06
CoreferenceSplit coreference_split();

/// Classification at the position of "it": the target is the referent's token id; nothing else counts.
/// @param sentences B sentences.
/// @return the batch.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson06
TaskBatch coreference_batch(const std::vector<CoreferenceSentence>& sentences);

}  // namespace mha
