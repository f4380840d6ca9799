// Lesson 6: the two tasks the course trains.
#include "train/training_tasks.hpp"

#include <algorithm>
#include <sstream>
#include <stdexcept>

namespace mha {

namespace {

/// A number drawn uniformly from {0, 1, …, count − 1}.
std::size_t uniform_index(RandomGenerator& random, std::size_t count) {
    const auto index = static_cast<std::size_t>(random.uniform(0.0, static_cast<double>(count)));
    return std::min(index, count - 1);  // uniform(0, count) < count, but rounding could reach it
}

}  // namespace

InductionSequence random_induction_sequence(RandomGenerator& random, std::size_t length, std::size_t vocabulary,
                                            std::size_t min_segment, std::size_t max_segment) {
    if (min_segment < 2 || min_segment > max_segment || 2 * max_segment > length || vocabulary <= max_segment) {
        throw std::invalid_argument("random_induction_sequence: segments of " + std::to_string(min_segment) + " to " +
                                    std::to_string(max_segment) + " tokens need 2 ≤ min ≤ max, 2 · max ≤ length (" +
                                    std::to_string(length) + ") and max < vocabulary (" +
                                    std::to_string(vocabulary) + ")");
    }
    InductionSequence sequence;
    sequence.segment_length = min_segment + uniform_index(random, max_segment - min_segment + 1);
    sequence.first_copy = length - 2 * sequence.segment_length;

    // The segment: k distinct ids, the first k of a shuffled vocabulary.
    std::vector<std::size_t> ids(vocabulary);
    for (std::size_t t = 0; t < vocabulary; ++t) {
        ids[t] = t;
    }
    for (std::size_t t = vocabulary - 1; t > 0; --t) {  // Fisher-Yates
        std::swap(ids[t], ids[uniform_index(random, t + 1)]);
    }
    const std::size_t k = sequence.segment_length;
    for (std::size_t i = 0; i < sequence.first_copy; ++i) {  // noise: any id not in the segment
        sequence.tokens.push_back(ids[k + uniform_index(random, vocabulary - k)]);
    }
    for (std::size_t copy = 0; copy < 2; ++copy) {
        sequence.tokens.insert(sequence.tokens.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k));
    }
    return sequence;
}

TaskBatch induction_batch(const std::vector<InductionSequence>& sequences) {
    TaskBatch batch;
    for (const InductionSequence& sequence : sequences) {
        const std::size_t L = sequence.tokens.size();
        std::vector<std::size_t> targets(L, 0);
        std::vector<bool> counted(L, false);
        for (std::size_t i = 0; i + 1 < L; ++i) {
            targets[i] = sequence.tokens[i + 1];  // predict the next token
        }
        // Predictable: position i of the second copy predicts token i + 1, which the first copy shows.
        for (std::size_t i = sequence.second_copy(); i + 1 < sequence.second_copy() + sequence.segment_length; ++i) {
            counted[i] = true;
        }
        batch.tokens.push_back(sequence.tokens);
        batch.targets.push_back(targets);
        batch.counted.push_back(counted);
    }
    return batch;
}

namespace {

const std::vector<std::string> animals = {"animal", "dog",  "cat",  "horse", "fox",   "rabbit",
                                          "mouse",  "deer", "wolf", "goat",  "sheep", "bear"};
const std::vector<std::string> places = {"street", "river", "road",    "bridge", "field",
                                         "lake",   "canal", "highway", "stream", "valley"};
// Family 1: "the animal didn't cross the street" (or "the street didn't suit the animal"):
// these adjectives describe the animal, those the place.
const std::vector<std::string> animal_adjectives = {"tired", "scared", "sleepy", "weak"};
const std::vector<std::string> place_adjectives = {"wide", "busy", "icy", "steep"};
// Family 2: "the dog couldn't catch the cat": the chaser is slow, the chased is fast.
const std::vector<std::string> chaser_adjectives = {"slow", "lazy", "clumsy", "old"};
const std::vector<std::string> chased_adjectives = {"fast", "quick", "agile", "young"};

std::vector<std::string> build_vocabulary() {
    std::vector<std::string> words = {"the", "didn't", "cross", "suit", "couldn't", "catch", "because", "it", "was",
                                      "too"};
    for (const auto* list : {&animals, &places, &animal_adjectives, &place_adjectives, &chaser_adjectives,
                             &chased_adjectives}) {
        words.insert(words.end(), list->begin(), list->end());
    }
    return words;
}

CoreferenceSentence make_sentence(const std::string& first, const std::string& verb, const std::string& second,
                                  const std::string& adjective, bool first_is_referent) {
    CoreferenceSentence sentence;
    sentence.tokens = coreference_tokens("the " + first + " " + verb + " the " + second + " because it was too " +
                                         adjective);
    sentence.referent = first_is_referent ? 1 : 5;
    sentence.other_noun = first_is_referent ? 5 : 1;
    return sentence;
}

bool contains(const std::vector<std::string>& list, const std::string& word) {
    return std::find(list.begin(), list.end(), word) != list.end();
}

}  // namespace

const std::vector<std::string>& coreference_vocabulary() {
    static const std::vector<std::string> words = build_vocabulary();
    return words;
}

std::vector<std::size_t> coreference_tokens(const std::string& sentence) {
    const std::vector<std::string>& words = coreference_vocabulary();
    std::vector<std::size_t> ids;
    std::istringstream stream(sentence);
    std::string word;
    while (stream >> word) {
        const auto found = std::find(words.begin(), words.end(), word);
        if (found == words.end()) {
            throw std::invalid_argument("coreference_tokens: \"" + word + "\" is not a word of the task");
        }
        ids.push_back(static_cast<std::size_t>(found - words.begin()));
    }
    return ids;
}

CoreferenceSplit coreference_split() {
    std::vector<CoreferenceSentence> all;
    std::vector<bool> course_sentence;
    for (const std::string& animal : animals) {
        for (const std::string& place : places) {
            for (const auto* adjectives : {&animal_adjectives, &place_adjectives}) {
                for (const std::string& adjective : *adjectives) {
                    const bool about_animal = contains(animal_adjectives, adjective);
                    all.push_back(make_sentence(animal, "didn't cross", place, adjective, about_animal));
                    course_sentence.push_back(animal == "animal" && place == "street" &&
                                              (adjective == "tired" || adjective == "wide"));
                    all.push_back(make_sentence(place, "didn't suit", animal, adjective, !about_animal));
                    course_sentence.push_back(false);
                }
            }
        }
    }
    for (const std::string& chaser : animals) {
        for (const std::string& chased : animals) {
            if (chaser == chased) {
                continue;
            }
            for (const auto* adjectives : {&chaser_adjectives, &chased_adjectives}) {
                for (const std::string& adjective : *adjectives) {
                    all.push_back(make_sentence(chaser, "couldn't catch", chased, adjective,
                                                contains(chaser_adjectives, adjective)));
                    course_sentence.push_back(false);
                }
            }
        }
    }
    // A fixed shuffle (seed 2026, whatever the training seed), then the first 20 % are held out.
    std::vector<std::size_t> order(all.size());
    for (std::size_t i = 0; i < order.size(); ++i) {
        order[i] = i;
    }
    RandomGenerator random(2026);
    for (std::size_t i = order.size() - 1; i > 0; --i) {
        std::swap(order[i], order[uniform_index(random, i + 1)]);
    }
    CoreferenceSplit split;
    const std::size_t held_out = all.size() / 5;
    for (std::size_t n = 0; n < order.size(); ++n) {
        const std::size_t i = order[n];
        const bool test = course_sentence[i] || (n < held_out && split.test.size() < held_out);
        (test ? split.test : split.train).push_back(all[i]);
    }
    return split;
}

TaskBatch coreference_batch(const std::vector<CoreferenceSentence>& sentences) {
    TaskBatch batch;
    for (const CoreferenceSentence& sentence : sentences) {
        const std::size_t L = sentence.tokens.size();
        std::vector<std::size_t> targets(L, 0);
        std::vector<bool> counted(L, false);
        targets[sentence.pronoun] = sentence.tokens[sentence.referent];  // "it" → the noun it refers to
        counted[sentence.pronoun] = true;
        batch.tokens.push_back(sentence.tokens);
        batch.targets.push_back(targets);
        batch.counted.push_back(counted);
    }
    return batch;
}

}  // namespace mha
