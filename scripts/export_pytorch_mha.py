#!/usr/bin/python3
"""Exports a PyTorch nn.MultiheadAttention for the course's `mha` command.

Run it with Debian's Python, the one that can import python3-torch
(./scripts/install-dependencies.sh --with-pytorch installs it); no internet,
no pip. Two ways to use it:

1. From Python, on a module you already have (trained or not):

       import sys; sys.path.insert(0, "scripts")
       from export_pytorch_mha import export
       export(my_attention, "weights")      # my_attention: any nn.MultiheadAttention

   writes one .npy file per entry of my_attention.state_dict(), named as
   mha::load_parameters expects them (see export() below).

2. From the command line, on a fresh randomly initialised module, with test
   inputs and PyTorch's own results to compare with. The teacher's workflow:

       # a module with E = 8, H = 2, plus inputs and PyTorch's float64 results
       /usr/bin/python3 scripts/export_pytorch_mha.py --embed-dim 8 --num-heads 2 \\
           --cross --key-padding-mask --causal --check-dir check check/weights

       # the course's attention on the same inputs (build it first:
       # cmake --preset default && cmake --build --preset default)
       ./build/default/mha forward --weights check/weights --num-heads 2 \\
           --query check/query.npy --key check/key.npy --value check/value.npy \\
           --key-padding-mask check/key_padding_mask.npy --causal \\
           --out out.npy --weights-out weights.npy

       # compare: the largest difference should be about 1e-15 (1e-7 for --dtype float32)
       /usr/bin/python3 -c "import numpy as n; print(abs(n.load('out.npy') - n.load('check/expected_output.npy')).max())"

   The script prints the exact `mha forward` command for the options given,
   and writes it, with a list of the files, into CHECK_DIR/README.txt.
   scripts/check_mha_against_pytorch.py runs this workflow for many cases.

Files written into the check folder (--check-dir):

    query.npy                      (B, L, E)    float64 or float32 (--dtype); (L, E) with --unbatched
    key.npy, value.npy             (B, S, kdim), (B, S, vdim); only with --cross (otherwise
                                   key = value = query: self-attention)
    attn_mask.npy                  (L, S), or (B*H, L, S) with --per-head-mask; bool, or float64
                                   with --attn-mask float; only with --attn-mask
    key_padding_mask.npy           (B, S) bool, (S) with --unbatched; only with --key-padding-mask
    expected_output.npy            (B, L, E)    float64: PyTorch's output
    expected_weights.npy           (B, H, L, S) float64: PyTorch's weights per head
    expected_average_weights.npy   (B, L, S)    float64: the same averaged over the heads
    README.txt                     what this list says, and the `mha forward` command to run

and with --backward, for lesson 6's `mha backward`:

    grad_output.npy                (B, L, E)    a random dL/doutput, in the query's dtype
    expected_grads/                PyTorch autograd's float64 gradients, named as
                                   `mha backward --grads-out` names them:
      query.grad.npy, key.grad.npy, value.grad.npy    (B, L, E), (B, S, kdim), (B, S, vdim)
      in_proj_weight.npy, ... out_proj.bias.npy       each parameter's .grad, under its
                                                      state_dict() name

The expected results are computed by PyTorch in float64 on the inputs as saved
(float32 inputs are widened exactly), in eval() mode, with batch_first=True.
The gradients are those of output.backward(grad_output) with query, key and
value three separate leaf tensors, as `mha backward` treats them, also for
self-attention, where the three hold the same numbers.
--causal is not a file: torch 1.13's nn.MultiheadAttention has no is_causal,
so the reference ORs the causal mask into attn_mask, and `mha forward` must be
given --causal. The random masks never mask key 0, which every query may see
even with --causal, so no query has all its keys masked: PyTorch gives NaN for
such a row (in the output and in the gradients) where the course gives zeros.

The same --seed always writes the same numbers.
"""

import argparse
import copy
import math
import shlex
import sys
from pathlib import Path

import numpy as np
import torch

# Every file name mha::load_parameters knows. export() deletes those it does not
# write, so that a folder reused for another module holds no stale parameters
# (the loader prefers in_proj_weight.npy and loads biases whenever present).
PARAMETER_NAMES = ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight",
                   "in_proj_bias", "out_proj.weight", "out_proj.bias")


# ---------------------------------------------------------------------------
# Export: the module's parameters as .npy files
# ---------------------------------------------------------------------------

def export(module, directory):
    """Saves the parameters of `module`, an nn.MultiheadAttention, as .npy files
    in `directory` (created if needed), under the names mha::load_parameters reads:

        in_proj_weight.npy   (3E, E)   when kdim = vdim = E; otherwise
        q_proj_weight.npy    (E, E), k_proj_weight.npy (E, kdim), v_proj_weight.npy (E, vdim)
        out_proj.weight.npy  (E, E)
        in_proj_bias.npy     (3E)      } only when the module has biases (bias=True,
        out_proj.bias.npy    (E)       } PyTorch's default); bias=False saves neither

    Every file is float64, whatever the module's dtype: widening float32 (or
    float16, bfloat16) to float64 is exact, so nothing is lost, and the course
    computes in float64 anyway. Returns the list of paths written.

    Raises ValueError for what the course does not implement: add_bias_kv=True,
    add_zero_attn=True, or a module with one bias but not the other.
    """
    if not isinstance(module, torch.nn.MultiheadAttention):
        raise TypeError(f"export() takes an nn.MultiheadAttention, not {type(module).__name__}")
    if module.bias_k is not None or module.bias_v is not None:
        raise ValueError("this nn.MultiheadAttention was made with add_bias_kv=True, which appends learned "
                         "bias_k/bias_v rows to the keys and values; the course does not implement it, so "
                         "its `mha` command could not reproduce this module")
    if module.add_zero_attn:
        raise ValueError("this nn.MultiheadAttention was made with add_zero_attn=True, which appends a zero "
                         "key and value; the course does not implement it, so its `mha` command could not "
                         "reproduce this module")

    # state_dict() holds exactly the entries the module has: no in_proj_bias or
    # out_proj.bias with bias=False, q/k/v_proj_weight instead of in_proj_weight
    # when kdim or vdim differs from E. Some versions keep None entries: skip them.
    state = {name: tensor for name, tensor in module.state_dict().items() if tensor is not None}
    if ("in_proj_bias" in state) != ("out_proj.bias" in state):
        present, absent = ("in_proj_bias", "out_proj.bias") if "in_proj_bias" in state else \
                          ("out_proj.bias", "in_proj_bias")
        raise ValueError(f"this module has {present} but no {absent}; the course's modules have both "
                         "biases or neither")

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in PARAMETER_NAMES:
        path = directory / f"{name}.npy"
        if name in state:
            values = state[name].detach().cpu().to(torch.float64).numpy()
            np.save(path, np.ascontiguousarray(values))
            written.append(path)
        else:
            path.unlink(missing_ok=True)  # a stale file from an earlier export
    return written


# ---------------------------------------------------------------------------
# PyTorch's results, for comparison
# ---------------------------------------------------------------------------

def causal_mask(query_count, key_count):
    """(L, S) bool, True above the diagonal: query i may not look at keys j > i
    (the course's mha::causal_mask, aligned at the top-left corner)."""
    return torch.ones(query_count, key_count, dtype=torch.bool).triu(diagonal=1)


def float64_call(module, query, key, value, attn_mask, causal):
    """What reference() and reference_gradients() share: a float64 copy of the
    module in eval() mode, the inputs widened to float64 (exactly, from float32),
    and attn_mask with the causal mask ORed in (a float attn_mask gets -inf there)."""
    module = copy.deepcopy(module).to(torch.float64).eval()
    query, key, value = (x.to(torch.float64) for x in (query, key, value))
    if causal:
        mask = causal_mask(query.shape[-2], key.shape[-2])  # (L, S), broadcasts over a (B*H, L, S) mask
        if attn_mask is None:
            attn_mask = mask
        elif attn_mask.dtype == torch.bool:
            attn_mask = attn_mask | mask
        else:
            attn_mask = attn_mask.masked_fill(mask, -math.inf)
    if attn_mask is not None and attn_mask.is_floating_point():
        attn_mask = attn_mask.to(torch.float64)
    return module, query, key, value, attn_mask


def reference(module, query, key, value, attn_mask=None, key_padding_mask=None, causal=False):
    """PyTorch's results for the course's `mha forward` on the same inputs.

    query (B, L, E) or unbatched (L, E); key, value likewise, batch first;
    attn_mask (L, S) or (B*H, L, S), bool or float; key_padding_mask (B, S) or
    (S), bool; causal ORs causal_mask(L, S) into attn_mask (a float attn_mask
    gets -inf there). Everything is computed in float64, on a float64 copy of
    the module in eval() mode. Returns (output, weights per head, averaged
    weights) as float64 tensors: (B, L, E), (B, H, L, S), (B, L, S), without B
    for unbatched input.
    """
    module, query, key, value, attn_mask = float64_call(module, query, key, value, attn_mask, causal)
    batched = query.dim() == 3
    if batched and not module.batch_first:
        query, key, value = (x.transpose(0, 1) for x in (query, key, value))  # (B, L, E) -> (L, B, E)
    results = []
    with torch.no_grad():
        for average in (False, True):
            output, weights = module(query, key, value, key_padding_mask=key_padding_mask, need_weights=True,
                                     attn_mask=attn_mask, average_attn_weights=average)
            results.append((output, weights))
    output = results[0][0]
    if batched and not module.batch_first:
        output = output.transpose(0, 1)
    return output, results[0][1], results[1][1]


def reference_gradients(module, query, key, value, grad_output, attn_mask=None, key_padding_mask=None,
                        causal=False):
    """PyTorch autograd's gradients for the course's `mha backward` on the same inputs.

    The inputs and masks are as for reference(); grad_output, dL/doutput, has
    the output's shape, the query's. query, key and value become three separate
    float64 leaf tensors (even when they hold the same numbers, as in
    self-attention), the float64 copy of the module runs forward, and
    output.backward(grad_output) fills every .grad. Returns a dict of float64
    tensors named as `mha backward` names its files, without ".npy":
    "query.grad", "key.grad", "value.grad" (the inputs' shapes), and each
    parameter's gradient under its state_dict() name ("in_proj_weight", ...).
    """
    module, query, key, value, attn_mask = float64_call(module, query, key, value, attn_mask, causal)
    if not module.batch_first:
        raise ValueError("reference_gradients() takes a module made with batch_first=True")
    leaves = {name: x.detach().clone().requires_grad_(True) for name, x in (("query", query), ("key", key),
                                                                             ("value", value))}
    output, _ = module(leaves["query"], leaves["key"], leaves["value"], key_padding_mask=key_padding_mask,
                       need_weights=False, attn_mask=attn_mask)
    output.backward(grad_output.to(torch.float64))
    gradients = {f"{name}.grad": leaf.grad for name, leaf in leaves.items()}
    for name, parameter in module.named_parameters():  # the state_dict() names: in_proj_weight, out_proj.bias, ...
        gradients[name] = parameter.grad if parameter.grad is not None else torch.zeros_like(parameter)
    return gradients


# ---------------------------------------------------------------------------
# Command line: a fresh module, random inputs, PyTorch's results
# ---------------------------------------------------------------------------

def random_inputs(arguments, generator):
    """The inputs and masks the check folder holds, as torch tensors in the
    dtype to save (query, key, value, attn_mask, key_padding_mask); key and
    value are None for self-attention, masks None when not asked for."""
    E, H = arguments.embed_dim, arguments.num_heads
    B, L = arguments.batch, arguments.query_length
    S = arguments.key_length if arguments.cross else L
    dtype = torch.float32 if arguments.dtype == "float32" else torch.float64
    leading = () if arguments.unbatched else (B,)

    def normal(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)

    query = normal(*leading, L, E)
    key = normal(*leading, S, arguments.kdim or E) if arguments.cross else None
    value = normal(*leading, S, arguments.vdim or E) if arguments.cross else None

    attn_mask = None
    if arguments.attn_mask != "none":
        shape = ((1 if arguments.unbatched else B) * H, L, S) if arguments.per_head_mask else (L, S)
        removed = torch.rand(*shape, generator=generator) < 0.3  # about 30% of the pairs
        removed[..., 0] = False  # key 0 stays visible to every query
        if arguments.attn_mask == "bool":
            attn_mask = removed
        else:  # float: random finite tilts, -inf where removed
            attn_mask = torch.randn(*shape, generator=generator, dtype=torch.float64)
            attn_mask = attn_mask.masked_fill(removed, -math.inf)

    key_padding_mask = None
    if arguments.key_padding_mask:
        # Padding at the end, as in a batch of sentences of different lengths. At least half
        # the keys are real (key 0 always), so that the other masks still have keys to act on.
        lengths = torch.randint((S + 1) // 2, S + 1, (1 if arguments.unbatched else B,), generator=generator)
        positions = torch.arange(S)
        key_padding_mask = positions.unsqueeze(0) >= lengths.unsqueeze(1)  # (B, S) or (1, S)
        if arguments.unbatched:
            key_padding_mask = key_padding_mask[0]  # (S)
    return query, key, value, attn_mask, key_padding_mask


def mha_command(arguments, weights_dir, files, subcommand="forward"):
    """The `mha forward` (or `mha backward`) command that should reproduce the check folder's results."""
    words = ["./build/default/mha", subcommand, "--weights", str(weights_dir),
             "--num-heads", str(arguments.num_heads), "--query", str(files["query"])]
    for option in ("key", "value", "attn_mask", "key_padding_mask"):
        if option in files:
            words += ["--" + option.replace("_", "-"), str(files[option])]
    if arguments.causal:
        words.append("--causal")
    if subcommand == "forward":
        words += ["--out", "out.npy", "--weights-out", "weights.npy"]
    else:
        words += ["--grad-output", str(files["grad_output"]), "--grads-out", "grads"]
    return " ".join(shlex.quote(word) for word in words)


def write_check_folder(arguments, module, generator):
    """Writes random inputs, masks and PyTorch's float64 results (and, with --backward, dL/doutput and
    autograd's gradients) into --check-dir; returns the `mha forward` and `mha backward` commands
    (None without --backward) that should reproduce them."""
    check_dir = Path(arguments.check_dir)
    check_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*check_dir.glob("*.npy"), *check_dir.glob("expected_grads/*.npy")]:  # of an earlier run
        stale.unlink()
    query, key, value, attn_mask, key_padding_mask = random_inputs(arguments, generator)
    # dL/doutput, drawn after everything else, so that --backward changes none of the numbers above.
    grad_output = torch.randn(*query.shape, generator=generator, dtype=torch.float64).to(query.dtype) \
        if arguments.backward else None

    files = {}
    for name, tensor in (("query", query), ("key", key), ("value", value), ("attn_mask", attn_mask),
                         ("key_padding_mask", key_padding_mask), ("grad_output", grad_output)):
        if tensor is not None:
            files[name] = check_dir / f"{name}.npy"
            np.save(files[name], tensor.numpy())

    output, weights, average_weights = reference(
        module, query, query if key is None else key, query if value is None else value,
        attn_mask=attn_mask, key_padding_mask=key_padding_mask, causal=arguments.causal)
    for name, tensor in (("expected_output", output), ("expected_weights", weights),
                         ("expected_average_weights", average_weights)):
        np.save(check_dir / f"{name}.npy", tensor.numpy())
    if not torch.isfinite(output).all():
        raise AssertionError("PyTorch's output holds NaN: some query has all its keys masked")
    if arguments.backward:
        (check_dir / "expected_grads").mkdir(exist_ok=True)
        gradients = reference_gradients(
            module, query, query if key is None else key, query if value is None else value, grad_output,
            attn_mask=attn_mask, key_padding_mask=key_padding_mask, causal=arguments.causal)
        for name, tensor in gradients.items():
            if not torch.isfinite(tensor).all():  # as for the output: a fully masked query gives NaN
                raise AssertionError(f"PyTorch's gradient {name} holds NaN: some query has all its keys masked")
            np.save(check_dir / "expected_grads" / f"{name}.npy", tensor.detach().numpy())

    command = mha_command(arguments, arguments.directory, files)
    shapes = "\n".join(f"    {str(path.relative_to(check_dir)):<{34 if arguments.backward else 30}} {tuple(np.load(path).shape)} {np.load(path).dtype}"
                       for path in sorted([*check_dir.glob("*.npy"), *check_dir.glob("expected_grads/*.npy")]))
    backward_command = mha_command(arguments, arguments.directory, files, "backward") if arguments.backward else None
    backward = "" if not arguments.backward else (
        f"\nThe course's gradients, given grad_output.npy (dL/doutput), from the same folder:\n\n"
        f"    {backward_command}\n\n"
        f"every file in grads/ should equal the file of the same name in expected_grads/ to about 1e-14\n"
        f"(1e-6 relative for float32 inputs).\n")
    (check_dir / "README.txt").write_text(
        f"Written by: /usr/bin/python3 scripts/export_pytorch_mha.py {' '.join(shlex.quote(a) for a in sys.argv[1:])}\n"
        f"torch {torch.__version__}, numpy {np.__version__}\n\n"
        f"The inputs of a random nn.MultiheadAttention(embed_dim={arguments.embed_dim}, "
        f"num_heads={arguments.num_heads}, kdim={arguments.kdim}, vdim={arguments.vdim}, "
        f"bias={not arguments.no_bias}, batch_first=True), whose parameters are in {arguments.directory},\n"
        f"and PyTorch's float64 results (expected_*.npy){' with the causal mask (--causal)' if arguments.causal else ''}:\n\n"
        f"{shapes}\n\n"
        f"The course's results, from the folder the script ran in (normally the repository's top folder):\n\n"
        f"    {command}\n\n"
        f"out.npy should equal expected_output.npy and weights.npy expected_weights.npy to about 1e-15\n"
        f"(1e-7 for float32 inputs); with --average-weights, weights.npy is expected_average_weights.npy.\n"
        f"{backward}")
    return command, backward_command


def parse_arguments():
    parser = argparse.ArgumentParser(
        description="Export a fresh random nn.MultiheadAttention for the course's `mha` command, "
                    "optionally with test inputs and PyTorch's float64 results (--check-dir).",
        epilog="Example: /usr/bin/python3 scripts/export_pytorch_mha.py --embed-dim 8 --num-heads 2 "
               "--check-dir check check/weights")
    parser.add_argument("directory", help="the folder to write the parameter files into (created if needed)")
    parser.add_argument("--embed-dim", type=int, required=True, help="E, the size of queries and outputs")
    parser.add_argument("--num-heads", type=int, required=True, help="H, which must divide E")
    parser.add_argument("--kdim", type=int, default=None, help="the size of keys (default E)")
    parser.add_argument("--vdim", type=int, default=None, help="the size of values (default E)")
    parser.add_argument("--no-bias", action="store_true", help="make the module with bias=False")
    parser.add_argument("--seed", type=int, default=0, help="the random seed (default 0)")
    check = parser.add_argument_group("the check folder (only with --check-dir)")
    check.add_argument("--check-dir", help="also write random inputs and PyTorch's float64 results here")
    check.add_argument("--batch", type=int, default=2, help="B, the number of sequences (default 2)")
    check.add_argument("--query-length", type=int, default=4, help="L, the number of queries (default 4)")
    check.add_argument("--key-length", type=int, default=5, help="S, the number of keys with --cross (default 5)")
    check.add_argument("--cross", action="store_true",
                       help="cross-attention: separate key.npy and value.npy of length S (needed for kdim/vdim)")
    check.add_argument("--unbatched", action="store_true", help="inputs without the batch axis: (L, E)")
    check.add_argument("--dtype", choices=("float32", "float64"), default="float64",
                       help="the dtype of query, key and value (default float64)")
    check.add_argument("--attn-mask", choices=("none", "bool", "float"), default="none",
                       help="write a random attn_mask.npy (default none)")
    check.add_argument("--per-head-mask", action="store_true", help="make attn_mask (B*H, L, S), not (L, S)")
    check.add_argument("--key-padding-mask", action="store_true", help="write a random key_padding_mask.npy")
    check.add_argument("--causal", action="store_true",
                       help="PyTorch's results use the causal mask too (give `mha forward` --causal)")
    check.add_argument("--backward", action="store_true",
                       help="also write a random grad_output.npy and PyTorch autograd's float64 gradients "
                            "into expected_grads/, for `mha backward`")
    arguments = parser.parse_args()
    if arguments.embed_dim < 1 or arguments.num_heads < 1 or arguments.embed_dim % arguments.num_heads:
        parser.error(f"--num-heads {arguments.num_heads} must be >= 1 and divide --embed-dim {arguments.embed_dim}")
    if (arguments.kdim or arguments.vdim) and arguments.check_dir and not arguments.cross:
        parser.error("--kdim and --vdim need --cross: self-attention uses the query as key and value")
    if arguments.backward and not arguments.check_dir:
        parser.error("--backward writes into the check folder: give --check-dir too")
    if min(arguments.batch, arguments.query_length, arguments.key_length) < 1:
        parser.error("--batch, --query-length and --key-length must be >= 1")
    return arguments


def main():
    arguments = parse_arguments()
    torch.manual_seed(arguments.seed)  # the module's initial parameters
    module = torch.nn.MultiheadAttention(arguments.embed_dim, arguments.num_heads, bias=not arguments.no_bias,
                                         kdim=arguments.kdim, vdim=arguments.vdim, batch_first=True)
    # PyTorch starts biases at zero; random ones make a better test of the bias plumbing.
    with torch.no_grad():
        for bias in (module.in_proj_bias, module.out_proj.bias):
            if bias is not None:
                bias.uniform_(-0.5, 0.5)
    for path in export(module, arguments.directory):
        print(f"wrote {path} {tuple(np.load(path).shape)}")
    if arguments.check_dir:
        generator = torch.Generator().manual_seed(arguments.seed + 1)  # the inputs
        command, backward_command = write_check_folder(arguments, module, generator)
        print(f"wrote the inputs and PyTorch's results into {arguments.check_dir}; "
              f"now run, from this folder:\n  {command}")
        if backward_command:
            print(f"and, for the gradients (PyTorch's are in {Path(arguments.check_dir) / 'expected_grads'}):\n"
                  f"  {backward_command}")


if __name__ == "__main__":
    main()
