// `mha generate` (lesson 7): a model trained by `mha train`, a prompt of token
// ids, and greedy decoding with one KV cache per layer, each token printed as
// soon as it is chosen.
//
// The file reads from top to bottom, as the command runs:
//   1. the options
//   2. loading and checking  (the model, then the prompt against it)
//   3. generating            (mha::generate_greedy, printing as it goes)
//   4. the last step's attention, one row per head
#include "cli/generate_command.hpp"

#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli/command_line.hpp"
#include "decode/transformer_decoder.hpp"
#include "io/model_files.hpp"

namespace mha::cli {

namespace fs = std::filesystem;

// ============================================================================
// 1. The options
// ============================================================================

CLI::App& add_generate_command(CLI::App& program, GenerateOptions& options) {
    CLI::App& generate = *program.add_subcommand("generate", "lesson 7's greedy decoding of a trained model");
    add_help_flag(generate);
    add_path_option(generate, "--model", "DIR", options.model_dir)->required();
    add_value_option(generate, "--prompt", "IDS", [&options](const std::string& text) { options.prompt = text; })
        ->required();
    add_whole_number_option(generate, "--max-new-tokens", "N", options.max_new_tokens);
    return generate;
}

namespace {

// ============================================================================
// 2. Loading and checking
// ============================================================================

// The folder `mha train --out DIR` wrote holds the weights in DIR/weights; either may be given.
mha::AttentionOnlyTransformer load_model(const std::string& folder) {
    std::error_code error;
    if (!fs::is_directory(folder, error)) {
        fail(folder, fs::exists(folder, error) ? "is not a folder; --model needs the folder `mha train --out` wrote"
                                               : "no such folder (--model)");
    }
    const std::string weights = fs::exists(fs::path(folder) / "weights" / "model.json", error)
                                    ? (fs::path(folder) / "weights").string()
                                    : folder;
    mha::AttentionOnlyTransformer model = mha::load_transformer(weights);  // its errors name the file
    if (!model.causal) {
        fail(folder, "holds a model that is not causal (lesson 6's coreference task reads the whole sentence); "
                     "generating one token at a time needs a causal model, such as `mha train --task induction`'s");
    }
    return model;
}

// "3 9 1", "3,9,1" or "3, 9, 1": ids below V.
std::vector<std::size_t> parse_prompt(const std::string& text, const mha::AttentionOnlyTransformer& model) {
    std::string spaced = text;
    for (char& c : spaced) {
        c = c == ',' ? ' ' : c;
    }
    std::istringstream words(spaced);
    std::vector<std::size_t> ids;
    for (std::string word; words >> word;) {
        const bool digits = word.find_first_not_of("0123456789") == std::string::npos && word.size() <= 9;
        if (!digits || std::stoul(word) >= model.vocabulary_size()) {
            fail("--prompt", "'" + word + "' is not a token id of the model: ids are whole numbers from 0 to " +
                                 std::to_string(model.vocabulary_size() - 1));
        }
        ids.push_back(std::stoul(word));
    }
    if (ids.empty()) {
        fail("--prompt", "holds no token id; give ids separated by spaces or commas, such as \"3 9 1 12\"");
    }
    return ids;
}

void check_lengths(const std::vector<std::size_t>& prompt, std::size_t new_tokens, std::size_t max_length) {
    if (prompt.size() > max_length) {
        fail("--prompt", "has " + std::to_string(prompt.size()) + " tokens but the model's position embedding covers " +
                             std::to_string(max_length) + " positions");
    }
    if (prompt.size() + new_tokens - 1 > max_length) {
        fail("--max-new-tokens", std::to_string(new_tokens) + " new tokens do not fit: after a prompt of " +
                                     std::to_string(prompt.size()) + " tokens, at most " +
                                     std::to_string(max_length - prompt.size() + 1) + " more fit in the " +
                                     std::to_string(max_length) + " positions of the model");
    }
}

// ============================================================================
// 4. The last step's attention
// ============================================================================

// One row per layer and head: its weight on every position, the query being the last position fed.
void print_attention(const mha::Generation& generation) {
    const std::size_t length = generation.last_weights.front().front().size();
    std::cout << "attention of the last step (the query at position " << length - 1 << "), one row per head:\n";
    std::cout << "  position         ";
    for (std::size_t j = 0; j < length; ++j) {
        std::cout << std::setw(5) << j;
    }
    std::cout << "\n" << std::fixed << std::setprecision(2);
    for (std::size_t l = 0; l < generation.last_weights.size(); ++l) {
        for (std::size_t h = 0; h < generation.last_weights[l].size(); ++h) {
            std::cout << "  layer " << l << ", head " << h << "  ";
            for (std::size_t j = 0; j < length; ++j) {
                std::cout << std::setw(5) << generation.last_weights[l][h](j);
            }
            std::cout << "\n";
        }
    }
}

}  // namespace

void run_generate(const GenerateOptions& options) {
    const mha::AttentionOnlyTransformer model = load_model(options.model_dir);  // 2
    const std::vector<std::size_t> prompt = parse_prompt(options.prompt, model);
    check_lengths(prompt, options.max_new_tokens, model.max_length());

    std::cout << "prompt:";  // 3
    for (const std::size_t token : prompt) {
        std::cout << " " << token;
    }
    std::cout << "\ngenerated:" << std::flush;
    const mha::Generation generation = mha::generate_greedy(model, prompt, options.max_new_tokens,
                                                            [](std::size_t token) { std::cout << " " << token << std::flush; });
    std::cout << "\n";
    print_attention(generation);  // 4
}

}  // namespace mha::cli
