// Lesson 2 introduces this header: splitting a sentence into word tokens and
// numbering them, the first step from text to vectors.
#pragma once

#include <cstddef>
#include <string>
#include <unordered_map>
#include <vector>

/// @file
/// @brief A tiny word tokenizer and vocabulary (introduced in @ref lesson02).

namespace mha {

/// Splits text into lower-case word tokens. Letters, digits and apostrophes
/// inside a word stay together ("didn't" is one token); every other character
/// separates tokens and is dropped, so punctuation disappears.
///
/// Real models use subword tokenizers (BPE, WordPiece); whole words are enough
/// to show what attention does with them.
///
/// @param text any ASCII text; bytes outside ASCII are treated as separators.
/// @return the tokens in order; empty for text without words.
/// @throws nothing.
/// @see @ref lesson02
std::vector<std::string> tokenize(const std::string& text);

/// Numbers every distinct token: the id of a token is its row in the embedding table.
///
/// Id 0 is reserved for `<unk>`, the token that stands for every word the
/// vocabulary has not seen; the others are numbered in order of first appearance.
class Vocabulary {
public:
    /// The id of the unknown-word token `<unk>`.
    static constexpr std::size_t unknown_id = 0;

    /// Builds the vocabulary of all the tokens in `sentences`.
    /// @param sentences texts, tokenized with mha::tokenize.
    explicit Vocabulary(const std::vector<std::string>& sentences);

    /// The number of ids, `<unk>` included.
    std::size_t size() const { return tokens_.size(); }

    /// The id of a token, or #unknown_id if the vocabulary does not know it.
    std::size_t id(const std::string& token) const;

    /// The token with the given id.
    /// @throws std::out_of_range if `id >= size()`.
    const std::string& token(std::size_t id) const;

    /// Tokenizes a text and returns the ids of its tokens, shape (L).
    /// @see @ref lesson02
    std::vector<std::size_t> encode(const std::string& text) const;

private:
    std::vector<std::string> tokens_;                     // id -> token
    std::unordered_map<std::string, std::size_t> ids_;   // token -> id
};

}  // namespace mha
