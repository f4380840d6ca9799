// Lesson 1 introduces this header: the error an exercise stub throws until the
// learner writes the exercise (see docs/exercises.md).
#pragma once

#include <stdexcept>
#include <string>

/// @file
/// @brief The exception thrown by unfinished exercises (introduced in @ref lesson01).

namespace mha {

/// Thrown by the stub of an exercise the learner has not written yet.
///
/// The reference code never throws it: `./scripts/course start` replaces each
/// exercise of `src/` by a stub that does, so the workspace compiles and each
/// test that needs the missing piece fails with a message saying what to write.
class not_implemented : public std::logic_error {
public:
    /// @param exercise the exercise's id, such as `stable_softmax`.
    /// @param lesson the number of the lesson the exercise belongs to.
    /// @see @ref lesson01
    not_implemented(const std::string& exercise, int lesson)
        : std::logic_error("exercise '" + exercise + "' (lesson " + std::to_string(lesson) +
                           ") is not implemented yet: write it, then run ./scripts/course check " +
                           std::to_string(lesson) + " (stuck? ./scripts/course hint " + exercise + ")") {}
};

}  // namespace mha
