#!/usr/bin/python3
"""Writes the NumPy reference values that lesson 7's grouped-query attention
(src/decode/) is checked against, in float64, written independently of the C++:
the key/value heads are repeated over their groups (np.repeat) and attention is
then plain multi-head attention.

Run it from anywhere with Debian's Python (NumPy only; no torch, no internet):

    /usr/bin/python3 scripts/generate_decoding_fixtures.py

It writes the same numbers every time (a fixed seed per configuration). For each
configuration it writes tests/fixtures/lesson07/<name>/:

    config.txt             one line: E H G B L
    q_proj_weight.npy      (E, E)
    k_proj_weight.npy      (G*d_k, E)
    v_proj_weight.npy      (G*d_k, E)
    in_proj_bias.npy       (E + 2*G*d_k): b_q, b_k, b_v
    out_proj.weight.npy    (E, E)
    out_proj.bias.npy      (E)
    x.npy                  (B, L, E): the input, query = key = value
    expected_output.npy    (B, L, E): causal self-attention
    expected_weights.npy   (B, H, L, L): every query head's causal weights
"""

from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "lesson07"

# name: (E, H, G, B, L, seed)
CONFIGS = {
    "grouped": (8, 4, 2, 2, 5, 1),
    "multi_query": (12, 6, 1, 1, 6, 2),
    "groups_of_three": (12, 6, 2, 3, 4, 3),
}


def grouped_causal_attention(x, wq, wk, wv, bq, bk, bv, wo, bo, H, G):
    """softmax(Q K^T / sqrt(d_k) + causal) V per query head, with K and V repeated per group."""
    B, L, E = x.shape
    d_k = E // H
    q = (x @ wq.T + bq).reshape(B, L, H, d_k).transpose(0, 2, 1, 3)  # (B, H, L, d_k)
    k = (x @ wk.T + bk).reshape(B, L, G, d_k).transpose(0, 2, 1, 3)  # (B, G, L, d_k)
    v = (x @ wv.T + bv).reshape(B, L, G, d_k).transpose(0, 2, 1, 3)  # (B, G, L, d_k)
    k = np.repeat(k, H // G, axis=1)  # (B, H, L, d_k): group g serves heads g*H/G ... (g+1)*H/G - 1
    v = np.repeat(v, H // G, axis=1)
    scores = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d_k)  # (B, H, L, L)
    scores = np.where(np.triu(np.ones((L, L), dtype=bool), 1), -np.inf, scores)
    scores -= scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores)
    weights /= weights.sum(axis=-1, keepdims=True)
    heads = weights @ v  # (B, H, L, d_k)
    concatenated = heads.transpose(0, 2, 1, 3).reshape(B, L, E)
    return concatenated @ wo.T + bo, weights


def main():
    for name, (E, H, G, B, L, seed) in CONFIGS.items():
        rng = np.random.default_rng(seed)
        d_k = E // H
        kv = G * d_k
        p = {
            "q_proj_weight": rng.normal(0, 0.5, (E, E)),
            "k_proj_weight": rng.normal(0, 0.5, (kv, E)),
            "v_proj_weight": rng.normal(0, 0.5, (kv, E)),
            "in_proj_bias": rng.normal(0, 0.2, (E + 2 * kv,)),
            "out_proj.weight": rng.normal(0, 0.5, (E, E)),
            "out_proj.bias": rng.normal(0, 0.2, (E,)),
        }
        x = rng.normal(0, 1, (B, L, E))
        bias = p["in_proj_bias"]
        output, weights = grouped_causal_attention(
            x, p["q_proj_weight"], p["k_proj_weight"], p["v_proj_weight"],
            bias[:E], bias[E:E + kv], bias[E + kv:], p["out_proj.weight"], p["out_proj.bias"], H, G)
        folder = FIXTURES / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "config.txt").write_text(f"{E} {H} {G} {B} {L}\n")
        for key, values in p.items():
            np.save(folder / f"{key}.npy", values)
        np.save(folder / "x.npy", x)
        np.save(folder / "expected_output.npy", output)
        np.save(folder / "expected_weights.npy", weights)
        print(f"wrote {folder}")


if __name__ == "__main__":
    main()
