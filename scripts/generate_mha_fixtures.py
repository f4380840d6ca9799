#!/usr/bin/python3
"""Writes the PyTorch reference values that tests/lesson04/golden_test.cpp
checks our complete MultiHeadAttention against.

Run it from anywhere with Debian's Python, the one that can import python3-torch:

    /usr/bin/python3 scripts/generate_mha_fixtures.py

It needs no internet and no pip. For every configuration below it builds
PyTorch's own module,

    nn.MultiheadAttention(E, H, batch_first=True, bias=..., kdim=..., vdim=...).double()

gives it random non-zero biases (PyTorch starts them at 0, which would hide a
bias that is added twice, or to the wrong rows), runs it with
need_weights=True and average_attn_weights=False, and writes one folder

    tests/fixtures/lesson04/<config>/
        in_proj_weight.npy    (3E, E)       float64 } when kdim = vdim = E
        q_proj_weight.npy     (E, E)        float64 }
        k_proj_weight.npy     (E, kdim)     float64 } otherwise
        v_proj_weight.npy     (E, vdim)     float64 }
        in_proj_bias.npy      (3E)          float64 } only with bias=True
        out_proj.bias.npy     (E)           float64 }
        out_proj.weight.npy   (E, E)        float64
        query.npy             (B, L, E)     float64
        key.npy               (B, S, kdim)  float64
        value.npy             (B, S, vdim)  float64
        attn_mask.npy         (L, S) or (B*H, L, S), bool or float64   optional
        key_padding_mask.npy  (B, S), bool or float64                   optional
        output.npy            (B, L, E)     float64, what PyTorch computed
        weights.npy           (B, H, L, S)  float64, what PyTorch computed

The parameter files are named after the entries of the module's state_dict(),
exactly the names src/io/parameter_files.cpp (mha::load_parameters) reads, so the
C++ test loads them the way a user loads a model exported from PyTorch.

It also writes tests/fixtures/lesson04/configs.txt, one line per configuration:

    <config> num_heads=<H> attn_mask=<none|bool|float> key_padding_mask=<none|bool|float> causal=<yes|no>

so that the C++ test knows H (the files do not record it), which optional mask
files to load and which element type they must hold, and whether to set
AttentionMasks::causal. A causal configuration writes no attn_mask.npy: PyTorch
1.13's nn.MultiheadAttention has no is_causal argument, so it is given the
causal mask triu(ones(L, S), diagonal=1) as attn_mask, and the C++ test sets
causal = true instead, which checks that the two build the same mask.

Mask convention, as nn.MultiheadAttention's: in a boolean mask True means
"this query may NOT look at this key"; a float mask is added to the scores
before softmax (0 keeps a key, -inf removes it, finite values tilt it).

No configuration has a query whose keys are all masked: PyTorch returns NaN
for such a row while the course returns zero weights (and so an output row
equal to the output projection's bias), so that behaviour is tested by hand in
tests/lesson04/multi_head_attention_test.cpp instead.

Every configuration seeds the random generator itself (BASE_SEED + its
position in the list), so running the script again writes the same numbers.
Before anything is written, PyTorch's answer is checked against the formula
written out independently below, so that a misunderstanding of one of
PyTorch's options stops the script instead of reaching the tests.
"""

import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

# tests/fixtures/lesson04, found from this script's own location (scripts/).
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
FIXTURES_DIR = REPOSITORY_ROOT / "tests" / "fixtures" / "lesson04"

# Each configuration seeds torch with BASE_SEED + its position in the list.
BASE_SEED = 20240401

# All arithmetic in double precision, as the C++ reference code computes.
DTYPE = torch.float64


# ---------------------------------------------------------------------------
# The configurations
# ---------------------------------------------------------------------------

@dataclass
class Config:
    """One golden configuration: the module's options, the input sizes and the masks.

    inputs:            "self"     query = key = value, one sequence (L = S)
                       "cross"    key = value, a second sequence (S may differ from L)
                       "separate" three different tensors
    attn_mask:         "none", "bool" / "float" of shape (L, S),
                       "bool_per_head" / "float_per_head" of shape (B*H, L, S)
    key_padding_mask:  "none", "bool" or "float", shape (B, S)
    padded_lengths:    for a key_padding_mask, how many keys of each batch entry
                       are real; the rest are padding (None: random entries)
    causal:            forbid keys j > i; PyTorch gets it as attn_mask
    """
    name: str
    doc: str
    embed_dim: int          # E
    num_heads: int          # H
    batch: int              # B
    query_length: int       # L
    key_length: int         # S
    kdim: int = None        # None means E
    vdim: int = None        # None means E
    bias: bool = True
    inputs: str = "self"
    attn_mask: str = "none"
    key_padding_mask: str = "none"
    padded_lengths: tuple = None
    causal: bool = False


CONFIGS = [
    Config("single_head", "H = 1: one head of d_k = E, so split and concat do nothing",
           embed_dim=8, num_heads=1, batch=2, query_length=5, key_length=5),
    Config("eight_heads", "H = 8 heads of d_k = 4 each",
           embed_dim=32, num_heads=8, batch=2, query_length=6, key_length=6),
    Config("cross_attention", "queries from one sequence, keys and values from another, L != S",
           embed_dim=16, num_heads=4, batch=2, query_length=4, key_length=7, inputs="cross"),
    Config("batch_of_three", "B = 3, and query, key and value are three different tensors",
           embed_dim=12, num_heads=3, batch=3, query_length=5, key_length=5, inputs="separate"),
    Config("kdim_vdim", "keys of width kdim = 6 and values of width vdim = 10, E = 16: "
           "separate q/k/v_proj_weight parameters",
           embed_dim=16, num_heads=4, batch=2, query_length=5, key_length=6, kdim=6, vdim=10,
           inputs="separate"),
    Config("kdim_vdim_no_bias", "separate q/k/v_proj_weight without any bias",
           embed_dim=8, num_heads=2, batch=1, query_length=3, key_length=4, kdim=5, vdim=3,
           bias=False, inputs="separate"),
    Config("no_bias", "bias=False: no in_proj_bias, no out_proj.bias",
           embed_dim=12, num_heads=2, batch=2, query_length=5, key_length=5, bias=False),
    Config("bool_attn_mask", "a random boolean attn_mask (L, S), shared by every batch entry and head",
           embed_dim=16, num_heads=4, batch=2, query_length=5, key_length=6, inputs="separate",
           attn_mask="bool"),
    Config("float_attn_mask", "a float attn_mask (L, S): finite tilts and -inf",
           embed_dim=16, num_heads=2, batch=2, query_length=6, key_length=6, attn_mask="float"),
    Config("bool_attn_mask_per_head", "a boolean attn_mask (B*H, L, S): entry b, head h uses mask b*H + h",
           embed_dim=12, num_heads=3, batch=2, query_length=4, key_length=5, inputs="cross",
           attn_mask="bool_per_head"),
    Config("float_attn_mask_per_head", "a float attn_mask (B*H, L, S) with finite tilts and -inf",
           embed_dim=8, num_heads=2, batch=2, query_length=4, key_length=4, attn_mask="float_per_head"),
    Config("key_padding_mask_bool", "three sentences of 7, 4 and 2 real tokens padded to S = 7",
           embed_dim=16, num_heads=4, batch=3, query_length=7, key_length=7,
           key_padding_mask="bool", padded_lengths=(7, 4, 2)),
    Config("key_padding_mask_float", "a float key_padding_mask (B, S): finite tilts and -inf",
           embed_dim=8, num_heads=2, batch=2, query_length=3, key_length=5, inputs="cross",
           key_padding_mask="float"),
    Config("padding_and_float_attn_mask", "a boolean key_padding_mask together with a float attn_mask (L, S)",
           embed_dim=16, num_heads=4, batch=2, query_length=6, key_length=6,
           attn_mask="float", key_padding_mask="bool", padded_lengths=(6, 4)),
    Config("padding_and_bool_attn_mask_per_head",
           "a boolean key_padding_mask together with a boolean attn_mask (B*H, L, S)",
           embed_dim=8, num_heads=2, batch=2, query_length=5, key_length=6, inputs="cross",
           attn_mask="bool_per_head", key_padding_mask="bool", padded_lengths=(5, 6)),
    Config("causal", "the causal (look-ahead) mask of a decoder",
           embed_dim=16, num_heads=4, batch=2, query_length=6, key_length=6, causal=True),
    Config("causal_with_padding", "the causal mask and a key_padding_mask at once",
           embed_dim=12, num_heads=3, batch=2, query_length=7, key_length=7, causal=True,
           key_padding_mask="bool", padded_lengths=(7, 5)),
]


# ---------------------------------------------------------------------------
# The module and its inputs
# ---------------------------------------------------------------------------

def make_module(config):
    """PyTorch's module in float64, with random non-zero biases.

    The weights keep PyTorch's own initialisation (Xavier-uniform projections,
    out_proj uniform in +-1/sqrt(E)); the biases, which PyTorch sets to 0,
    are redrawn from N(0, 0.5^2) so that every bias must land in its place.
    """
    module = nn.MultiheadAttention(config.embed_dim, config.num_heads, batch_first=True, bias=config.bias,
                                   kdim=config.kdim, vdim=config.vdim).double()
    if config.bias:
        with torch.no_grad():
            module.in_proj_bias.copy_(0.5 * torch.randn(3 * config.embed_dim, dtype=DTYPE))
            module.out_proj.bias.copy_(0.5 * torch.randn(config.embed_dim, dtype=DTYPE))
    # eval() (there is no dropout anyway) and gradients left enabled: the
    # parameters require grad, so PyTorch takes its general code path
    # (F.multi_head_attention_forward), not the fused inference fast path.
    module.eval()
    return module


def make_inputs(config):
    """query (B, L, E), key (B, S, kdim), value (B, S, vdim).

    Entries are N(0, 2^2): with PyTorch's small initial weights, unit inputs
    give nearly uniform attention, which would let a wrong score pass as
    'close enough'; a wider spread gives each head a pattern of its own.
    """
    E = config.embed_dim
    kdim, vdim = config.kdim or E, config.vdim or E
    B, L, S = config.batch, config.query_length, config.key_length

    def randn(*shape):
        return 2.0 * torch.randn(*shape, dtype=DTYPE)

    if config.inputs == "self":
        assert L == S and kdim == vdim == E
        x = randn(B, L, E)
        return x, x, x  # the same tensor three times: self-attention
    if config.inputs == "cross":
        assert kdim == vdim
        memory = randn(B, S, kdim)  # e.g. an encoder's output
        return randn(B, L, E), memory, memory
    if config.inputs == "separate":
        return randn(B, L, E), randn(B, S, kdim), randn(B, S, vdim)
    raise ValueError(f"unknown inputs {config.inputs!r}")


# ---------------------------------------------------------------------------
# Masks
# ---------------------------------------------------------------------------

def random_float_tilts(shape):
    """Finite additive tilts N(0, 1), about a third of them replaced by -inf."""
    tilts = torch.randn(*shape, dtype=DTYPE)
    return tilts.masked_fill(torch.rand(*shape) < 0.35, -math.inf)


def make_attn_mask(config):
    """attn_mask as PyTorch takes it, or None."""
    B, H, L, S = config.batch, config.num_heads, config.query_length, config.key_length
    kind = config.attn_mask
    if kind == "none":
        return None
    shape = (L, S) if kind in ("bool", "float") else (B * H, L, S)
    if kind.startswith("bool"):
        return torch.rand(*shape) < 0.35  # True = not allowed
    return random_float_tilts(shape)


def make_key_padding_mask(config):
    """key_padding_mask (B, S) as PyTorch takes it, or None.

    A boolean mask marks the padding at the end of each sentence
    (padded_lengths real tokens, then padding), as a batch of sentences of
    different lengths is padded in practice. A float mask is random tilts.
    """
    B, S = config.batch, config.key_length
    if config.key_padding_mask == "none":
        return None
    if config.key_padding_mask == "bool":
        lengths = config.padded_lengths
        assert lengths is not None and len(lengths) == B and all(1 <= n <= S for n in lengths)
        return torch.arange(S).unsqueeze(0) >= torch.tensor(lengths).unsqueeze(1)  # (B, S)
    return random_float_tilts((B, S))


def causal_boolean_mask(query_count, key_count):
    """True above the diagonal: query i may not look at keys j > i (mha::causal_mask)."""
    return torch.ones(query_count, key_count, dtype=torch.bool).triu(diagonal=1)


def as_additive(mask):
    """A boolean mask (True = not allowed) as 0 / -inf; a float mask unchanged."""
    if mask.dtype == torch.bool:
        return torch.zeros(mask.shape, dtype=DTYPE).masked_fill(mask, -math.inf)
    return mask


def combined_additive_mask(config, attn_mask, key_padding_mask):
    """Everything added to the scores, as one (B, H, L, S) tensor, following the
    course's rule: every mask is turned into additive form and they add up."""
    B, H, L, S = config.batch, config.num_heads, config.query_length, config.key_length
    total = torch.zeros(B, H, L, S, dtype=DTYPE)
    if config.causal:
        total = total + as_additive(causal_boolean_mask(L, S))  # (L, S) for every b, h
    if attn_mask is not None:
        additive = as_additive(attn_mask)
        # (L, S) broadcasts; (B*H, L, S) holds entry b, head h at index b*H + h.
        total = total + (additive if additive.dim() == 2 else additive.view(B, H, L, S))
    if key_padding_mask is not None:
        total = total + as_additive(key_padding_mask).view(B, 1, 1, S)  # one row per entry, every query
    return total


def unmask_full_rows(config, attn_mask, key_padding_mask):
    """Gives every query at least one key back, by clearing entries of the
    attn_mask. A query whose keys are all masked makes PyTorch return NaN
    (the course returns zeros), so no golden configuration may contain one.

    The key given back is one that neither the padding nor the causal mask
    removes for that batch entry, so clearing it in the attn_mask is enough;
    for a shared (L, S) mask that also helps the other batch entries."""
    H, L, S = config.num_heads, config.query_length, config.key_length
    while True:
        total = combined_additive_mask(config, attn_mask, key_padding_mask)
        full = torch.isinf(total).all(dim=-1).nonzero().tolist()  # [b, h, i] of fully masked rows
        if not full:
            return attn_mask
        b, h, i = full[0]
        assert attn_mask is not None, "padding or causality alone masks a whole row: change the config"
        others = torch.zeros(S, dtype=DTYPE)
        if config.causal:
            others = others + as_additive(causal_boolean_mask(L, S))[i]
        if key_padding_mask is not None:
            others = others + as_additive(key_padding_mask)[b]
        candidates = (~torch.isinf(others)).nonzero().flatten()
        j = int(candidates[torch.randint(len(candidates), ())])
        index = (i, j) if attn_mask.dim() == 2 else (b * H + h, i, j)
        attn_mask[index] = False if attn_mask.dtype == torch.bool else float(torch.randn(()))


# ---------------------------------------------------------------------------
# Expected values
# ---------------------------------------------------------------------------

def pytorch_forward(module, config, query, key, value, attn_mask, key_padding_mask):
    """What nn.MultiheadAttention returns: output (B, L, E), weights (B, H, L, S)."""
    L, S = config.query_length, config.key_length
    if config.causal:
        # torch 1.13 has no is_causal: the causal mask goes in as attn_mask.
        assert attn_mask is None, "a causal config cannot also have an attn_mask file"
        attn_mask = causal_boolean_mask(L, S)
    output, weights = module(query, key, value, key_padding_mask=key_padding_mask, need_weights=True,
                             attn_mask=attn_mask, average_attn_weights=False)
    return output.detach(), weights.detach()


def projections(module, config):
    """W_q, W_k, W_v, b_q, b_k, b_v, W_o, b_o as PyTorch stores them."""
    E = config.embed_dim
    if module._qkv_same_embed_dim:
        W = module.in_proj_weight.detach()
        W_q, W_k, W_v = W[:E], W[E:2 * E], W[2 * E:]  # (E, E) each: rows [0, E), [E, 2E), [2E, 3E)
    else:
        W_q, W_k, W_v = (module.q_proj_weight.detach(), module.k_proj_weight.detach(),
                         module.v_proj_weight.detach())
    if config.bias:
        b = module.in_proj_bias.detach()
        b_q, b_k, b_v, b_o = b[:E], b[E:2 * E], b[2 * E:], module.out_proj.bias.detach()
    else:
        b_q = b_k = b_v = b_o = torch.zeros(E, dtype=DTYPE)
    return W_q, W_k, W_v, b_q, b_k, b_v, module.out_proj.weight.detach(), b_o


def formula_forward(module, config, query, key, value, attn_mask, key_padding_mask):
    """Multi-head attention written out, shape by shape, in torch float64:

        head_h = softmax(Q_h K_hᵀ / sqrt(d_k) + masks) V_h
        output = Concat(head_1, ..., head_H) W_oᵀ + b_o

    An independent check of pytorch_forward, including how the masks combine."""
    B, H, L, E = config.batch, config.num_heads, config.query_length, config.embed_dim
    d_k = E // H
    W_q, W_k, W_v, b_q, b_k, b_v, W_o, b_o = projections(module, config)
    Q = query @ W_q.T + b_q  # (B, L, E)
    K = key @ W_k.T + b_k    # (B, S, E)
    V = value @ W_v.T + b_v  # (B, S, E)
    # Split into heads: (B, L, E) -> (B, L, H, d_k) -> (B, H, L, d_k); head h owns columns [h d_k, (h+1) d_k).
    Q, K, V = (t.view(B, -1, H, d_k).transpose(1, 2) for t in (Q, K, V))
    scores = Q @ K.transpose(-2, -1) / math.sqrt(d_k)  # (B, H, L, S)
    weights = torch.softmax(scores + combined_additive_mask(config, attn_mask, key_padding_mask), dim=-1)
    heads = weights @ V  # (B, H, L, d_k)
    concatenated = heads.transpose(1, 2).reshape(B, L, E)  # (B, L, E): the heads side by side
    return concatenated @ W_o.T + b_o, weights  # (B, L, E), (B, H, L, S)


# ---------------------------------------------------------------------------
# Writing the files
# ---------------------------------------------------------------------------

def save(folder, name, tensor):
    """Saves one tensor as <folder>/<name>.npy in C (row-major) order, the layout
    mha::read_npy returns. float64 stays '<f8'; a bool mask is saved as NumPy
    bool ('|b1')."""
    array = np.ascontiguousarray(tensor.detach().numpy())
    assert array.dtype in (np.float64, np.bool_), array.dtype
    np.save(folder / f"{name}.npy", array)


def expected_parameter_names(config):
    """The state_dict() entries mha::load_parameters reads, for this config."""
    separate = (config.kdim or config.embed_dim) != config.embed_dim or \
               (config.vdim or config.embed_dim) != config.embed_dim
    names = {"q_proj_weight", "k_proj_weight", "v_proj_weight"} if separate else {"in_proj_weight"}
    names.add("out_proj.weight")
    if config.bias:
        names |= {"in_proj_bias", "out_proj.bias"}
    return names


def kind_of(mask):
    """'none', 'bool' or 'float', as configs.txt records a mask file."""
    if mask is None:
        return "none"
    return "bool" if mask.dtype == torch.bool else "float"


def main():
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    listing = [
        "# Written by scripts/generate_mha_fixtures.py; do not edit by hand.",
        "# One configuration per line: <config> num_heads=<H> attn_mask=<none|bool|float>",
        "# key_padding_mask=<none|bool|float> causal=<yes|no>. A mask that is not 'none' is",
        "# in <config>/attn_mask.npy or key_padding_mask.npy, holding that element type.",
        "# causal=yes: set AttentionMasks::causal (PyTorch was given triu(ones(L, S), 1) as attn_mask).",
    ]
    largest_gap = 0.0
    for index, config in enumerate(CONFIGS):
        torch.manual_seed(BASE_SEED + index)
        module = make_module(config)
        query, key, value = make_inputs(config)
        key_padding_mask = make_key_padding_mask(config)
        attn_mask = unmask_full_rows(config, make_attn_mask(config), key_padding_mask)

        output, weights = pytorch_forward(module, config, query, key, value, attn_mask, key_padding_mask)
        check_output, check_weights = formula_forward(module, config, query, key, value, attn_mask,
                                                      key_padding_mask)
        B, H, L, S, E = config.batch, config.num_heads, config.query_length, config.key_length, config.embed_dim
        assert output.shape == (B, L, E) and weights.shape == (B, H, L, S)
        assert output.dtype == DTYPE and weights.dtype == DTYPE
        assert torch.isfinite(output).all() and torch.isfinite(weights).all(), \
            "a fully masked row slipped in: PyTorch returned NaN"
        assert torch.allclose(output, check_output, rtol=1e-12, atol=1e-12), config.name
        assert torch.allclose(weights, check_weights, rtol=1e-12, atol=1e-12), config.name
        largest_gap = max(largest_gap, float((output - check_output).abs().max()),
                          float((weights - check_weights).abs().max()))

        folder = FIXTURES_DIR / config.name
        shutil.rmtree(folder, ignore_errors=True)  # no stale files from an older version
        folder.mkdir()
        state = module.state_dict()
        assert set(state) == expected_parameter_names(config), sorted(state)
        for name, parameter in state.items():
            save(folder, name, parameter)
        save(folder, "query", query)
        save(folder, "key", key)
        save(folder, "value", value)
        if attn_mask is not None:
            save(folder, "attn_mask", attn_mask)
        if key_padding_mask is not None:
            save(folder, "key_padding_mask", key_padding_mask)
        save(folder, "output", output)
        save(folder, "weights", weights)

        listing.append(f"{config.name} num_heads={H} attn_mask={kind_of(attn_mask)} "
                       f"key_padding_mask={kind_of(key_padding_mask)} causal={'yes' if config.causal else 'no'}")
        # How peaked the attention is: the mean of each row's largest weight (1/S would be uniform).
        peak = float(weights.max(dim=-1).values.mean())
        print(f"{config.name:38s} E={E:2d} H={H} B={B} L={L} S={key.shape[1]} "
              f"kdim={key.shape[2]:2d} vdim={value.shape[2]:2d} bias={'yes' if config.bias else 'no ':3s} "
              f"mean row max {peak:.2f} (uniform {1 / S:.2f})")

    (FIXTURES_DIR / "configs.txt").write_text("\n".join(listing) + "\n")
    size = sum(path.stat().st_size for path in FIXTURES_DIR.rglob("*") if path.is_file())
    print(f"wrote {len(CONFIGS)} configurations to {FIXTURES_DIR} ({size / 1024:.0f} KiB); "
          f"PyTorch vs the written-out formula: largest difference {largest_gap:.1e}")


if __name__ == "__main__":
    main()
