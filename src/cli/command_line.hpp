// Lesson 4 introduces this header, with the `mha` command: what its subcommands
// share on the command line. Bad input of any kind, a wrong option or a wrong
// file, ends as one InputError, which main prints as the single line
//   mha: error: <subject>: <what is wrong>
// and exits with status 2. CLI11 reads the options; the functions below declare
// them so that every value is checked as the course wants, and turn CLI11's own
// errors into that one line.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

/// @file
/// @brief The `mha` command's options and its one error (introduced in @ref lesson04).

namespace mha::cli {

/// Bad input to the `mha` command: a wrong option, or a file that is missing,
/// unreadable or of the wrong shape. main prints it as the one line
/// `mha: error: <subject>: <what>` on stderr and exits with status 2.
class InputError : public std::runtime_error {
public:
    /// @param subject the file or the option at fault, such as `--num-heads`.
    /// @param what what is wrong with it.
    /// @throws nothing but std::bad_alloc.
    InputError(const std::string& subject, const std::string& what);
};

/// Gives up on bad input.
///
/// @param subject the file or the option at fault.
/// @param what what is wrong with it.
/// @throws InputError always.
/// @see @ref lesson04
[[noreturn]] void fail(const std::string& subject, const std::string& what);

/// Reads the value of an option that counts something, such as `--num-heads 8`.
///
/// @param option the option, for the message, such as `--num-heads`.
/// @param text its value as given: digits only, no sign, no spaces.
/// @return the number, at least 1.
/// @throws InputError naming the option if the text is not a whole number >= 1
///         or does not fit in a std::size_t.
/// @see @ref lesson04
std::size_t parse_whole_number(const std::string& option, const std::string& text);

/// Adds `-h` and `--help` to a command: met anywhere, they throw
/// CLI::CallForHelp at once, before anything else is checked.
///
/// @param command the program or one of its subcommands.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
void add_help_flag(CLI::App& command);

/// Adds `--name VALUE` (also written `--name=VALUE`) to a subcommand. The option
/// may be given once; its value must not be empty, nor another option such as
/// `--out` (which means the value was forgotten).
///
/// @param command the subcommand.
/// @param name the option, such as `--out`.
/// @param placeholder what the value is, as the help writes it, such as `OUT.npy`.
/// @param use called with the value once the command line is read; it may
///        throw InputError, for a value it cannot use.
/// @return the option, to make it required().
/// @throws nothing but std::bad_alloc; the checks throw InputError when the
///         command line is parsed.
/// @see @ref lesson04
CLI::Option* add_value_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                              std::function<void(const std::string&)> use);

/// add_value_option() for a file or folder path.
///
/// @param command the subcommand.
/// @param name the option, such as `--query`.
/// @param placeholder what the value is, such as `Q.npy`.
/// @param path set to the value, as given.
/// @return the option, to make it required().
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
CLI::Option* add_path_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                             std::string& path);

/// add_value_option() for a path that may be left out.
///
/// @param command the subcommand.
/// @param name the option, such as `--key`.
/// @param placeholder what the value is, such as `K.npy`.
/// @param path set to the value, as given; left empty when the option is not given.
/// @return the option.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
CLI::Option* add_path_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                             std::optional<std::string>& path);

/// add_value_option() for a whole number >= 1, read by parse_whole_number().
///
/// @param command the subcommand.
/// @param name the option, such as `--num-heads`.
/// @param placeholder what the value is, such as `H`.
/// @param number set to the value; left as it is (the default) when the option is not given.
/// @return the option, to make it required().
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
CLI::Option* add_whole_number_option(CLI::App& command, const std::string& name, const std::string& placeholder,
                                     std::size_t& number);

/// Adds a flag, `--name` without a value, to a subcommand. It may be given once,
/// and `--name=VALUE` is refused.
///
/// @param command the subcommand.
/// @param name the flag, such as `--causal`.
/// @param flag set to true when the flag is given.
/// @return the option.
/// @throws nothing but std::bad_alloc.
/// @see @ref lesson04
CLI::Option* add_flag_option(CLI::App& command, const std::string& name, bool& flag);

/// Parses the command line into the options the subcommands declared. Their
/// values are handed over as they are read; which subcommand was named is
/// `subcommand->parsed()` afterwards.
///
/// Every problem CLI11 finds becomes one InputError, in the course's words,
/// such as `--out: given twice`. An unknown option or a stray argument is
/// named before a missing required option, since it is often that option
/// misspelt.
///
/// @param program the whole command, with its subcommands added.
/// @param arguments the command line without the program's name, as in argv[1..].
/// @throws CLI::CallForHelp when `-h` or `--help` is met (see add_help_flag()).
/// @throws InputError for any other problem with the command line.
/// @see @ref lesson04
void parse_command_line(CLI::App& program, const std::vector<std::string>& arguments);

}  // namespace mha::cli
