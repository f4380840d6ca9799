#!/usr/bin/python3
"""End-to-end check of the `mha` command against PyTorch's nn.MultiheadAttention.

    ./scripts/check_mha_against_pytorch.py [path/to/mha]     (default: build/default/mha)

For every case in CASES, in float32 and in float64: export a fresh random module
with its inputs and PyTorch's float64 results (scripts/export_pytorch_mha.py
--backward), run `mha forward` on them twice (weights per head, then
--average-weights), and compare the output and both weights with PyTorch's;
then run `mha backward` with the exported random grad_output and compare every
gradient file it writes (query.grad.npy, key.grad.npy, value.grad.npy and each
parameter's, under its state_dict() name) with PyTorch autograd's float64
gradients, query, key and value being three separate leaf tensors. Every
element must satisfy |mha - pytorch| <= 1e-5 + 1e-5 * |pytorch| (numpy.allclose
with rtol = atol = 1e-5); the output and every gradient must be in the query's
dtype, of PyTorch's shape, and `mha backward` must write exactly the files
PyTorch has gradients for. Prints two tables of the largest differences, one
for the forward pass and one for the gradients; exits 1 on any mismatch.

No case masks every key of a query (the exported masks never mask key 0), so
PyTorch gives no NaN, where the course gives zeros, in the output or in the
gradients: the export checks that, and the comparisons need no NaN handling.

It needs Debian's PyTorch (./scripts/install-dependencies.sh --with-pytorch),
which only Debian's /usr/bin/python3 imports: the first line runs the script with
it. Another Python runs it when named (`python3 scripts/check_mha_against_pytorch.py`),
and also runs the exports; without torch and numpy it prints SKIPPED and exits 0,
so CI may run the script unconditionally.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

NAME = "check_mha_against_pytorch.py"
ROOT = Path(__file__).resolve().parent.parent
EXPORT = ROOT / "scripts" / "export_pytorch_mha.py"
TOLERANCE = 1e-5  # relative and absolute, as numpy.allclose(rtol=TOLERANCE, atol=TOLERANCE)

# One case: (name, E, H, more options of export_pytorch_mha.py, options of `mha forward`).
# Masks: a bool attn_mask, a bool key_padding_mask and the causal mask together;
# the last two cases add an unbatched input, float masks, per-head masks, bias=False.
CROSS = ["--cross", "--kdim", "6", "--vdim", "5", "--query-length", "3", "--key-length", "7"]
BOOL_MASKS = ["--attn-mask", "bool", "--key-padding-mask", "--causal"]
CASES = [
    ("self", 8, 2, [], []),
    ("self+masks", 8, 2, BOOL_MASKS, ["--causal"]),
    ("cross", 8, 2, CROSS, []),
    ("cross+masks", 8, 2, CROSS + BOOL_MASKS, ["--causal"]),
    ("self+masks, unbatched, per-head", 12, 3,
     ["--unbatched", "--query-length", "6", "--attn-mask", "bool", "--per-head-mask", "--key-padding-mask",
      "--causal"], ["--causal"]),
    ("cross+float masks, per-head, no bias", 16, 4,
     ["--no-bias", "--cross", "--batch", "3", "--query-length", "5", "--key-length", "2", "--attn-mask", "float",
      "--per-head-mask", "--key-padding-mask"], []),
]
DTYPES = ("float32", "float64")
FIRST_SEED = 101  # each case of each dtype gets the next seed


def fail(message):
    sys.exit(f"{NAME}: FAILED: {message}")


def ensure_mha(mha):
    """Builds mha_command in build/default when `mha` is not there yet."""
    if os.access(mha, os.X_OK):
        return
    print(f"{NAME}: building {mha} first", flush=True)
    for command in (["cmake", "--preset", "default"],
                    ["cmake", "--build", "--preset", "default", "--target", "mha_command"]):
        if subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL).returncode != 0:
            fail(" ".join(command) + " did not succeed")
    if not os.access(mha, os.X_OK):
        fail(f"{mha} is not an executable file (the build makes build/default/mha)")


def input_options(folder, heads, mha_options):
    """The options naming the exported inputs, the same for `mha forward` and `mha backward`."""
    arguments = ["--weights", folder / "weights", "--num-heads", str(heads), "--query", folder / "query.npy"]
    if (folder / "key.npy").is_file():
        arguments += ["--key", folder / "key.npy", "--value", folder / "value.npy"]
    for mask in ("attn_mask", "key_padding_mask"):
        if (folder / f"{mask}.npy").is_file():
            arguments += ["--" + mask.replace("_", "-"), folder / f"{mask}.npy"]
    return arguments + mha_options


def run_case(mha, folder, heads, mha_options):
    """Runs `mha forward` on the exported case twice (weights per head, then averaged),
    then `mha backward` into folder/grads. Returns the command line that failed, if any."""
    inputs = input_options(folder, heads, mha_options)
    for arguments in (["forward", *inputs, "--out", folder / "out.npy", "--weights-out", folder / "weights.npy"],
                      ["forward", *inputs, "--out", folder / "out_again.npy",
                       "--weights-out", folder / "average_weights.npy", "--average-weights"],
                      ["backward", *inputs, "--grad-output", folder / "grad_output.npy",
                       "--grads-out", folder / "grads"]):
        if subprocess.run([mha, *arguments], stdout=subprocess.DEVNULL).returncode != 0:
            return " ".join(str(word) for word in arguments)
    return None


def compare(numpy, actual_path, expected_path, dtype=None):
    """(largest |actual - expected|, whether every element is within tolerance and,
    if a dtype is given, the actual file has it)."""
    actual, expected = numpy.load(actual_path), numpy.load(expected_path)
    if actual.shape != expected.shape:
        return float("inf"), False
    error = float(numpy.max(numpy.abs(actual.astype(numpy.float64) - expected)))
    return error, bool(numpy.allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE)) and \
        (dtype is None or actual.dtype == dtype)


# The columns of the gradients' table: the files that go in each (a case has some of them).
GRADIENT_COLUMNS = (
    ("query", ("query.grad",)),
    ("key", ("key.grad",)),
    ("value", ("value.grad",)),
    ("W_qkv", ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight")),
    ("b_qkv", ("in_proj_bias",)),
    ("W_o", ("out_proj.weight",)),
    ("b_o", ("out_proj.bias",)),
)


def compare_gradients(numpy, folder, dtype):
    """Compares every file of folder/grads (`mha backward`) with the file of the same name
    in folder/expected_grads (PyTorch). Returns (largest error per column of
    GRADIENT_COLUMNS, None where the case has no such file; verdict)."""
    expected = {path.stem for path in (folder / "expected_grads").glob("*.npy")}
    actual = {path.stem for path in (folder / "grads").glob("*.npy")}
    errors, ok = {}, True
    for name in sorted(expected & actual):
        errors[name], within = compare(numpy, folder / "grads" / f"{name}.npy",
                                       folder / "expected_grads" / f"{name}.npy", dtype)
        ok = ok and within
    columns = [max((errors[name] for name in names if name in errors), default=None)
               for _, names in GRADIENT_COLUMNS]
    if expected != actual:
        missing, extra = sorted(expected - actual), sorted(actual - expected)
        return columns, "FAILED: " + "; ".join(part for part in (
            f"missing {', '.join(missing)}" if missing else "", f"unexpected {', '.join(extra)}" if extra else "")
            if part)
    return columns, "ok" if ok else "FAILED"


def main():
    parser = argparse.ArgumentParser(description="Check `mha forward` and `mha backward` against PyTorch's "
                                                 "nn.MultiheadAttention and its autograd on self- and "
                                                 "cross-attention, with and without masks.")
    parser.add_argument("mha", nargs="?", type=Path, default=ROOT / "build" / "default" / "mha",
                        help="the mha command to check (default: build/default/mha, built if missing)")
    mha = parser.parse_args().mha.resolve()
    try:
        import numpy
        import torch
    except (ImportError, OSError) as error:
        print(f"{NAME}: SKIPPED: {sys.executable} cannot import torch and numpy ({error}); "
              "./scripts/install-dependencies.sh --with-pytorch installs them for /usr/bin/python3")
        return 0
    ensure_mha(mha)

    print(f"{NAME}: torch {torch.__version__}, {mha}")
    print("\nmha forward:")
    header = f"{'case':<40} {'dtype':<8} {'output':>10} {'weights':>10} {'averaged':>10}  result"
    print(header)
    print("-" * len(header), flush=True)
    failures = 0
    gradient_rows = []  # printed after the forward table
    seed = FIRST_SEED
    with tempfile.TemporaryDirectory(prefix="mha-check.") as work:
        for dtype in DTYPES:
            for name, embed_dim, heads, export_options, mha_options in CASES:
                folder = Path(work) / f"case-{seed}"
                export = [sys.executable, EXPORT, "--embed-dim", str(embed_dim), "--num-heads", str(heads),
                          *export_options, "--dtype", dtype, "--seed", str(seed), "--backward",
                          "--check-dir", folder, folder / "weights"]
                seed += 1
                if subprocess.run(export, stdout=subprocess.DEVNULL).returncode != 0:
                    fail(f"export_pytorch_mha.py did not succeed (case {name}, {dtype})")
                failed_command = run_case(mha, folder, heads, mha_options)
                if failed_command:
                    fail(f"mha {failed_command} (case {name}, {dtype})")

                results = [compare(numpy, folder / f"{actual}.npy", folder / f"expected_{expected}.npy")
                           for actual, expected in (("out", "output"), ("weights", "weights"),
                                                    ("average_weights", "average_weights"))]
                query, output = numpy.load(folder / "query.npy"), numpy.load(folder / "out.npy")
                same_form = output.dtype == query.dtype and output.shape == query.shape
                ok = same_form and all(within for _, within in results)
                failures += not ok
                verdict = "ok" if ok else ("FAILED" if same_form else f"FAILED: out is {output.dtype} {output.shape}")
                print(f"{name:<40} {dtype:<8} " + " ".join(f"{error:>10.2e}" for error, _ in results) +
                      f"  {verdict}", flush=True)

                columns, gradient_verdict = compare_gradients(numpy, folder, query.dtype)
                failures += gradient_verdict != "ok"
                gradient_rows.append(f"{name:<40} {dtype:<8} " + " ".join(
                    f"{'-':>9}" if error is None else f"{error:>9.2e}" for error in columns) + f"  {gradient_verdict}")
    print("largest |mha forward - PyTorch float64| per file")

    print("\nmha backward (the gradients, against PyTorch's autograd):")
    header = f"{'case':<40} {'dtype':<8} " + " ".join(f"{column:>9}" for column, _ in GRADIENT_COLUMNS) + "  result"
    print(header)
    print("-" * len(header))
    print("\n".join(gradient_rows))
    print("largest |mha backward - PyTorch float64| per gradient: query, key, value = query.grad.npy, ...;\n"
          "W_qkv = in_proj_weight.npy, or the largest of q_proj_weight.npy, k_proj_weight.npy and\n"
          "v_proj_weight.npy; b_qkv = in_proj_bias.npy; W_o, b_o = out_proj.weight.npy, out_proj.bias.npy;\n"
          "- where the module has no such parameter (bias=False)")
    print(f"\ntolerance {TOLERANCE:g} relative + {TOLERANCE:g} absolute (numpy.allclose)")
    if failures:
        print(f"{NAME}: FAILED: {failures} comparison(s) differ from PyTorch")
        return 1
    print(f"{NAME}: all cases match PyTorch")
    return 0


if __name__ == "__main__":
    sys.exit(main())
