// Lesson 2: a word tokenizer and a vocabulary.
#include "reference/tokenizer.hpp"

#include <cctype>
#include <stdexcept>

namespace mha {

std::vector<std::string> tokenize(const std::string& text) {
    std::vector<std::string> tokens;
    std::string current;
    // ASCII letters and digits only: std::isalnum alone may accept bytes above 127 in some locales.
    const auto is_word_byte = [](unsigned char c) { return c < 128 && std::isalnum(c); };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        const bool in_word = is_word_byte(c);
        // An apostrophe between two word characters belongs to the word: didn't, it's.
        const bool inner_apostrophe = c == '\'' && !current.empty() && i + 1 < text.size() &&
                                      is_word_byte(static_cast<unsigned char>(text[i + 1]));
        if (in_word || inner_apostrophe) {
            current += static_cast<char>(std::tolower(c));
        } else if (!current.empty()) {
            tokens.push_back(current);
            current.clear();
        }
    }
    if (!current.empty()) {
        tokens.push_back(current);
    }
    return tokens;
}

Vocabulary::Vocabulary(const std::vector<std::string>& sentences) : tokens_{"<unk>"} {
    ids_.emplace("<unk>", unknown_id);
    for (const auto& sentence : sentences) {
        for (const auto& token : tokenize(sentence)) {
            if (ids_.emplace(token, tokens_.size()).second) {  // true when the token is new
                tokens_.push_back(token);
            }
        }
    }
}

std::size_t Vocabulary::id(const std::string& token) const {
    const auto found = ids_.find(token);
    return found == ids_.end() ? unknown_id : found->second;
}

const std::string& Vocabulary::token(std::size_t id) const {
    if (id >= tokens_.size()) {
        throw std::out_of_range("Vocabulary::token: id " + std::to_string(id) + " is not below the vocabulary size " +
                                std::to_string(tokens_.size()));
    }
    return tokens_[id];
}

std::vector<std::size_t> Vocabulary::encode(const std::string& text) const {
    std::vector<std::size_t> ids;
    for (const auto& token : tokenize(text)) {
        ids.push_back(id(token));
    }
    return ids;
}

}  // namespace mha
