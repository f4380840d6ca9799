// The `mha` command (lesson 4 introduces it; `mha bench` belongs to lesson 5):
// the program itself. It declares the subcommands, parses the command line with
// CLI11, runs the subcommand named, and is the one place that turns an error
// into a line on stderr and an exit status:
//   0  success
//   2  bad input: one line "mha: error: <file or option>: <what is wrong>"
//   1  an internal error: out of memory, a bug, or an exercise not written yet
//
//   mha forward ...   forward_command.cpp   lesson 4's attention on .npy files
//   mha bench ...     bench_command.cpp     a stopwatch for lesson 5's fast attention
//   mha backward ...  backward_command.cpp  lesson 6's gradients of lesson 4's attention
//   mha train ...     train_command.cpp     lesson 6: trains the tiny transformer on a task
//   mha generate ...  generate_command.cpp  lesson 7: greedy decoding of a trained model, with a KV cache
//   mha --help        the help text below, also for `mha SUBCOMMAND --help`
// forward and backward take the same inputs, declared and loaded by attention_inputs.cpp.
#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli/backward_command.hpp"
#include "cli/bench_command.hpp"
#include "cli/command_line.hpp"
#include "cli/forward_command.hpp"
#include "cli/generate_command.hpp"
#include "cli/train_command.hpp"
#include "io/cleanup_on_signal.hpp"
#include "io/file_status.hpp"

namespace {

// `mha --help`, `mha forward --help`, `mha backward --help` and `mha bench --help`
// all print this: the subcommands are few enough for one page.
const char* const help_text = R"(mha: multi-head attention from the course "Multi-Head Attention from Scratch in C++",
computing what PyTorch's nn.MultiheadAttention computes, on NumPy .npy files.

Usage:
  mha forward --weights DIR --num-heads H --query Q.npy [--key K.npy] [--value V.npy]
              [--attn-mask M.npy] [--key-padding-mask P.npy] [--causal]
              --out OUT.npy [--weights-out W.npy] [--average-weights] [--num-kv-heads G]
  mha backward --weights DIR --num-heads H --query Q.npy [--key K.npy] [--value V.npy]
               [--attn-mask M.npy] [--key-padding-mask P.npy] [--causal]
               --grad-output DY.npy --grads-out DIR
  mha bench --seq-len L --embed-dim E --num-heads H [--batch B] [--threads T]
            [--repeat R] [--version V]
  mha train --task induction|coreference [--layers N] [--heads H] [--num-kv-heads G]
            [--d-model D] [--steps S] [--seed X] --out DIR
  mha generate --model DIR --prompt IDS [--max-new-tokens N]
  mha --help                  this text (so does `mha SUBCOMMAND --help`)

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
  --num-kv-heads G      (lesson 7) G key/value heads shared by the H query heads: grouped-query
                        attention, multi-query attention when G = 1. G must divide H; query
                        head i uses key/value head floor(i * G / H). The default, G = H, is the
                        attention above. With G != H, --weights must hold PyTorch's separate
                        projections: q_proj_weight.npy (E, E), k_proj_weight.npy and
                        v_proj_weight.npy (G*d_k, E) with d_k = E / H, out_proj.weight.npy
                        (E, E), and in_proj_bias.npy (E + 2*G*d_k) with out_proj.bias.npy (E),
                        or neither. It is self-attention of --query: --key, --value,
                        --attn-mask and --key-padding-mask are refused; --causal is allowed.
                        --weights-out writes (B, H, L, L), one matrix per query head.
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
  The output and the weights are written in the query's dtype, as PyTorch returns them;
  a result that is not finite there (float32 inputs near 3.4e38 can overflow) is
  refused, naming the output and the index, and nothing is written.

Files:
  Only regular files are read: a folder, a FIFO or a device is refused at once (never
  waited on); an unreadable file is reported as "permission denied".
  Outputs are written all or nothing: each to a temporary file next to it, every write
  checked, then all renamed into place together. If anything fails (disk full, a
  file-size limit, /dev/full), the temporary files are removed, existing files are
  left as they were, and the exit status is 2. Stopped by Ctrl-C (SIGINT) or SIGTERM,
  it removes its temporary files and any folder it created before it dies of the
  signal; the renames into place are never cut halfway.
  An output may not be an input, nor another output, under any spelling (./q.npy, an
  absolute path, a link): that is refused before anything is computed.

Masks (PyTorch's conventions; all masks given are added up):
  bool    true = this query may NOT look at this key; false = it may.
  float   added to the scaled scores before softmax: 0 keeps a key, -inf removes it,
          other finite values raise or lower its weight. NaN and +inf are refused.
  A fully masked query row: when every key of a query is masked in a head, that head
  gives the query zero weights and a zero result (PyTorch gives NaN there). If that
  happens in every head, the query's output row is out_proj's bias (zero without bias).

Exit status:
  0  success: `mha forward` and `mha backward` print one line per file written on stdout,
     `mha bench` its JSON object.
  2  bad input: a missing, unreadable, truncated or non-.npy file, or one that is not a
     regular file; a wrong dtype or shape; NaN or infinity in an input; E = 0, or E not
     divisible by H; a mask of the wrong shape, or float masks that add up to infinity;
     key and value that do not match; a --grad-output that is not of the query's shape;
     an unknown, repeated or missing option; a number that is not a whole number >= 1 or
     is beyond its range; an unknown --version; an output that is an input; an output
     file or folder that cannot be written, or whose writing failed (nothing is then
     written); a result that is not finite; a stdout that cannot be written (the
     run's files are then written, but what it printed is lost). Exactly one line goes to
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

`mha backward` (lesson 6) computes the gradients of the same call, in float64, given dY,
the gradient of a loss L with respect to the output: what PyTorch's autograd gives for
output.backward(dY) when query, key and value are three separate leaf tensors. It takes
the options of `mha forward` that name the inputs (--weights to --causal, as above) and:
  --grad-output DY.npy  dL/doutput: the output's shape, which is the query's, (B, L, E) or
                        (L, E); float32 or float64, finite numbers only.
  --grads-out DIR       the folder to write the gradients into, created if missing; files of
                        the same names are replaced, all or nothing (see Files, above).
                        All are in Q's dtype:
                          query.grad.npy (B, L, E), key.grad.npy (B, S, kdim) and
                          value.grad.npy (B, S, vdim), without B for unbatched input;
                          every parameter's gradient under the parameter's file name, as in
                          --weights: in_proj_weight.npy (3E, E), or q_proj_weight.npy,
                          k_proj_weight.npy and v_proj_weight.npy; out_proj.weight.npy (E, E);
                          in_proj_bias.npy (3E) and out_proj.bias.npy (E) with biases.
                        It may not be the --weights folder, whose files have the same names.
Without --key and --value (self-attention), the gradient of the one tensor that is query,
key and value is the sum of query.grad.npy, key.grad.npy and value.grad.npy. A fully
masked query passes no gradient back (PyTorch gives NaN there).

Example: PyTorch's gradients too (export_pytorch_mha.py --backward writes a random dY,
check/grad_output.npy, and autograd's float64 gradients into check/expected_grads):
  /usr/bin/python3 scripts/export_pytorch_mha.py --embed-dim 8 --num-heads 2 --cross \
      --causal --backward --check-dir check check/weights
  ./build/default/mha backward --weights check/weights --num-heads 2 \
      --query check/query.npy --key check/key.npy --value check/value.npy --causal \
      --grad-output check/grad_output.npy --grads-out grads
  # every file in grads/ should equal the file of the same name in check/expected_grads

`mha bench` times lesson 5's fast attention, mha::FastMultiHeadAttention, in float32:
self-attention of a random (B, L, E) input through a random module (the same seed every
run; no masks, no attention weights), one untimed warm-up pass, then R timed passes. It
prints one JSON object on one line of stdout, such as
  {"seq_len":512,"embed_dim":512,"num_heads":8,"batch":1,"threads":1,"repeat":10,
   "version":"v5-threaded","instruction_set":"avx512f","median_ms":12.0,"min_ms":11.8,
   "flops":1610612736.0,"gflops":134.2,"peak_rss_mb":31.2}
  median_ms, min_ms  the median and the fastest of the R passes, in milliseconds
  flops              the flops of one pass: 8·L·E² + 4·L²·E per batch entry
  gflops             flops over the median time, in billions per second
  instruction_set    the SIMD instructions the fast kernels chose on this CPU
  peak_rss_mb        the most memory the process ever held (getrusage's ru_maxrss), in
                     MiB: a fused version never holds the H·L·L scores at once

Options of `mha bench` (all whole numbers >= 1 but --version; a run that would need
more memory than the machine has is refused):
  --seq-len L           L, the length of the sequence (S = L: self-attention), at most
                        1000000. Required.
  --embed-dim E         E, the size of a token's vector, at most 65536. Required.
  --num-heads H         H, the number of heads; must divide E. Required.
  --batch B             B, the number of sequences, at most 100000. Default 1.
  --threads T           the threads the forward pass may use, at most 1024; only
                        v5-threaded uses more than one. Default 1.
  --repeat R            the number of timed passes, at most 100000. Default 10.
  --version V           which version of lesson 5: 1 to 5, or its name: v1-blas, v2-simd,
                        v3-blocked, v4-fused, v5-threaded (also blas, simd, blocked, fused,
                        threaded). Default: v5-threaded.

`mha train` (lesson 6) trains the course's tiny attention-only transformer (token and
position embeddings, attention layers on a residual stream, a read-out; no biases) with
Adam, in double precision, on one of lesson 6's tasks, and says what its heads learned:
  induction     sequences of 16 tokens ending in a segment repeated once; next-token
                prediction, counted inside the repeat (where it is predictable)
  coreference   "the animal didn't cross the street because it was too tired": at
                the position of "it", name the noun it refers to
While it trains, a progress bar with the loss goes to stderr. Into DIR it writes
  weights/            the trained weights as .npy, under PyTorch's names:
                      token_embedding.weight.npy, position_embedding.weight.npy,
                      layers.0/in_proj_weight.npy, layers.0/out_proj.weight.npy, ...,
                      readout.weight.npy, and model.json (layers, heads, causal; and
                      num_kv_heads if G < H)
  heads_before.svg    every head's attention on an example, before training
  heads_after.svg     the same after training
  loss.svg            the training loss of every step
and prints one JSON object on stdout: task, layers, heads, num_kv_heads, d_model,
vocabulary_size, sequence_length, batch (32), steps, seed,
seconds, milliseconds_per_step (the median step), final_loss (the last step's),
test_loss and test_accuracy (on held-out data, the same for every seed), and
heads_scores, one entry per layer and head: previous_token_score and induction_score
(induction), weight_on_referent and weight_on_other_noun (coreference), and
accuracy_without_head, the held-out accuracy with that head silenced (its columns of
W_o set to zero).

Options of `mha train`:
  --task TASK           induction or coreference. Required.
  --layers N            attention layers, 1 to 8. Default 2.
  --heads H             heads per layer; must divide D. Default 2.
  --num-kv-heads G      key/value heads per layer (lesson 7), shared by the H query heads in
                        G groups of H / G neighbours; must divide H. Default: G = H. G < H
                        trains the K/V rows of each group's heads tied (one parameter).
  --d-model D           the width of the residual stream, 1 to 256. Default: 24 (induction),
                        16 (coreference).
  --steps S             Adam steps, 1 to 100000. Default: 2000.
                        The step size starts at 0.01 and falls to 0 along half a cosine.
  --seed X              1 to 1000000000: the initial weights and the training batches.
                        Default 1. The same seed gives the same numbers on every run.
  --out DIR             the folder for the files above (created if missing). Required.
                        The files are written all or nothing, as `mha forward`'s are.

`mha generate` (lesson 7) loads a model written by `mha train` and continues a prompt
greedily, one token at a time, with one KV cache per layer: each token is printed as soon
as it is chosen, then every head's attention weights at the last step.
  --model DIR           the folder `mha train --out DIR` wrote (or its weights/ folder).
                        The model must be causal: induction's is, coreference's is not.
  --prompt IDS          token ids, separated by spaces or commas, such as "3 9 1 12"; each
                        a whole number below the model's vocabulary size. Required.
  --max-new-tokens N    the tokens to generate, default 8. The prompt and N - 1 of them
                        must fit in the position embedding (16 positions for induction).

Example: train the induction task and see the previous-token and induction heads:
  ./build/default/mha train --task induction --seed 3 --out runs/induction-3
  # then open runs/induction-3/heads_after.svg
  # and let it continue a repeated segment, 3 11 7 2 5 (lesson 7; it should print 7 2 5):
  ./build/default/mha generate --model runs/induction-3 --prompt "14 0 9 1 13 6 3 11 7 2 5 3 11" \
      --max-new-tokens 3

Example: the memory of the fused version at L = 8192, where the scores of all heads would
take 8 · 8192² floats = 2 GiB:
  ./build/default/mha bench --seq-len 8192 --embed-dim 512 --num-heads 8 --version v4 --repeat 3
)";

// Parses the command line and runs the subcommand it names.
void run_mha(const std::vector<std::string>& arguments) {
    CLI::App program("multi-head attention from the course, on .npy files", "mha");
    mha::cli::add_help_flag(program);
    program.require_subcommand(0, 1);  // at most one; none is refused below, in the course's words
    mha::cli::ForwardOptions forward_options;
    const CLI::App& forward = mha::cli::add_forward_command(program, forward_options);
    mha::cli::BenchOptions bench_options;
    const CLI::App& bench = mha::cli::add_bench_command(program, bench_options);
    mha::cli::BackwardOptions backward_options;
    const CLI::App& backward = mha::cli::add_backward_command(program, backward_options);
    mha::cli::TrainOptions train_options;
    const CLI::App& train = mha::cli::add_train_command(program, train_options);
    mha::cli::GenerateOptions generate_options;
    const CLI::App& generate = mha::cli::add_generate_command(program, generate_options);
    // `mha help` is `mha --help`; the empty group keeps it out of the list of subcommands.
    program.add_subcommand("help")->group("")->preparse_callback([](std::size_t) { throw CLI::CallForHelp(); });

    try {
        mha::cli::parse_command_line(program, arguments);
    } catch (const CLI::CallForHelp&) {
        std::cout << help_text;
        return;
    }
    if (forward.parsed()) {
        mha::cli::run_forward(forward_options);
    } else if (bench.parsed()) {
        mha::cli::run_bench(bench_options);
    } else if (backward.parsed()) {
        mha::cli::run_backward(backward_options);
    } else if (train.parsed()) {
        mha::cli::run_train(train_options);
    } else if (generate.parsed()) {
        mha::cli::run_generate(generate_options);
    } else {
        mha::cli::fail("subcommand", "missing; usage: mha forward --weights DIR --num-heads H --query Q.npy "
                                     "--out OUT.npy [options], mha backward (the same inputs) --grad-output "
                                     "DY.npy --grads-out DIR, mha bench --seq-len L --embed-dim E "
                                     "--num-heads H [options], mha train --task induction|coreference "
                                     "--out DIR [options], or mha generate --model DIR --prompt IDS "
                                     "[--max-new-tokens N] (see 'mha --help')");
    }
    // What a run prints is part of its result (`mha bench`'s and `mha train`'s numbers, the
    // files `mha forward` wrote): a stdout that cannot take it (a full disk, /dev/full, a
    // closed stdout) makes the run fail, rather than end in silent success.
    errno = 0;
    if (std::fflush(stdout) != 0 || std::ferror(stdout) != 0 || !std::cout.flush()) {
        const std::string why = errno != 0 ? mha::error_words(errno) : "a write failed";
        mha::cli::fail("stdout", "cannot be written (" + why + "); the run finished, but what it printed is lost");
    }
}

// The library's messages are one line already; this makes sure of it.
std::string one_line(std::string text) {
    std::replace(text.begin(), text.end(), '\n', ' ');
    std::replace(text.begin(), text.end(), '\r', ' ');
    return text;
}

}  // namespace

int main(int argc, char** argv) {
    // A file-size limit (ulimit -f) must make a write fail, which is checked and reported,
    // rather than kill the program with SIGXFSZ halfway through a file.
    std::signal(SIGXFSZ, SIG_IGN);
    // Ctrl-C or a SIGTERM while the outputs are being written: their temporary files go.
    mha::remove_registered_paths_on_signals();
    // Bad input is exit status 2 with one line on stderr; anything else is status 1.
    try {
        run_mha(std::vector<std::string>(argv + 1, argv + argc));
        return 0;
    } catch (const std::bad_alloc&) {
        std::cerr << "mha: internal error: out of memory\n";
        return 1;
    } catch (const std::runtime_error& error) {
        // An InputError, or one of the library's file errors (read_npy, load_parameters),
        // which start with the file's path.
        std::cerr << "mha: error: " << one_line(error.what()) << "\n";
        return 2;
    } catch (const std::exception& error) {
        // A bug, or, in an exercise workspace, an exercise not written yet (mha::not_implemented).
        std::cerr << "mha: internal error: " << one_line(error.what()) << "\n";
        return 1;
    } catch (...) {
        std::cerr << "mha: internal error: an unknown exception\n";
        return 1;
    }
}
