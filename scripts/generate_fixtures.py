#!/usr/bin/python3
"""Writes the PyTorch reference values that tests/lesson01/pytorch_parity_test.cpp
checks our C++ attention against.

Run it from anywhere with Debian's Python, the one that can import python3-torch:

    /usr/bin/python3 scripts/generate_fixtures.py

It needs no internet and no pip. For every case below it writes one folder

    tests/fixtures/lesson01/<case>/Q.npy        (L, d_k)  float64
                                   K.npy        (S, d_k)  float64
                                   V.npy        (S, d_v)  float64
                                   mask.npy     (L, S)    bool or float64, only if the case has a mask
                                   output.npy   (L, d_v)  float64, what PyTorch computed
                                   weights.npy  (L, S)    float64, what PyTorch computed

and a list of the cases, tests/fixtures/lesson01/cases.txt, one
"<case> <mask kind>" per line, so that the C++ test knows what to load.

The files are NumPy's .npy format, which the course reads with mha::read_npy.
Every case seeds the random generator itself, so running the script again
writes the same numbers, and adding a case does not change the others.

Mask convention. The course follows nn.MultiheadAttention: in a boolean mask
`True` means "this query may NOT look at this key". An additive float mask is
added to the scores before softmax (0 keeps a key, -inf removes it).

No case has a query whose keys are all masked: PyTorch returns NaN for such a
row while the course returns zeros, so that behaviour is tested by hand in
tests/lesson01/attention_test.cpp instead of against PyTorch.
"""

import math
import shutil
from pathlib import Path

import numpy as np
import torch

# tests/fixtures/lesson01, found from this script's own location (scripts/).
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPOSITORY_ROOT / "tests" / "fixtures" / "lesson01"

# Each case seeds torch with BASE_SEED + its position in the list.
BASE_SEED = 20240101

# All arithmetic in double precision: the C++ reference code computes in double,
# and only float64 leaves enough digits to compare at 1e-12.
DTYPE = torch.float64


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def random_inputs(query_count, key_count, d_k, d_v):
    """Standard-normal Q (L, d_k), K (S, d_k) and V (S, d_v)."""
    Q = torch.randn(query_count, d_k, dtype=DTYPE)
    K = torch.randn(key_count, d_k, dtype=DTYPE)
    V = torch.randn(key_count, d_v, dtype=DTYPE)
    return Q, K, V


def random_boolean_mask(query_count, key_count, masked_fraction):
    """A random (L, S) boolean mask, True = not allowed, in which every query
    keeps at least one key (a fully masked row would give NaN in PyTorch)."""
    mask = torch.rand(query_count, key_count) < masked_fraction  # (L, S)
    for row in range(query_count):
        if bool(mask[row].all()):
            mask[row, torch.randint(key_count, ())] = False  # give this query one key back
    return mask


def causal_boolean_mask(query_count, key_count):
    """True above the diagonal: query i may not look at keys j > i.
    This is the convention mha::causal_mask must match."""
    return torch.ones(query_count, key_count, dtype=torch.bool).triu(diagonal=1)


def random_additive_mask(query_count, key_count):
    """An (L, S) float mask of finite random tilts, with about a third of the
    entries set to -inf (key removed), but never a whole row."""
    mask = torch.randn(query_count, key_count, dtype=DTYPE)  # (L, S), finite tilts
    removed = random_boolean_mask(query_count, key_count, masked_fraction=0.35)
    return mask.masked_fill(removed, -math.inf)


# ---------------------------------------------------------------------------
# Expected values
# ---------------------------------------------------------------------------

def pytorch_attention(Q, K, V, take_part=None, is_causal=False):
    """PyTorch's own scaled dot-product attention (torch 1.13's private
    torch.nn.functional._scaled_dot_product_attention).

    It wants a leading batch dimension, so (L, d_k) becomes (1, L, d_k) on the
    way in, and the batch dimension is dropped again on the way out.

    CAREFUL: in torch 1.13 this function's boolean attn_mask means the
    OPPOSITE of nn.MultiheadAttention's: True = "this key TAKES PART in
    attention". Callers holding a course-convention mask (True = not allowed)
    must pass its negation, `~mask`; the parameter is named `take_part` to
    make that hard to forget.
    """
    output, weights = torch.nn.functional._scaled_dot_product_attention(
        Q.unsqueeze(0), K.unsqueeze(0), V.unsqueeze(0),
        attn_mask=None if take_part is None else take_part.unsqueeze(0),
        is_causal=is_causal,
        need_attn_weights=True)
    return output.squeeze(0), weights.squeeze(0)  # (L, d_v), (L, S)


def formula_attention(Q, K, V, additive_mask=None):
    """softmax(Q Kᵀ / sqrt(d_k) + mask) V, written out in torch float64.

    Used for the additive float mask, which torch 1.13's attention function does
    not accept, and as an independent check of every other case.
    """
    d_k = Q.shape[1]
    scores = Q @ K.T / math.sqrt(d_k)  # (L, S)
    if additive_mask is not None:
        scores = scores + additive_mask
    weights = torch.softmax(scores, dim=-1)  # (L, S), each row sums to 1
    return weights @ V, weights  # (L, d_v), (L, S)


def expected_values(Q, K, V, mask_kind, mask):
    """Computes (output, weights) for one case with PyTorch, and checks the
    result against the written-out formula, so that a misunderstanding of
    PyTorch's mask convention stops the script instead of reaching the tests."""
    if mask_kind == "none":
        output, weights = pytorch_attention(Q, K, V)
        check_output, check_weights = formula_attention(Q, K, V)
    elif mask_kind == "causal":
        # PyTorch's own idea of "causal"; the mask file holds the matching
        # triu(diagonal=1) mask, and the formula check below proves they agree.
        output, weights = pytorch_attention(Q, K, V, is_causal=True)
        check_output, check_weights = formula_attention(
            Q, K, V, torch.zeros(mask.shape, dtype=DTYPE).masked_fill(mask, -math.inf))
    elif mask_kind == "bool":
        # Course convention True = not allowed; torch 1.13 wants True = take part.
        output, weights = pytorch_attention(Q, K, V, take_part=~mask)
        check_output, check_weights = formula_attention(
            Q, K, V, torch.zeros(mask.shape, dtype=DTYPE).masked_fill(mask, -math.inf))
    elif mask_kind == "float":
        output, weights = formula_attention(Q, K, V, mask)
        check_output, check_weights = output, weights
    else:
        raise ValueError(f"unknown mask kind {mask_kind!r}")

    assert output.dtype == DTYPE and weights.dtype == DTYPE
    assert torch.isfinite(output).all() and torch.isfinite(weights).all(), \
        "a fully masked row slipped in: PyTorch returned NaN"
    assert torch.allclose(output, check_output, rtol=1e-13, atol=1e-13)
    assert torch.allclose(weights, check_weights, rtol=1e-13, atol=1e-13)
    return output, weights


# ---------------------------------------------------------------------------
# The cases
# ---------------------------------------------------------------------------
# Each function returns (Q, K, V, mask kind, mask or None). The mask kind is
# what cases.txt records and what tells the C++ test which overload to call:
#   none   -> scaled_dot_product_attention(Q, K, V)
#   bool   -> scaled_dot_product_attention(Q, K, V, BoolMatrix)   (mask.npy is bool)
#   causal -> the same, with the causal mask                      (mask.npy is bool)
#   float  -> scaled_dot_product_attention(Q, K, V, Matrix)       (mask.npy is float64)

def square_no_mask():
    """The textbook case: as many queries as keys (L = S = 4), d_k = d_v = 8."""
    return (*random_inputs(4, 4, d_k=8, d_v=8), "none", None)


def more_keys_than_queries():
    """L != S: 3 queries attend over 7 keys, so weights is (3, 7), not square."""
    return (*random_inputs(3, 7, d_k=4, d_v=4), "none", None)


def key_width_differs_from_value_width():
    """d_k = 6 but d_v = 3: the output takes V's width, not Q's."""
    return (*random_inputs(4, 5, d_k=6, d_v=3), "none", None)


def key_width_one():
    """d_k = 1: every score is a product of two numbers, and sqrt(d_k) = 1."""
    return (*random_inputs(4, 5, d_k=1, d_v=3), "none", None)


def large_logits():
    """Scores of about ±1e3. A naive exp(score) overflows to inf at 710; the
    stable softmax subtracts each row's maximum first. Q and K are each scaled
    by sqrt(1000), so that their dot products (unit spread before scaling)
    reach the thousands."""
    Q, K, V = random_inputs(4, 5, d_k=4, d_v=3)
    stretch = math.sqrt(1000.0)
    return Q * stretch, K * stretch, V, "none", None


def boolean_random_mask():
    """A random boolean mask, about 40 % of pairs forbidden, none fully masked."""
    Q, K, V = random_inputs(5, 6, d_k=4, d_v=3)
    return Q, K, V, "bool", random_boolean_mask(5, 6, masked_fraction=0.4)


def causal():
    """The decoder's look-ahead mask with L = S = 6; the C++ test also checks
    that this mask equals mha::causal_mask(6, 6)."""
    Q, K, V = random_inputs(6, 6, d_k=4, d_v=4)
    return Q, K, V, "causal", causal_boolean_mask(6, 6)


def additive_float_mask():
    """A float mask mixing finite tilts with -inf (removed keys)."""
    Q, K, V = random_inputs(4, 5, d_k=4, d_v=3)
    return Q, K, V, "float", random_additive_mask(4, 5)


def single_query_single_key():
    """L = S = 1: the one weight must be exactly 1 and the output equals V."""
    return (*random_inputs(1, 1, d_k=3, d_v=2), "none", None)


CASES = [
    square_no_mask,
    more_keys_than_queries,
    key_width_differs_from_value_width,
    key_width_one,
    large_logits,
    boolean_random_mask,
    causal,
    additive_float_mask,
    single_query_single_key,
]


# ---------------------------------------------------------------------------
# Writing the files
# ---------------------------------------------------------------------------

def save(folder, name, tensor):
    """Saves one tensor as <folder>/<name>.npy in C (row-major) order, which is
    the layout mha::read_npy returns. float64 stays '<f8'; a bool
    mask is saved as NumPy bool ('|b1'), which mha::read_npy reads as 0 and 1."""
    array = np.ascontiguousarray(tensor.detach().numpy())
    assert array.dtype in (np.float64, np.bool_), array.dtype
    np.save(folder / f"{name}.npy", array)


def main():
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    listing = [
        "# Written by scripts/generate_fixtures.py; do not edit by hand.",
        "# One case per line: <case name> <mask kind>, where the mask kind is",
        "# none, bool, causal (a bool mask) or float (an additive float64 mask).",
    ]
    for index, make_case in enumerate(CASES):
        torch.manual_seed(BASE_SEED + index)
        Q, K, V, mask_kind, mask = make_case()
        output, weights = expected_values(Q, K, V, mask_kind, mask)

        name = make_case.__name__
        folder = FIXTURES_DIR / name
        shutil.rmtree(folder, ignore_errors=True)  # no stale mask.npy from an older version
        folder.mkdir()
        save(folder, "Q", Q)
        save(folder, "K", K)
        save(folder, "V", V)
        if mask is not None:
            save(folder, "mask", mask)
        save(folder, "output", output)
        save(folder, "weights", weights)

        listing.append(f"{name} {mask_kind}")
        print(f"{name:36s} {mask_kind:6s} Q{tuple(Q.shape)} K{tuple(K.shape)} V{tuple(V.shape)}")

    (FIXTURES_DIR / "cases.txt").write_text("\n".join(listing) + "\n")
    print(f"wrote {len(CASES)} cases to {FIXTURES_DIR}")


if __name__ == "__main__":
    main()
