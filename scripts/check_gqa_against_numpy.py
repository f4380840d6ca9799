#!/usr/bin/python3
"""Checks `mha forward --num-kv-heads G` (lesson 7) against a NumPy float64
reference written here, independently of the C++: the key/value heads are
repeated over their groups (np.repeat) and attention is then plain multi-head
attention.

    /usr/bin/python3 scripts/check_gqa_against_numpy.py [--mha build/default/mha] [--trials 20] [--seed 1]

Each trial draws E, H, G (G divides H), B and L, with or without biases,
causal or not, float32 or float64 input, writes the weights under PyTorch's
names for separate projections (q_proj_weight.npy (E, E), k_proj_weight.npy and
v_proj_weight.npy (G*d_k, E), in_proj_bias.npy (E + 2*G*d_k), out_proj.weight.npy,
out_proj.bias.npy) and the input into a temporary folder, runs the command and
compares the output and the weights. It prints the largest difference of each
trial and exits with status 1 if any is above 1e-5 (or the command fails).
NumPy only; no torch, no internet.
"""

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
TOLERANCE = 1e-5


def reference(x, p, H, G, causal):
    """Grouped-query self-attention in float64: (B, L, E) -> (B, L, E), (B, H, L, L)."""
    B, L, E = x.shape
    d_k = E // H
    kv = G * d_k
    bias = p.get("in_proj_bias", np.zeros(E + 2 * kv))
    q = (x @ p["q_proj_weight"].T + bias[:E]).reshape(B, L, H, d_k).transpose(0, 2, 1, 3)
    k = (x @ p["k_proj_weight"].T + bias[E:E + kv]).reshape(B, L, G, d_k).transpose(0, 2, 1, 3)
    v = (x @ p["v_proj_weight"].T + bias[E + kv:]).reshape(B, L, G, d_k).transpose(0, 2, 1, 3)
    k = np.repeat(k, H // G, axis=1)  # (B, H, L, d_k)
    v = np.repeat(v, H // G, axis=1)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d_k)
    if causal:
        scores = np.where(np.triu(np.ones((L, L), dtype=bool), 1), -np.inf, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    out = (weights @ v).transpose(0, 2, 1, 3).reshape(B, L, E) @ p["out_proj.weight"].T
    return out + p.get("out_proj.bias", np.zeros(E)), weights


def trial(mha, rng, folder):
    H = int(rng.choice([1, 2, 3, 4, 6, 8]))
    G = int(rng.choice([g for g in range(1, H + 1) if H % g == 0]))
    d_k = int(rng.integers(1, 6))
    E, B, L = H * d_k, int(rng.integers(1, 4)), int(rng.integers(1, 9))
    with_bias, causal = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
    dtype = np.float32 if rng.integers(0, 2) else np.float64
    p = {"q_proj_weight": rng.normal(0, 0.5, (E, E)), "k_proj_weight": rng.normal(0, 0.5, (G * d_k, E)),
         "v_proj_weight": rng.normal(0, 0.5, (G * d_k, E)), "out_proj.weight": rng.normal(0, 0.5, (E, E))}
    if with_bias:
        p["in_proj_bias"] = rng.normal(0, 0.2, (E + 2 * G * d_k,))
        p["out_proj.bias"] = rng.normal(0, 0.2, (E,))
    weights_folder = folder / "weights"
    weights_folder.mkdir()
    for name, values in p.items():
        np.save(weights_folder / f"{name}.npy", values)
    x = rng.normal(0, 1, (B, L, E)).astype(dtype)
    np.save(folder / "x.npy", x)
    command = [mha, "forward", "--weights", str(weights_folder), "--num-heads", str(H), "--num-kv-heads", str(G),
               "--query", str(folder / "x.npy"), "--out", str(folder / "out.npy"),
               "--weights-out", str(folder / "w.npy")] + (["--causal"] if causal else [])
    run = subprocess.run(command, capture_output=True, text=True)
    description = (f"E={E} H={H} G={G} B={B} L={L} bias={with_bias} causal={causal} "
                   f"{np.dtype(dtype).name}")
    if run.returncode != 0:
        return description, float("inf"), run.stderr.strip()
    expected_out, expected_weights = reference(x.astype(np.float64), p, H, G, causal)
    out, weights = np.load(folder / "out.npy"), np.load(folder / "w.npy")
    if out.shape != expected_out.shape or weights.shape != expected_weights.shape:
        return description, float("inf"), f"shapes {out.shape} and {weights.shape}"
    difference = max(np.abs(out - expected_out).max(), np.abs(weights - expected_weights).max())
    return description, float(difference), ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mha", default=str(ROOT / "build" / "default" / "mha"), help="the mha executable")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    arguments = parser.parse_args()
    if not Path(arguments.mha).is_file():
        sys.exit(f"check_gqa_against_numpy.py: {arguments.mha} does not exist; build the target mha_command first")
    rng = np.random.default_rng(arguments.seed)
    worst = 0.0
    for number in range(arguments.trials):
        with tempfile.TemporaryDirectory() as folder:
            description, difference, problem = trial(arguments.mha, rng, Path(folder))
        worst = max(worst, difference)
        verdict = "ok" if difference <= TOLERANCE else "MISMATCH"
        print(f"trial {number + 1:2}: {description}: max difference {difference:.3g} {verdict} {problem}".rstrip())
    print(f"largest difference over {arguments.trials} trials: {worst:.3g} (tolerance {TOLERANCE:g})")
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
