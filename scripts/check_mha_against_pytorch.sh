#!/usr/bin/env bash
# End-to-end check of the `mha` command against PyTorch's nn.MultiheadAttention.
#
#   ./scripts/check_mha_against_pytorch.sh [path/to/mha]     (default: build/default/mha)
#
# For every case below, in float32 and in float64: export a fresh random module
# with its inputs and PyTorch's float64 results (scripts/export_pytorch_mha.py),
# run `mha forward` on them twice (weights per head, then --average-weights),
# and compare the output and both weights with PyTorch's: every element must
# satisfy |mha - pytorch| <= 1e-5 + 1e-5 * |pytorch| (numpy.allclose with
# rtol = atol = 1e-5), and the output must have the query's shape and dtype.
# Prints a table of the largest differences; exits 1 on any mismatch.
#
# It needs Debian's PyTorch (./scripts/install-dependencies.sh --with-pytorch);
# without it, it prints SKIPPED and exits 0, so CI may run it unconditionally.
# MHA_PYTHON chooses another Python (default /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."

python=${MHA_PYTHON:-/usr/bin/python3}
if ! "$python" -c 'import torch, numpy' >/dev/null 2>&1; then
  echo "check_mha_against_pytorch.sh: SKIPPED: $python cannot import torch and numpy" \
       "(./scripts/install-dependencies.sh --with-pytorch installs them)"
  exit 0
fi

mha=${1:-build/default/mha}
if [ ! -x "$mha" ]; then
  echo "check_mha_against_pytorch.sh: building $mha first"
  cmake --preset default >/dev/null
  cmake --build --preset default --target mha_command >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mha-check.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One case per line: name | H | options of export_pytorch_mha.py | options of `mha forward`.
# Masks: a bool attn_mask, a bool key_padding_mask and the causal mask together;
# the last two cases add an unbatched input, float masks, per-head masks, bias=False.
cases=(
  "self|2|--embed-dim 8 --num-heads 2|"
  "self+masks|2|--embed-dim 8 --num-heads 2 --attn-mask bool --key-padding-mask --causal|--causal"
  "cross|2|--embed-dim 8 --num-heads 2 --cross --kdim 6 --vdim 5 --query-length 3 --key-length 7|"
  "cross+masks|2|--embed-dim 8 --num-heads 2 --cross --kdim 6 --vdim 5 --query-length 3 --key-length 7 --attn-mask bool --key-padding-mask --causal|--causal"
  "self+masks, unbatched, per-head|3|--embed-dim 12 --num-heads 3 --unbatched --query-length 6 --attn-mask bool --per-head-mask --key-padding-mask --causal|--causal"
  "cross+float masks, per-head, no bias|4|--embed-dim 16 --num-heads 4 --no-bias --cross --batch 3 --query-length 5 --key-length 2 --attn-mask float --per-head-mask --key-padding-mask|"
)

echo "check_mha_against_pytorch.sh: $("$python" -c 'import torch; print("torch", torch.__version__)' 2>/dev/null), $mha"
seed=100
for dtype in float32 float64; do
  for line in "${cases[@]}"; do
    IFS='|' read -r name heads export_options mha_options <<<"$line"
    seed=$((seed + 1))
    dir="$work/case-$seed"
    # shellcheck disable=SC2086  # the options are words on purpose
    "$python" scripts/export_pytorch_mha.py $export_options --dtype "$dtype" --seed "$seed" \
      --check-dir "$dir" "$dir/weights" >/dev/null

    arguments=(forward --weights "$dir/weights" --num-heads "$heads" --query "$dir/query.npy")
    if [ -f "$dir/key.npy" ]; then arguments+=(--key "$dir/key.npy" --value "$dir/value.npy"); fi
    if [ -f "$dir/attn_mask.npy" ]; then arguments+=(--attn-mask "$dir/attn_mask.npy"); fi
    if [ -f "$dir/key_padding_mask.npy" ]; then arguments+=(--key-padding-mask "$dir/key_padding_mask.npy"); fi
    # shellcheck disable=SC2206
    arguments+=($mha_options)
    if ! "$mha" "${arguments[@]}" --out "$dir/out.npy" --weights-out "$dir/weights.npy" >/dev/null ||
       ! "$mha" "${arguments[@]}" --out "$dir/out_again.npy" --weights-out "$dir/average_weights.npy" \
            --average-weights >/dev/null; then
      echo "check_mha_against_pytorch.sh: FAILED: mha ${arguments[*]} (case $name, $dtype)" >&2
      exit 1
    fi
    printf '%s|%s|%s\n' "$dir" "$name" "$dtype" >>"$work/cases.txt"
  done
done

# The comparison, one row per case.
"$python" - "$work/cases.txt" <<'PYTHON'
import sys
import numpy as np

TOLERANCE = 1e-5  # relative and absolute, as numpy.allclose(rtol=TOLERANCE, atol=TOLERANCE)

def compare(actual_path, expected_path):
    """(largest |actual - expected|, whether every element is within tolerance)."""
    actual, expected = np.load(actual_path), np.load(expected_path)
    if actual.shape != expected.shape:
        return float("inf"), False
    error = float(np.max(np.abs(actual.astype(np.float64) - expected)))
    return error, bool(np.allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE))

failures = 0
header = f"{'case':<40} {'dtype':<8} {'output':>10} {'weights':>10} {'averaged':>10}  result"
print(header)
print("-" * len(header))
for line in open(sys.argv[1]):
    folder, name, dtype = line.rstrip("\n").split("|")
    results = [compare(f"{folder}/{actual}.npy", f"{folder}/expected_{expected}.npy")
               for actual, expected in (("out", "output"), ("weights", "weights"),
                                        ("average_weights", "average_weights"))]
    query, output = np.load(f"{folder}/query.npy"), np.load(f"{folder}/out.npy")
    same_form = output.dtype == query.dtype and output.shape == query.shape
    ok = same_form and all(within for _, within in results)
    failures += not ok
    verdict = "ok" if ok else ("FAILED" if same_form else f"FAILED: out is {output.dtype} {output.shape}")
    print(f"{name:<40} {dtype:<8} " + " ".join(f"{error:>10.2e}" for error, _ in results) + f"  {verdict}")
print(f"\nlargest |mha forward - PyTorch float64| per file; tolerance {TOLERANCE:g} relative + {TOLERANCE:g} absolute")
if failures:
    print(f"check_mha_against_pytorch.sh: FAILED: {failures} case(s) differ from PyTorch")
    sys.exit(1)
print("check_mha_against_pytorch.sh: all cases match PyTorch")
PYTHON
