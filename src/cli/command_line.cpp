// The `mha` command's command line (lesson 4): options declared on CLI11, and
// CLI11's errors turned into the course's one line "mha: error: <subject>: <what>".
//
// CLI11 reads the command line in three steps, and each step finds its own
// kind of problem:
//   1. from left to right, each option takes its value: an option at the very
//      end has none (CLI11 throws ArgumentMismatch);
//   2. each option given hands its value over, through the checks below
//      (add_value_option), and a second value is refused (ArgumentMismatch);
//   3. the required options must all be there (RequiredError), and nothing may
//      be left over: no unknown option, no stray word (ExtrasError).
// parse_command_line catches each and says, in the course's words, which option
// or word is at fault.
#include "cli/command_line.hpp"

#include <algorithm>
#include <utility>

namespace mha::cli {

InputError::InputError(const std::string& subject, const std::string& what)
    : std::runtime_error(subject + ": " + what) {}

void fail(const std::string& subject, const std::string& what) { throw InputError(subject, what); }

std::size_t parse_whole_number(const std::string& option, const std::string& text) {
    const std::string problem = "'" + text + "' is not a whole number >= 1";
    if (text.empty() || !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        fail(option, problem);
    }
    std::size_t value = 0;
    for (const char digit : text) {
        const auto d = static_cast<std::size_t>(digit - '0');
        if (value > (static_cast<std::size_t>(-1) - d) / 10) {
            fail(option, "'" + text + "' is too large");
        }
        value = value * 10 + d;
    }
    if (value == 0) {
        fail(option, problem);
    }
    return value;
}

namespace {

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

// "(see 'mha forward --help')": where a learner finds the options of this command.
std::string see_help(const CLI::App& command, const std::string& for_what = "") {
    const std::string name = command.get_parent() == nullptr ? "mha" : "mha " + command.get_name();
    return "(see '" + name + " --help'" + for_what + ")";
}

// The subcommand named on the command line; nullptr when there is none.
const CLI::App* named_subcommand(const CLI::App& program) {
    const std::vector<CLI::App*> named = program.get_subcommands();  // the parsed ones
    return named.empty() ? nullptr : named.front();
}

// "bench, forward": the subcommands a learner may name (`mha help` is hidden).
std::string subcommand_names(const CLI::App& program) {
    std::vector<std::string> names;
    const auto listed = [](const CLI::App* subcommand) { return !subcommand->get_group().empty(); };
    for (const CLI::App* subcommand : program.get_subcommands(listed)) {
        names.push_back(subcommand->get_name());
    }
    std::sort(names.begin(), names.end());
    std::string text;
    for (const std::string& name : names) {
        text += (text.empty() ? "" : ", ") + name;
    }
    return text;
}

// Step 3: a word CLI11 could not place. Before the subcommand it is a wrong
// subcommand (or an option `mha` alone does not have); after it, an option the
// subcommand does not have, or a word that belongs to no option.
void fail_on_leftover_word(const CLI::App& program) {
    for (const std::string& word : program.remaining()) {
        fail(word, std::string(starts_with(word, "-") ? "an option before the subcommand" : "unknown subcommand") +
                       "; the subcommands are: " + subcommand_names(program) + " " + see_help(program));
    }
    const CLI::App* command = named_subcommand(program);
    if (command == nullptr) {
        return;
    }
    for (const std::string& word : command->remaining()) {
        if (starts_with(word, "-")) {
            fail(word, "unknown option " + see_help(*command, " for the options"));
        }
        // The subcommand's first option with a value shows how values are given: "such as --seq-len L".
        std::string example;
        for (const CLI::Option* option : command->get_options()) {
            if (example.empty() && option->get_items_expected_max() > 0) {
                example = ", such as " + option->get_name() + " " + option->get_type_name();
            }
        }
        fail(word, "unexpected argument; every value is given with its option" + example + " " + see_help(*command));
    }
}

// Step 3: `--`, which tells CLI11 that only plain words follow. The course has no
// such words, so `--` is an unknown option, like any other.
void fail_on_end_of_options_mark(const CLI::App& program, const std::vector<std::string>& arguments) {
    if (std::find(arguments.begin(), arguments.end(), "--") != arguments.end()) {
        const CLI::App* command = named_subcommand(program);
        fail("--", "unknown option " + see_help(command == nullptr ? program : *command, " for the options"));
    }
}

// Step 2: an option given twice (or more).
void fail_on_repeated_option(const CLI::App& program) {
    const CLI::App* command = named_subcommand(program);
    for (const CLI::Option* option : command == nullptr ? std::vector<const CLI::Option*>{} : command->get_options()) {
        if (option->count() > 1) {
            fail(option->get_name(), "given twice");
        }
    }
}

// Step 3: a required option not given, the first in the order of the help.
void fail_on_missing_option(const CLI::App& program) {
    const CLI::App* command = named_subcommand(program);
    for (const CLI::Option* option : command == nullptr ? std::vector<const CLI::Option*>{} : command->get_options()) {
        if (option->get_required() && option->count() == 0) {
            fail(option->get_name(), "missing; this option is required " + see_help(*command));
        }
    }
}

// Step 1: CLI11 only runs out of values at the end of the command line, so
// the option without one is the last argument: `--out`, or `--out=`.
void fail_on_option_without_value(const CLI::App& program, const std::vector<std::string>& arguments) {
    const CLI::App* command = named_subcommand(program);
    if (command == nullptr || arguments.empty() || !starts_with(arguments.back(), "-")) {
        return;
    }
    const std::string& last = arguments.back();
    const std::size_t equals = last.find('=');
    if (equals != std::string::npos) {
        fail(last.substr(0, equals), "the value is empty");
    }
    fail(last, "needs a value " + see_help(*command));
}

}  // namespace

void add_help_flag(CLI::App& command) {
    command.set_help_flag();  // CLI11's own would wait until every option is checked
    command.add_flag_callback("-h,--help", [] { throw CLI::CallForHelp(); })->trigger_on_parse();
}

CLI::Option* add_value_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                              std::function<void(const std::string&)> use) {
    const std::string help = see_help(command);
    const auto checked_use = [name, help, use = std::move(use)](const std::string& value) {
        if (value.empty()) {
            fail(name, "the value is empty");
        }
        // `--query --causal`: CLI11 takes the next word whatever it is, the course refuses an option.
        if (starts_with(value, "--")) {
            fail(name, "needs a value " + help);
        }
        use(value);
    };
    return command.add_option_function<std::string>(name, checked_use)->type_name(placeholder);
}

CLI::Option* add_path_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                             std::string& path) {
    return add_value_option(command, name, placeholder, [&path](const std::string& value) { path = value; });
}

CLI::Option* add_path_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                             std::optional<std::string>& path) {
    return add_value_option(command, name, placeholder, [&path](const std::string& value) { path = value; });
}

CLI::Option* add_whole_number_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                                     std::size_t& number) {
    return add_value_option(command, name, placeholder,
                            [name, &number](const std::string& value) { number = parse_whole_number(name, value); });
}

CLI::Option* add_flag_option(CLI::App& command, const std::string& name, bool& flag) {
    // CLI11 lets a flag take a value, `--causal=yes`, and keeps the last of many; the course does neither.
    // A flag given alone reaches the check below as "true".
    const CLI::Validator no_value(
        [name](std::string& value) -> std::string {
            if (value != "true") {
                fail(name, "takes no value");
            }
            return "";
        },
        "");
    return command.add_flag(name, flag)->check(no_value)->multi_option_policy(CLI::MultiOptionPolicy::Throw);
}

void parse_command_line(CLI::App& program, const std::vector<std::string>& arguments) {
    std::vector<std::string> last_first(arguments.rbegin(), arguments.rend());  // CLI11 takes them in this order
    try {
        program.parse(last_first);
    } catch (const CLI::CallForHelp&) {
        throw;
    } catch (const CLI::ExtrasError&) {
        fail_on_end_of_options_mark(program, arguments);
        fail_on_leftover_word(program);
        throw;
    } catch (const CLI::RequiredError&) {
        fail_on_end_of_options_mark(program, arguments);
        fail_on_leftover_word(program);
        fail_on_missing_option(program);
        throw;
    } catch (const CLI::ArgumentMismatch&) {
        fail_on_repeated_option(program);
        fail_on_option_without_value(program, arguments);
        throw;
    }
    // Any other CLI11 error goes on to main as it is, which prints CLI11's own words.
}

}  // namespace mha::cli
