// The `mha` command: the course's multi-head attention (lesson 4) on .npy files,
// and a stopwatch for the fast attention of lesson 5.
//
//   mha forward --weights DIR --num-heads H --query Q.npy ... --out OUT.npy
//   mha bench --seq-len L --embed-dim E --num-heads H [--version V] ...
//
// `mha forward` loads parameters exported from PyTorch (scripts/export_pytorch_mha.py),
// runs mha::MultiHeadAttention::forward on the inputs, and writes the result,
// so that anyone can compare the course's numbers with PyTorch's. `mha bench`
// times mha::FastMultiHeadAttention on random data and prints one JSON line,
// with the process's peak resident memory, which only a process of its own can
// measure (scripts/run_benchmarks.sh uses it for the fused version's memory).
//
// The file reads from top to bottom:
//   1. the help text            (`mha --help` prints it)
//   2. errors                   (bad input: one line on stderr, exit status 2)
//   3. argument parsing         (the command line into ForwardOptions)
//   4. loading and checking     (every file, before anything is computed)
//   5. computing                (one call to MultiHeadAttention::forward)
//   6. writing                  (the output and, if asked, the weights)
//   7. mha bench                (timing the fast attention of lesson 5)
//   8. main                     (dispatch on the subcommand name)
#include <sys/resource.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <filesystem>
#include <iostream>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include <xtensor/xarray.hpp>
#include <xtensor/xview.hpp>

#include "fast/fast_multi_head_attention.hpp"
#include "reference/multi_head_attention.hpp"
#include "io/npy_file.hpp"
#include "io/parameter_files.hpp"
#include "core/random.hpp"
#include "core/tensor.hpp"

namespace {

namespace fs = std::filesystem;

// ============================================================================
// 1. The help text
// ============================================================================

// `mha --help`, `mha forward --help` and `mha bench --help` all print this: the
// subcommands are few enough for one page.
const char* const help_text = R"(mha: multi-head attention from the course "Multi-Head Attention from Scratch in C++",
computing what PyTorch's nn.MultiheadAttention computes, on NumPy .npy files.

Usage:
  mha forward --weights DIR --num-heads H --query Q.npy [--key K.npy] [--value V.npy]
              [--attn-mask M.npy] [--key-padding-mask P.npy] [--causal]
              --out OUT.npy [--weights-out W.npy] [--average-weights]
  mha bench --seq-len L --embed-dim E --num-heads H [--batch B] [--threads T]
            [--repeat R] [--version V]
  mha --help                  this text (so do `mha forward --help` and `mha bench --help`)

`mha forward` runs one forward pass of the course's mha::MultiHeadAttention
(lesson 4): the same computation as PyTorch's nn.MultiheadAttention(E, H,
batch_first=True) in eval() mode (no dropout), all in double precision.

Options of `mha forward` (`--option VALUE` and `--option=VALUE` are the same, here and
in `mha bench`):
  --weights DIR         the folder of the module's parameters, one .npy file per entry of
                        PyTorch's state_dict(), float32 or float64:
                          in_proj_weight.npy (3E, E)         when kdim = vdim = E, or else
                          q_proj_weight.npy (E, E), k_proj_weight.npy (E, kdim),
                          v_proj_weight.npy (E, vdim);
                          out_proj.weight.npy (E, E);
                          in_proj_bias.npy (3E) and out_proj.bias.npy (E), both or neither
                          (neither: a module made with bias=False).
                        scripts/export_pytorch_mha.py writes them from any nn.MultiheadAttention.
  --num-heads H         H, the number of heads: a whole number >= 1 that divides E
                        (each head gets d_k = E / H columns). The files do not record it.
  --query Q.npy         the queries: (B, L, E), or (L, E) for one unbatched sequence.
  --key K.npy           the keys: (B, S, kdim), or (S, kdim). Default: the query (self-attention).
  --value V.npy         the values: (B, S, vdim), or (S, vdim), with the key's B and S.
                        Default: the query, not the key: with --key, give --value too.
  --attn-mask M.npy     PyTorch's attn_mask: (L, S), the same for every batch entry and head,
                        or (B*H, L, S), where entry b, head h uses M[b*H + h].
  --key-padding-mask P.npy
                        PyTorch's key_padding_mask: (B, S), one row of keys per batch entry,
                        or (S) for unbatched input.
  --causal              also forbid every query i to look at the keys j > i (a decoder's
                        look-ahead mask; when L != S it is aligned at the top-left corner).
  --out OUT.npy         where to write the output: Q's shape and Q's dtype.
  --weights-out W.npy   also write the attention weights, in Q's dtype: (B, H, L, S), one
                        (L, S) matrix per batch entry and head; (H, L, S) for unbatched input.
  --average-weights     write the weights averaged over the heads instead, as PyTorch's
                        average_attn_weights=True does: (B, L, S), or (L, S) for unbatched
                        input. Needs --weights-out.
  -h, --help            print this text and exit.

Shapes:
  B  batch entries (sequences)       E     embed_dim, the size of a query and of the output
  L  queries per sequence            kdim  the size of a key (E unless the module has kdim)
  S  keys and values per sequence    vdim  the size of a value (E unless the module has vdim)
  H  heads, of E / H columns each
Arrays are batch-first, as with batch_first=True. PyTorch's default layout (L, B, E)
must be transposed to (B, L, E) first, e.g. with x.transpose(0, 1).

Data types:
  Inputs are float32 or float64 .npy files (masks may also be bool), in C or Fortran
  order; other types (integers, big-endian) are refused. All arithmetic is in float64.
  The output and the weights are written in the query's dtype, as PyTorch returns them.

Masks (PyTorch's conventions; all masks given are added up):
  bool    true = this query may NOT look at this key; false = it may.
  float   added to the scaled scores before softmax: 0 keeps a key, -inf removes it,
          other finite values raise or lower its weight. NaN and +inf are refused.
  A fully masked query row: when every key of a query is masked in a head, that head
  gives the query zero weights and a zero result (PyTorch gives NaN there). If that
  happens in every head, the query's output row is out_proj's bias (zero without bias).

Exit status:
  0  success: `mha forward` prints one line per file written on stdout, `mha bench` its
     JSON object.
  2  bad input: a missing, unreadable, truncated or non-.npy file; a wrong dtype or shape;
     NaN or infinity in an input; E not divisible by H; a mask of the wrong shape; key and
     value that do not match; an unknown, repeated or missing option; a --num-heads (or a
     number of `mha bench`) that is not a whole number >= 1; an unknown --version; an
     output file that cannot be written. Exactly one line goes to
     stderr:  mha: error: <file or option>: <what is wrong>
  1  an internal error: out of memory, a bug in the course (please report it), or, in an
     exercise workspace (./scripts/course), an exercise not written yet.

Example: export a fresh PyTorch module with test inputs and PyTorch's own results, run
the course's attention on them, and compare (/usr/bin/python3 is Debian's, with torch):
  /usr/bin/python3 scripts/export_pytorch_mha.py --embed-dim 8 --num-heads 2 --cross \
      --key-padding-mask --causal --check-dir check check/weights
  ./build/default/mha forward --weights check/weights --num-heads 2 \
      --query check/query.npy --key check/key.npy --value check/value.npy \
      --key-padding-mask check/key_padding_mask.npy --causal \
      --out out.npy --weights-out weights.npy
  # out.npy should equal check/expected_output.npy, weights.npy check/expected_weights.npy

`mha bench` times lesson 5's fast attention, mha::FastMultiHeadAttention, in float32:
self-attention of a random (B, L, E) input through a random module (the same seed every
run; no masks, no attention weights), one untimed warm-up pass, then R timed passes. It
prints one JSON object on one line of stdout, such as
  {"seq_len": 512, "embed_dim": 512, "num_heads": 8, "batch": 1, "threads": 1,
   "repeat": 10, "version": "v5-threaded", "instruction_set": "avx512f",
   "median_ms": 12.0, "min_ms": 11.8, "gflops": 134.2, "peak_rss_mb": 31.2}
  median_ms, min_ms  the median and the fastest of the R passes, in milliseconds
  gflops             8·L·E² + 4·L²·E flops per batch entry, over the median time
  instruction_set    the SIMD instructions the fast kernels chose on this CPU
  peak_rss_mb        the most memory the process ever held (getrusage's ru_maxrss), in
                     MiB: a fused version never holds the H·L·L scores at once

Options of `mha bench` (all whole numbers >= 1 but --version):
  --seq-len L           L, the length of the sequence (S = L: self-attention). Required.
  --embed-dim E         E, the size of a token's vector. Required.
  --num-heads H         H, the number of heads; must divide E. Required.
  --batch B             B, the number of sequences. Default 1.
  --threads T           the threads the forward pass may use; only v5-threaded uses more
                        than one. Default 1.
  --repeat R            the number of timed passes. Default 10.
  --version V           which version of lesson 5: 1 to 5, or its name: v1-blas, v2-simd,
                        v3-blocked, v4-fused, v5-threaded (also blas, simd, blocked, fused,
                        threaded). Default: v5-threaded.

Example: the memory of the fused version at L = 8192, where the scores of all heads would
take 8 · 8192² floats = 2 GiB:
  ./build/default/mha bench --seq-len 8192 --embed-dim 512 --num-heads 8 --version v4 --repeat 3
)";

// ============================================================================
// 2. Errors
// ============================================================================

// Bad input. main prints it as the one line "mha: error: <subject>: <what>" and
// exits with status 2; the subject is the file or the option at fault.
class InputError : public std::runtime_error {
public:
    InputError(const std::string& subject, const std::string& what) : std::runtime_error(subject + ": " + what) {}
};

[[noreturn]] void fail(const std::string& subject, const std::string& what) { throw InputError(subject, what); }

// The library's messages are one line already; this makes sure of it.
std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\r', ' ');
    return text;
}

// "(2, 3)" for a shape given as a vector, like mha::shape_string for a tensor.
std::string shape_text(const std::vector<std::size_t>& shape) {
    std::string text = "(";
    for (std::size_t axis = 0; axis < shape.size(); ++axis) {
        text += (axis == 0 ? "" : ", ") + std::to_string(shape[axis]);
    }
    return text + (shape.size() == 1 ? ",)" : ")");  // NumPy writes a 1-D shape as (5,)
}

// ============================================================================
// 3. Argument parsing
// ============================================================================

// What `mha forward` was asked to do. The paths are as given on the command line.
struct ForwardOptions {
    std::string weights_dir;                           // --weights
    std::size_t num_heads = 0;                         // --num-heads
    std::string query_path;                            // --query
    std::optional<std::string> key_path;               // --key (default: the query)
    std::optional<std::string> value_path;             // --value (default: the query)
    std::optional<std::string> attn_mask_path;         // --attn-mask
    std::optional<std::string> key_padding_mask_path;  // --key-padding-mask
    bool causal = false;                               // --causal
    std::string out_path;                              // --out
    std::optional<std::string> weights_out_path;       // --weights-out
    bool average_weights = false;                      // --average-weights
};

const std::set<std::string> forward_options_with_value = {"--weights", "--num-heads", "--query",
                                                          "--key",     "--value",     "--attn-mask",
                                                          "--key-padding-mask",       "--out",
                                                          "--weights-out"};
const std::set<std::string> forward_flags = {"--causal", "--average-weights"};
const std::vector<std::string> forward_required_options = {"--weights", "--num-heads", "--query", "--out"};

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

bool asks_for_help(const std::vector<std::string>& arguments) {
    return std::any_of(arguments.begin(), arguments.end(),
                       [](const std::string& argument) { return argument == "--help" || argument == "-h"; });
}

// A whole number >= 1 given to `option`: digits only, no sign, no overflow.
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

// The options of one command line, as given; every subcommand's parser starts here.
struct GivenOptions {
    std::map<std::string, std::string> values;  // option -> its value
    std::set<std::string> flags;                // the flags given
};

// Pass 1 of parsing a subcommand's arguments: collects every option, refusing
// unknown, repeated and value-less ones. `example` says how inputs are given,
// for the message about a stray argument.
GivenOptions collect_options(const std::vector<std::string>& arguments, const std::set<std::string>& with_value,
                             const std::set<std::string>& flags, const std::string& subcommand,
                             const std::string& example) {
    const std::string see_help = "'mha " + subcommand + " --help'";
    GivenOptions given;
    for (std::size_t i = 0; i < arguments.size(); ++i) {
        std::string name = arguments[i];
        std::optional<std::string> attached_value;  // from --option=VALUE
        if (starts_with(name, "--") && name.find('=') != std::string::npos) {
            attached_value = name.substr(name.find('=') + 1);
            name = name.substr(0, name.find('='));
        }
        if (!starts_with(name, "-")) {
            fail(name, "unexpected argument; " + example + " (see " + see_help + ")");
        }
        if (flags.count(name) != 0) {
            if (attached_value) {
                fail(name, "takes no value");
            }
            if (!given.flags.insert(name).second) {
                fail(name, "given twice");
            }
        } else if (with_value.count(name) != 0) {
            if (given.values.count(name) != 0) {
                fail(name, "given twice");
            }
            if (!attached_value) {
                // The next argument is the value, unless there is none or it is another option.
                if (i + 1 == arguments.size() || starts_with(arguments[i + 1], "--")) {
                    fail(name, "needs a value (see " + see_help + ")");
                }
                attached_value = arguments[++i];
            }
            if (attached_value->empty()) {
                fail(name, "the value is empty");
            }
            given.values[name] = *attached_value;
        } else {
            fail(name, "unknown option (see " + see_help + " for the options)");
        }
    }
    return given;
}

ForwardOptions parse_forward_arguments(const std::vector<std::string>& arguments) {
    // Pass 1: collect every option.
    GivenOptions given = collect_options(arguments, forward_options_with_value, forward_flags, "forward",
                                         "every input is given with an option, such as --query Q.npy");
    std::map<std::string, std::string>& values = given.values;
    const std::set<std::string>& flags_given = given.flags;

    // Pass 2: the required options, then each value in its place.
    for (const std::string& name : forward_required_options) {
        if (values.count(name) == 0) {
            fail(name, "missing; this option is required (see 'mha forward --help')");
        }
    }
    const auto optional_value = [&](const std::string& name) -> std::optional<std::string> {
        const auto found = values.find(name);
        return found == values.end() ? std::nullopt : std::optional<std::string>(found->second);
    };
    ForwardOptions options;
    options.weights_dir = values["--weights"];
    options.num_heads = parse_whole_number("--num-heads", values["--num-heads"]);
    options.query_path = values["--query"];
    options.key_path = optional_value("--key");
    options.value_path = optional_value("--value");
    options.attn_mask_path = optional_value("--attn-mask");
    options.key_padding_mask_path = optional_value("--key-padding-mask");
    options.causal = flags_given.count("--causal") != 0;
    options.out_path = values["--out"];
    options.weights_out_path = optional_value("--weights-out");
    options.average_weights = flags_given.count("--average-weights") != 0;
    if (options.average_weights && !options.weights_out_path) {
        fail("--average-weights", "has no effect without --weights-out W.npy; give both, or neither");
    }
    if (options.weights_out_path &&
        fs::path(*options.weights_out_path).lexically_normal() == fs::path(options.out_path).lexically_normal()) {
        fail("--weights-out",
             "'" + *options.weights_out_path + "' is also --out; the weights would overwrite the output");
    }
    return options;
}

// ============================================================================
// 4. Loading and checking
// ============================================================================

// Everything forward needs, checked and in the library's types.
struct ForwardInputs {
    mha::MultiHeadAttention module;
    bool batched = true;                               // the query was (B, L, E), not (L, E)
    mha::NpyType output_type = mha::NpyType::float64;  // the query's dtype
    mha::Tensor3 query;                                // (B, L, E); B = 1 for unbatched input
    mha::Tensor3 key;                                  // (B, S, kdim)
    mha::Tensor3 value;                                // (B, S, vdim)
    mha::AttentionMasks masks;
};

std::vector<std::size_t> shape_of(const xt::xarray<double>& values) {
    return std::vector<std::size_t>(values.shape().begin(), values.shape().end());
}

// Reads any .npy file; read_npy's messages already start with the path.
mha::NpyArray read_file(const std::string& path, const std::string& option) {
    std::error_code error;
    if (!fs::exists(path, error)) {
        fail(path, "no such file (" + option + ")");
    }
    if (fs::is_directory(path, error)) {
        fail(path, "is a folder, not a .npy file (" + option + ")");
    }
    return mha::read_npy(path);
}

// The position of element `flat` of a row-major array of this shape, as "(1, 0, 3)".
std::string index_text(std::size_t flat, const std::vector<std::size_t>& shape) {
    std::vector<std::size_t> index(shape.size());
    for (std::size_t axis = shape.size(); axis-- > 0;) {
        index[axis] = flat % shape[axis];
        flat /= shape[axis];
    }
    std::string text = "(";
    for (std::size_t axis = 0; axis < index.size(); ++axis) {
        text += (axis == 0 ? "" : ", ") + std::to_string(index[axis]);
    }
    return text + ")";
}

// Reads a query, key or value: float32 or float64, (B, N, width) or (N, width) as
// `batched` says (nullopt: either), no empty axis, no NaN or infinity.
xt::xarray<double> read_sequences(const std::string& path, const std::string& option, std::optional<bool> batched,
                                  mha::NpyType* type = nullptr) {
    mha::NpyArray array = read_file(path, option);
    if (array.type == mha::NpyType::boolean) {
        fail(path, "holds bool elements, but " + option + " must be float32 or float64");
    }
    const std::vector<std::size_t> shape = shape_of(array.values);
    const std::string expected = option == "--query" ? "(B, L, E), or (L, E) unbatched"
                                                     : "(B, S, " + std::string(option == "--key" ? "kdim" : "vdim") +
                                                           "), or (S, ·) when the query is unbatched";
    if (batched.has_value() && shape.size() != (*batched ? 3u : 2u)) {
        fail(path, "has shape " + shape_text(shape) + " but " + option + " must be " +
                       (*batched ? "3-D (B, S, ·), because the query is (B, L, E)"
                                 : "2-D (S, ·), because the query is unbatched (L, E)"));
    }
    if (shape.size() != 2 && shape.size() != 3) {
        fail(path, "has shape " + shape_text(shape) + " but " + option + " must be " + expected);
    }
    if (std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end()) {
        fail(path, "has shape " + shape_text(shape) + ", with an empty axis; " + option + " needs at least one element "
                                                                                        "along every axis");
    }
    for (std::size_t i = 0; i < array.values.size(); ++i) {
        if (!std::isfinite(array.values.data()[i])) {
            fail(path, "holds " + std::to_string(array.values.data()[i]) + " at index " + index_text(i, shape) +
                           "; " + option + " must hold finite numbers only");
        }
    }
    if (type != nullptr) {
        *type = array.type;
    }
    return std::move(array.values);
}

// (N, width) becomes (1, N, width); (B, N, width) stays as it is.
mha::Tensor3 as_batch(const xt::xarray<double>& values) {
    const auto shape = shape_of(values);
    mha::Tensor3 batch = xt::zeros<double>(
        shape.size() == 3 ? std::array<std::size_t, 3>{shape[0], shape[1], shape[2]}
                          : std::array<std::size_t, 3>{1, shape[0], shape[1]});
    std::copy(values.data(), values.data() + values.size(), batch.data());  // both row-major
    return batch;
}

// Reads a mask: bool, float32 or float64; a float mask may hold finite values and -inf only.
mha::NpyArray read_mask(const std::string& path, const std::string& option) {
    mha::NpyArray mask = read_file(path, option);
    const std::vector<std::size_t> shape = shape_of(mask.values);
    if (mask.type != mha::NpyType::boolean) {
        for (std::size_t i = 0; i < mask.values.size(); ++i) {
            const double value = mask.values.data()[i];
            if (std::isnan(value) || value == INFINITY) {
                fail(path, "holds " + std::to_string(value) + " at index " + index_text(i, shape) + "; a float " +
                               option + " may hold finite numbers and -inf only");
            }
        }
    }
    return mask;
}

mha::MultiHeadAttention load_module(const ForwardOptions& options) {
    std::error_code error;
    if (!fs::is_directory(options.weights_dir, error)) {
        fail(options.weights_dir, fs::exists(options.weights_dir, error)
                                      ? "is not a folder; --weights needs the folder of the parameter files"
                                      : "no such folder (--weights)");
    }
    mha::MultiHeadAttention module;
    try {
        // Its runtime_errors start with the file at fault; they pass through to main.
        module = mha::load_parameters(options.weights_dir, options.num_heads);
    } catch (const std::invalid_argument& error) {
        // The only way loaded parameters can disagree with H: E is not divisible by it.
        std::string what = error.what();
        what = what.substr(what.find(": ") == std::string::npos ? 0 : what.find(": ") + 2);
        fail("--num-heads", what + "; H must divide E, so that every head gets E / H columns");
    }
    const std::pair<const mha::Linear*, const char*> projections[] = {{&module.query_projection, "query"},
                                                                      {&module.key_projection, "key"},
                                                                      {&module.value_projection, "value"},
                                                                      {&module.output_projection, "output"}};
    for (const auto& [projection, name] : projections) {
        const bool finite = std::all_of(projection->weight.begin(), projection->weight.end(),
                                        [](double w) { return std::isfinite(w); }) &&
                            std::all_of(projection->bias.begin(), projection->bias.end(),
                                        [](double b) { return std::isfinite(b); });
        if (!finite) {
            fail(options.weights_dir, std::string("the ") + name + " projection holds NaN or infinity");
        }
    }
    return module;
}

ForwardInputs load_and_check(const ForwardOptions& options) {
    ForwardInputs inputs;
    inputs.module = load_module(options);
    const std::size_t E = inputs.module.embed_dim(), H = options.num_heads;

    // ---- The query fixes B and L, and whether the input is batched ----
    const xt::xarray<double> query = read_sequences(options.query_path, "--query", std::nullopt, &inputs.output_type);
    inputs.batched = query.dimension() == 3;
    if (query.shape(query.dimension() - 1) != E) {
        fail(options.query_path, "has shape " + shape_text(shape_of(query)) + " but its last axis must be E = " +
                                     std::to_string(E) + ", the embed_dim of the weights in " + options.weights_dir);
    }
    inputs.query = as_batch(query);
    const std::size_t B = inputs.query.shape(0), L = inputs.query.shape(1);

    // ---- Key and value: the same B as the query, the same S as each other ----
    const std::string key_path = options.key_path.value_or(options.query_path);
    const std::string value_path = options.value_path.value_or(options.query_path);
    inputs.key = options.key_path ? as_batch(read_sequences(key_path, "--key", inputs.batched)) : inputs.query;
    inputs.value = options.value_path ? as_batch(read_sequences(value_path, "--value", inputs.batched)) : inputs.query;
    const std::size_t S = inputs.key.shape(1);
    const auto described = [&](const mha::Tensor3& tensor) {
        // A shape as the user gave it: without the batch axis added to unbatched input.
        const auto shape = shape_of(tensor);
        return shape_text(inputs.batched ? shape : std::vector<std::size_t>(shape.begin() + 1, shape.end()));
    };
    if (inputs.key.shape(0) != B) {
        fail(key_path, "has shape " + described(inputs.key) + " but the query " + described(inputs.query) +
                           " has B = " + std::to_string(B) + " sequences; --key must have as many");
    }
    if (inputs.value.shape(0) != B || inputs.value.shape(1) != S) {
        const std::string rule = std::string("key and value must have the same number of ") +
                                 (inputs.batched ? "sequences B and " : "") + "positions S";
        if (options.value_path) {
            fail(value_path, "has shape " + described(inputs.value) + " but --key " + key_path + " has shape " +
                                 described(inputs.key) + "; " + rule);
        }
        fail("--value", "missing, so the value is the query " + value_path + ", of shape " + described(inputs.value) +
                            ", which does not fit --key " + key_path + ", of shape " + described(inputs.key) + "; " +
                            rule + ": give --value V.npy");
    }
    if (inputs.key.shape(2) != inputs.module.kdim()) {
        fail(key_path, "has shape " + described(inputs.key) + " but its last axis must be kdim = " +
                           std::to_string(inputs.module.kdim()) + ", the width of the key projection in " +
                           options.weights_dir + (options.key_path ? "" : " (--key defaults to the query)"));
    }
    if (inputs.value.shape(2) != inputs.module.vdim()) {
        fail(value_path, "has shape " + described(inputs.value) + " but its last axis must be vdim = " +
                             std::to_string(inputs.module.vdim()) + ", the width of the value projection in " +
                             options.weights_dir + (options.value_path ? "" : " (--value defaults to the query)"));
    }

    // ---- attn_mask: (L, S) or (B·H, L, S) ----
    if (options.attn_mask_path) {
        const std::string& path = *options.attn_mask_path;
        const mha::NpyArray mask = read_mask(path, "--attn-mask");
        const auto shape = shape_of(mask.values);
        const bool fits = (shape.size() == 2 && shape[0] == L && shape[1] == S) ||
                          (shape.size() == 3 && shape[0] == B * H && shape[1] == L && shape[2] == S);
        if (!fits) {
            fail(path, "has shape " + shape_text(shape) + " but --attn-mask must be (L, S) = " + shape_text({L, S}) +
                           " or (" + (inputs.batched ? "B·H" : "H") + ", L, S) = " + shape_text({B * H, L, S}));
        }
        const bool is_bool = mask.type == mha::NpyType::boolean;
        if (shape.size() == 2) {
            inputs.masks.attention_mask = is_bool ? mha::AttentionMask(mha::BoolMatrix(xt::not_equal(mask.values, 0.0)))
                                                  : mha::AttentionMask(mha::Matrix(mask.values));
        } else {
            inputs.masks.attention_mask = is_bool
                                              ? mha::AttentionMask(mha::BoolTensor3(xt::not_equal(mask.values, 0.0)))
                                              : mha::AttentionMask(mha::Tensor3(mask.values));
        }
    }

    // ---- key_padding_mask: (B, S), or (S) for unbatched input ----
    if (options.key_padding_mask_path) {
        const std::string& path = *options.key_padding_mask_path;
        const mha::NpyArray mask = read_mask(path, "--key-padding-mask");
        const auto shape = shape_of(mask.values);
        const std::vector<std::size_t> expected = inputs.batched ? std::vector<std::size_t>{B, S}
                                                                 : std::vector<std::size_t>{S};
        if (shape != expected) {
            fail(path, "has shape " + shape_text(shape) + " but --key-padding-mask must be " +
                           (inputs.batched ? "(B, S) = " : "(S) = ") + shape_text(expected) +
                           (inputs.batched ? "" : ", because the query is unbatched"));
        }
        mha::Matrix rows = xt::zeros<double>({B, S});  // (B, S); B = 1 for unbatched input
        std::copy(mask.values.data(), mask.values.data() + mask.values.size(), rows.data());
        inputs.masks.key_padding_mask = mask.type == mha::NpyType::boolean
                                            ? mha::KeyPaddingMask(mha::BoolMatrix(xt::not_equal(rows, 0.0)))
                                            : mha::KeyPaddingMask(rows);
    }
    inputs.masks.causal = options.causal;
    return inputs;
}

// Refuses an output path that surely cannot be written, before anything is computed,
// so that a typo in --weights-out does not leave a fresh OUT.npy behind.
void check_destination(const std::string& path, const std::string& option) {
    std::error_code error;
    if (fs::is_directory(path, error)) {
        fail(path, "is a folder; " + option + " needs a file name, such as " + (fs::path(path) / "out.npy").string());
    }
    const fs::path folder = fs::path(path).parent_path();
    if (!folder.empty() && !fs::is_directory(folder, error)) {
        fail(path, "cannot be written (" + option + "): " + folder.string() +
                       (fs::exists(folder, error) ? " is not a folder" : " does not exist"));
    }
}

// ============================================================================
// 5. Computing
// ============================================================================

// One forward pass. Section 4 has checked every shape and value, so forward's own
// checks pass; should one fail anyway (say, a projection overflowing to infinity),
// it is reported against the query.
mha::MultiHeadAttentionResult compute(const ForwardInputs& inputs, const std::string& query_path) {
    try {
        return inputs.module.forward(inputs.query, inputs.key, inputs.value, inputs.masks);
    } catch (const std::invalid_argument& error) {
        fail(query_path, "attention could not be computed: " + std::string(error.what()));
    }
}

// ============================================================================
// 6. Writing
// ============================================================================

// Drops the batch axis (of size 1) that as_batch added to unbatched input.
xt::xarray<double> without_batch_axis(const xt::xarray<double>& values) {
    const auto shape = shape_of(values);
    xt::xarray<double> result = xt::zeros<double>(std::vector<std::size_t>(shape.begin() + 1, shape.end()));
    std::copy(values.data(), values.data() + values.size(), result.data());  // both row-major
    return result;
}

// Writes one array in the query's dtype and says so on stdout.
void write_result(const std::string& path, const std::string& option, const xt::xarray<double>& values,
                  mha::NpyType type) {
    try {
        mha::write_npy(path, values, type);
    } catch (const std::runtime_error&) {
        fail(path, "cannot be written (" + option + "); check that its folder exists and that you may write there");
    }
    std::cout << "mha forward: wrote " << path << ", " << shape_text(shape_of(values)) << " "
              << mha::npy_type_name(type) << "\n";
}

void write_outputs(const ForwardOptions& options, const ForwardInputs& inputs,
                   const mha::MultiHeadAttentionResult& result) {
    // The output: the query's shape, (B, L, E) or (L, E).
    const xt::xarray<double> output = result.output;  // (B, L, E)
    write_result(options.out_path, "--out", inputs.batched ? output : without_batch_axis(output), inputs.output_type);

    // The weights: (B, H, L, S), or averaged over the heads (B, L, S); without B when unbatched.
    if (options.weights_out_path) {
        const xt::xarray<double> weights = options.average_weights
                                               ? xt::xarray<double>(mha::average_over_heads(result.weights))
                                               : xt::xarray<double>(result.weights);
        write_result(*options.weights_out_path, "--weights-out",
                     inputs.batched ? weights : without_batch_axis(weights), inputs.output_type);
    }
}

// ============================================================================
// 7. mha bench: timing the fast attention of lesson 5
// ============================================================================

// What `mha bench` was asked to do.
struct BenchOptions {
    std::size_t seq_len = 0;                                  // --seq-len, L (= S)
    std::size_t embed_dim = 0;                                // --embed-dim, E
    std::size_t num_heads = 0;                                // --num-heads, H
    std::size_t batch = 1;                                    // --batch, B
    std::size_t threads = 1;                                  // --threads
    std::size_t repeat = 10;                                  // --repeat, R
    mha::FastVersion version = mha::FastVersion::threaded;    // --version
};

const std::set<std::string> bench_options_with_value = {"--seq-len", "--embed-dim", "--num-heads", "--batch",
                                                        "--threads", "--repeat",    "--version"};
const std::vector<std::string> bench_required_options = {"--seq-len", "--embed-dim", "--num-heads"};

const mha::FastVersion all_versions[] = {mha::FastVersion::blas, mha::FastVersion::simd, mha::FastVersion::blocked,
                                         mha::FastVersion::fused, mha::FastVersion::threaded};

// --version: 1 to 5, "v1" to "v5", the full name ("v4-fused") or the name alone ("fused").
mha::FastVersion parse_version(const std::string& text) {
    std::string names;
    for (const mha::FastVersion version : all_versions) {
        const std::string name = mha::fast_version_name(version);  // "v4-fused"
        const std::string number = std::to_string(static_cast<int>(version));
        const std::string short_name = name.substr(name.find('-') + 1);  // "fused"
        if (text == number || text == "v" + number || text == name || text == short_name) {
            return version;
        }
        names += (names.empty() ? "" : ", ") + name;
    }
    fail("--version", "'" + text + "' is not a version of lesson 5; give 1 to 5 or a name: " + names);
}

BenchOptions parse_bench_arguments(const std::vector<std::string>& arguments) {
    const GivenOptions given = collect_options(arguments, bench_options_with_value, {}, "bench",
                                               "every setting is given with an option, such as --seq-len 512");
    for (const std::string& name : bench_required_options) {
        if (given.values.count(name) == 0) {
            fail(name, "missing; this option is required (see 'mha bench --help')");
        }
    }
    const auto number = [&](const std::string& name, std::size_t default_value) {
        const auto found = given.values.find(name);
        return found == given.values.end() ? default_value : parse_whole_number(name, found->second);
    };
    BenchOptions options;
    options.seq_len = number("--seq-len", 0);
    options.embed_dim = number("--embed-dim", 0);
    options.num_heads = number("--num-heads", 0);
    options.batch = number("--batch", options.batch);
    options.threads = number("--threads", options.threads);
    options.repeat = number("--repeat", options.repeat);
    if (given.values.count("--version") != 0) {
        options.version = parse_version(given.values.at("--version"));
    }
    if (options.embed_dim % options.num_heads != 0) {
        fail("--num-heads", "E = " + std::to_string(options.embed_dim) + " is not divisible by H = " +
                                std::to_string(options.num_heads) +
                                "; H must divide E, so that every head gets E / H columns");
    }
    // B·L·E floats must be countable without overflow long before memory runs out.
    const double elements = static_cast<double>(options.batch) * static_cast<double>(options.seq_len) *
                            static_cast<double>(options.embed_dim);
    if (elements > 1e12) {
        std::ostringstream count;
        count.precision(2);
        count << elements;
        fail("--seq-len", "the input (B, L, E) = " + shape_text({options.batch, options.seq_len, options.embed_dim}) +
                              " would hold " + count.str() + " floats, far more than any memory");
    }
    return options;
}

// Flops of one forward pass, as the benchmarks count them: per batch entry, the
// projections 8·L·E² (Q, K, V and the output), Q·Kᵀ and weights·V 2·L²·E each.
double attention_flops(const BenchOptions& options) {
    const auto L = static_cast<double>(options.seq_len), E = static_cast<double>(options.embed_dim);
    return static_cast<double>(options.batch) * (8.0 * L * E * E + 4.0 * L * L * E);
}

// The most memory this process has held so far, in MiB (Linux gives ru_maxrss in KiB).
double peak_resident_mib() {
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

// A string as a JSON string literal: quotes, backslashes and control characters escaped.
std::string json_string(const std::string& text) {
    std::string quoted = "\"";
    for (const char c : text) {
        if (c == '"' || c == '\\') {
            quoted += '\\';
            quoted += c;
        } else if (static_cast<unsigned char>(c) < 0x20) {
            quoted += ' ';
        } else {
            quoted += c;
        }
    }
    return quoted + "\"";
}

int run_bench(const std::vector<std::string>& arguments) {
    if (asks_for_help(arguments)) {
        std::cout << help_text;
        return 0;
    }
    const BenchOptions options = parse_bench_arguments(arguments);

    // A random module, as PyTorch would initialise it, and a random input: the same every run.
    mha::RandomGenerator random(20240601);
    const mha::MultiHeadAttention reference =
        mha::random_multi_head_attention(options.embed_dim, options.num_heads, true, random);
    const mha::FastMultiHeadAttention attention(reference);
    auto input = xt::xtensor<float, 3>::from_shape({options.batch, options.seq_len, options.embed_dim});
    for (float& x : input) {
        x = static_cast<float>(random.normal());
    }

    mha::FastAttentionOptions fast_options;
    fast_options.version = options.version;
    fast_options.threads = options.threads;
    fast_options.need_weights = false;
    const auto forward_seconds = [&] {
        const auto start = std::chrono::steady_clock::now();
        try {
            const mha::FastAttentionResult result = attention.forward(input, input, input, {}, fast_options);
            if (result.output.size() != input.size()) {
                throw std::logic_error("the forward pass returned an output of shape " +
                                       mha::shape_string(result.output) + " for an input of shape " +
                                       mha::shape_string(input));
            }
        } catch (const std::invalid_argument& error) {
            fail("mha bench", mha::fast_version_name(options.version) + " refused these settings: " + error.what());
        }
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    };
    forward_seconds();  // the warm-up: first touches of memory, the core waking up
    std::vector<double> seconds(options.repeat);
    for (double& pass : seconds) {
        pass = forward_seconds();
    }
    std::sort(seconds.begin(), seconds.end());
    const std::size_t middle = seconds.size() / 2;
    const double median = seconds.size() % 2 == 1 ? seconds[middle] : (seconds[middle - 1] + seconds[middle]) / 2;

    std::ostringstream json;
    json << "{\"seq_len\": " << options.seq_len << ", \"embed_dim\": " << options.embed_dim
         << ", \"num_heads\": " << options.num_heads << ", \"batch\": " << options.batch
         << ", \"threads\": " << options.threads << ", \"repeat\": " << options.repeat
         << ", \"version\": " << json_string(mha::fast_version_name(options.version))
         << ", \"instruction_set\": " << json_string(mha::simd_instruction_set());
    json.precision(6);
    json << ", \"median_ms\": " << median * 1e3 << ", \"min_ms\": " << seconds.front() * 1e3
         << ", \"gflops\": " << attention_flops(options) / median * 1e-9
         << ", \"peak_rss_mb\": " << peak_resident_mib() << "}";
    std::cout << json.str() << std::endl;
    return 0;
}

// ============================================================================
// 8. main: dispatch on the subcommand name
// ============================================================================

int run_forward(const std::vector<std::string>& arguments) {
    if (asks_for_help(arguments)) {
        std::cout << help_text;
        return 0;
    }
    const ForwardOptions options = parse_forward_arguments(arguments);  // 3
    const ForwardInputs inputs = load_and_check(options);                // 4
    check_destination(options.out_path, "--out");
    if (options.weights_out_path) {
        check_destination(*options.weights_out_path, "--weights-out");
    }
    const mha::MultiHeadAttentionResult result = compute(inputs, options.query_path);  // 5
    write_outputs(options, inputs, result);                                             // 6
    return 0;
}

// The subcommands by name; each takes the arguments after its name and returns
// the exit status.
using Subcommand = int (*)(const std::vector<std::string>& arguments);
const std::map<std::string, Subcommand> subcommands = {
    {"bench", run_bench},
    {"forward", run_forward},
};

int dispatch(const std::vector<std::string>& arguments) {
    std::string names;
    for (const auto& [name, subcommand] : subcommands) {
        names += (names.empty() ? "" : ", ") + name;
    }
    if (arguments.empty()) {
        fail("subcommand", "missing; usage: mha forward --weights DIR --num-heads H --query Q.npy --out OUT.npy "
                           "[options], or mha bench --seq-len L --embed-dim E --num-heads H [options] "
                           "(see 'mha --help')");
    }
    const std::string& name = arguments[0];
    if (name == "--help" || name == "-h" || name == "help") {
        std::cout << help_text;
        return 0;
    }
    const auto found = subcommands.find(name);
    if (found == subcommands.end()) {
        fail(name, std::string(starts_with(name, "-") ? "an option before the subcommand" : "unknown subcommand") +
                       "; the subcommands are: " + names + " (see 'mha --help')");
    }
    return found->second(std::vector<std::string>(arguments.begin() + 1, arguments.end()));
}

}  // namespace

int main(int argc, char** argv) {
    // Bad input is exit status 2 with one line on stderr; anything else is status 1.
    try {
        return dispatch(std::vector<std::string>(argv + 1, argv + argc));
    } catch (const InputError& error) {
        std::cerr << "mha: error: " << one_line(error.what()) << "\n";
    } catch (const std::bad_alloc&) {
        std::cerr << "mha: internal error: out of memory\n";
        return 1;
    } catch (const std::runtime_error& error) {
        // The library's file errors (read_npy, load_parameters) start with the file's path.
        std::cerr << "mha: error: " << one_line(error.what()) << "\n";
    } catch (const std::exception& error) {
        // A bug, or, in an exercise workspace, an exercise not written yet (mha::not_implemented).
        std::cerr << "mha: internal error: " << one_line(error.what()) << "\n";
        return 1;
    } catch (...) {
        std::cerr << "mha: internal error: an unknown exception\n";
        return 1;
    }
    return 2;
}
