#!/usr/bin/python3
"""Writes the PyTorch reference values that lesson 6's training code (src/train/)
is checked against: the loss and every gradient of the tiny attention-only
transformer, three steps of Adam on it, and Adam's update on its own.

Run it from anywhere with Debian's Python, the one that can import python3-torch:

    /usr/bin/python3 scripts/generate_training_fixtures.py

It needs no internet and no pip, and writes the same numbers every time (each
configuration seeds torch itself). The format of the files is described in
tests/fixtures/lesson06/training/README.md; in short:

The model, in float64, with no bias anywhere (TinyTransformer below):

    x      = token_embedding(tokens) + position_embedding(arange(L))    (B, L, d)
    x      = x + attention_l(x, x, x)      for each layer l, nn.MultiheadAttention(d, H,
                                           bias=False, batch_first=True), given
                                           attn_mask = triu(ones(L, L), 1) if causal
    logits = readout(x)                                                 (B, L, V)
    loss   = cross_entropy(logits[counted], targets[counted])           mean over counted positions

Two configurations, B = 4:

    induction     V=16 L=16 d=16, 2 layers, 2 heads, causal; targets = the next token
                  (the last position's target is 0 and never counted); about half the
                  positions counted, at least one per row, never the last
    coreference   V=40 L=11 d=16, 2 layers, 2 heads, not causal; one counted position
                  per row (position 7) with a random target, the others not counted

Every parameter is first initialised as PyTorch does, then redrawn from
N(0, 0.5^2): PyTorch's own initial weights give nearly uniform attention and
tiny gradients, which would let a wrong gradient pass as "close enough".

For each configuration it writes tests/fixtures/lesson06/training/<config>/:

    config.json                  V, L, d, layers, heads, causal, B
    <state_dict name>.npy        every parameter, float64: token_embedding.weight.npy (V, d),
                                 position_embedding.weight.npy (L, d),
                                 layers.<l>.in_proj_weight.npy (3d, d),
                                 layers.<l>.out_proj.weight.npy (d, d), readout.weight.npy (V, d)
    tokens.npy, targets.npy      (B, L) int64
    counted.npy                  (B, L) bool
    loss.npy                     (1,) float64
    grad/<state_dict name>.npy   dloss/dparameter, float64
    adam/losses.npy              (3,) the loss before each of three Adam steps on the same batch
    adam/step<k>/<name>.npy      every parameter after step k = 1, 2, 3 of
                                 torch.optim.Adam(lr=1e-2, betas=(0.9, 0.999), eps=1e-8)

and tests/fixtures/lesson06/adam/, Adam alone on a vector of 5 parameters:

    parameter.npy                (5,)   the starting values
    gradients.npy                (4, 5) row k: the gradient given to step k + 1 (one has a
                                        zero entry, one a large entry, one a tiny entry)
    parameters_after.npy         (4, 5) row k: the parameters after step k + 1
    config.json                  lr, betas, eps

Before anything is written, three independent checks, so that a misuse of
PyTorch stops the script instead of reaching the tests:
  - the loss of the model is recomputed with the formula written out (embeddings,
    heads, softmax, cross-entropy by hand) and must agree to 1e-12;
  - autograd's gradient is compared with central differences, h = 1e-6, on a few
    random entries of every parameter: the difference over the largest entry of
    that parameter's gradient (the course's relative error, as in
    tests/lesson06/gradient_check.hpp) must be at most 1e-6;
  - torch.optim.Adam's steps are recomputed with Adam's formula in NumPy and must
    agree to 1e-14 (relative).
"""

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DIR = REPOSITORY_ROOT / "tests" / "fixtures" / "lesson06" / "training"
ADAM_DIR = REPOSITORY_ROOT / "tests" / "fixtures" / "lesson06" / "adam"
BASE_SEED = 20240701
DTYPE = torch.float64

# Adam's settings, for the model's three steps and for the vector on its own.
LEARNING_RATE = 1e-2
BETAS = (0.9, 0.999)
EPS = 1e-8
ADAM_STEPS = 3

# Central differences: the step, how many entries of each parameter, the tolerance.
FD_STEP = 1e-6
FD_ENTRIES = 8
FD_TOLERANCE = 1e-6


@dataclass
class Config:
    name: str
    vocabulary: int   # V
    length: int       # L
    d_model: int      # d
    layers: int
    heads: int        # H
    causal: bool
    batch: int        # B


CONFIGS = [
    Config("induction", vocabulary=16, length=16, d_model=16, layers=2, heads=2, causal=True, batch=4),
    Config("coreference", vocabulary=40, length=11, d_model=16, layers=2, heads=2, causal=False, batch=4),
]

# The coreference task's one counted position in each row.
COREFERENCE_POSITION = 7


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

class TinyTransformer(nn.Module):
    """Lesson 6's attention-only transformer: embeddings, residual attention layers, a readout."""

    def __init__(self, config):
        super().__init__()
        V, L, d = config.vocabulary, config.length, config.d_model
        self.causal = config.causal
        self.token_embedding = nn.Embedding(V, d)
        self.position_embedding = nn.Embedding(L, d)
        self.layers = nn.ModuleList(nn.MultiheadAttention(d, config.heads, bias=False, batch_first=True)
                                    for _ in range(config.layers))
        self.readout = nn.Linear(d, V, bias=False)

    def forward(self, tokens):
        L = tokens.shape[1]
        x = self.token_embedding(tokens) + self.position_embedding(torch.arange(L))
        mask = causal_boolean_mask(L) if self.causal else None
        for attention in self.layers:
            a, _ = attention(x, x, x, attn_mask=mask, need_weights=False)
            x = x + a
        return self.readout(x)


def causal_boolean_mask(L):
    """True above the diagonal: position i may not look at positions j > i."""
    return torch.triu(torch.ones(L, L, dtype=torch.bool), diagonal=1)


def loss_of(model, tokens, targets, counted):
    logits = model(tokens)
    return F.cross_entropy(logits[counted], targets[counted])


def expected_parameter_names(config):
    names = ["token_embedding.weight", "position_embedding.weight"]
    for layer in range(config.layers):
        names += [f"layers.{layer}.in_proj_weight", f"layers.{layer}.out_proj.weight"]
    return names + ["readout.weight"]


def make_model(config):
    """PyTorch's default initialisation, then every parameter redrawn from N(0, 0.5^2)."""
    model = TinyTransformer(config).double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(0.5 * torch.randn(parameter.shape, dtype=DTYPE))
    names = [name for name, _ in model.named_parameters()]
    assert names == expected_parameter_names(config), names
    assert list(model.state_dict()) == names, list(model.state_dict())
    return model


def make_batch(config):
    """tokens (B, L) int64, targets (B, L) int64, counted (B, L) bool, as the docstring describes."""
    B, L, V = config.batch, config.length, config.vocabulary
    tokens = torch.randint(V, (B, L), dtype=torch.int64)
    if config.name == "induction":
        targets = torch.zeros(B, L, dtype=torch.int64)
        targets[:, :-1] = tokens[:, 1:]           # the next token; the last position's is 0
        counted = torch.rand(B, L) < 0.5
        counted[:, -1] = False                    # no next token to predict
        for row in range(B):
            if not counted[row].any():
                counted[row, int(torch.randint(L - 1, ()))] = True
    elif config.name == "coreference":
        targets = torch.zeros(B, L, dtype=torch.int64)
        targets[:, COREFERENCE_POSITION] = torch.randint(V, (B,), dtype=torch.int64)
        counted = torch.zeros(B, L, dtype=torch.bool)
        counted[:, COREFERENCE_POSITION] = True
    else:
        raise ValueError(config.name)
    assert counted.any(dim=1).all() and not counted[:, -1].any()
    return tokens, targets, counted


# ---------------------------------------------------------------------------
# Check 1: the loss written out
# ---------------------------------------------------------------------------

def formula_loss(model, config, tokens, targets, counted):
    """The model's loss computed from its parameters by hand, in float64."""
    state = {name: tensor.detach() for name, tensor in model.state_dict().items()}
    B, L, d, H = config.batch, config.length, config.d_model, config.heads
    d_k = d // H
    x = state["token_embedding.weight"][tokens] + state["position_embedding.weight"][:L]   # (B, L, d)
    additive = torch.zeros(L, L, dtype=DTYPE)
    if config.causal:
        additive = additive.masked_fill(causal_boolean_mask(L), -math.inf)
    for layer in range(config.layers):
        W = state[f"layers.{layer}.in_proj_weight"]                                          # (3d, d)
        W_q, W_k, W_v = W[:d], W[d:2 * d], W[2 * d:]
        Q, K, V = ((x @ w.T).view(B, L, H, d_k).transpose(1, 2) for w in (W_q, W_k, W_v))   # (B, H, L, d_k)
        weights = torch.softmax(Q @ K.transpose(-2, -1) / math.sqrt(d_k) + additive, dim=-1)
        heads = (weights @ V).transpose(1, 2).reshape(B, L, d)
        x = x + heads @ state[f"layers.{layer}.out_proj.weight"].T
    logits = x @ state["readout.weight"].T                                                  # (B, L, V)
    chosen = logits[counted]                                                                # (N, V)
    log_probabilities = chosen - torch.logsumexp(chosen, dim=-1, keepdim=True)
    return float(-log_probabilities.gather(1, targets[counted].unsqueeze(1)).mean())


# ---------------------------------------------------------------------------
# Check 2: autograd against central differences
# ---------------------------------------------------------------------------

def check_by_central_differences(model, config, batch, gradients):
    """A few random entries of every parameter's gradient against (f(x+h) - f(x-h)) / 2h.

    The error of an entry is |autograd - numerical| over the largest entry of
    that parameter's autograd gradient: the relative error of the course's
    tests (tests/lesson06/gradient_check.hpp), which does not blow up on an
    entry that happens to be near zero. Returns the largest error and the
    largest absolute difference."""
    largest_error = 0.0
    largest_difference = 0.0
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            flat = parameter.view(-1)
            scale = float(gradients[name].abs().max())
            assert scale > 0, f"{config.name}: the gradient of {name} is zero everywhere"
            for index in torch.randperm(flat.numel())[:FD_ENTRIES].tolist():
                original = float(flat[index])
                flat[index] = original + FD_STEP
                above = float(loss_of(model, *batch))
                flat[index] = original - FD_STEP
                below = float(loss_of(model, *batch))
                flat[index] = original
                numerical = (above - below) / (2 * FD_STEP)
                analytic = float(gradients[name].reshape(-1)[index])
                difference = abs(analytic - numerical)
                error = difference / scale
                assert error <= FD_TOLERANCE, \
                    (f"{config.name}: d loss / d {name}[{index}]: autograd {analytic!r}, central differences "
                     f"{numerical!r}: error {error:.2e} over the largest entry {scale:.3e}")
                largest_error = max(largest_error, error)
                largest_difference = max(largest_difference, difference)
    return largest_error, largest_difference


# ---------------------------------------------------------------------------
# Check 3: Adam written out
# ---------------------------------------------------------------------------

class FormulaAdam:
    """Adam (Kingma & Ba), as torch.optim.Adam 1.13 computes it (amsgrad off, no weight decay):

        m = b1 m + (1 - b1) g            v = b2 v + (1 - b2) g^2
        p = p - (lr / (1 - b1^t)) m / (sqrt(v) / sqrt(1 - b2^t) + eps)
    """

    def __init__(self, parameter):
        self.parameter = np.array(parameter, dtype=np.float64)
        self.m = np.zeros_like(self.parameter)
        self.v = np.zeros_like(self.parameter)
        self.t = 0

    def step(self, gradient):
        b1, b2 = BETAS
        self.t += 1
        self.m = b1 * self.m + (1 - b1) * gradient
        self.v = b2 * self.v + (1 - b2) * gradient * gradient
        denominator = np.sqrt(self.v) / math.sqrt(1 - b2 ** self.t) + EPS
        self.parameter = self.parameter - (LEARNING_RATE / (1 - b1 ** self.t)) * self.m / denominator
        return self.parameter


def assert_close(actual, expected, what, tolerance=1e-14):
    scale = max(float(np.abs(expected).max()), 1e-300)
    error = float(np.abs(actual - expected).max()) / scale
    assert error <= tolerance, f"{what}: relative difference {error:.2e} over {tolerance:.0e}"
    return error


def make_optimizer(parameters):
    return torch.optim.Adam(parameters, lr=LEARNING_RATE, betas=BETAS, eps=EPS)


# ---------------------------------------------------------------------------
# Writing the files
# ---------------------------------------------------------------------------

def save(folder, name, tensor):
    """<folder>/<name>.npy in C order: float64 '<f8', int64 '<i8' or bool '|b1'."""
    folder.mkdir(parents=True, exist_ok=True)
    array = np.ascontiguousarray(tensor.detach().numpy() if isinstance(tensor, torch.Tensor) else tensor)
    assert array.dtype in (np.float64, np.int64, np.bool_), array.dtype
    np.save(folder / f"{name}.npy", array)


def write_configuration(index, config):
    torch.manual_seed(BASE_SEED + index)
    model = make_model(config)
    batch = make_batch(config)
    tokens, targets, counted = batch

    loss = loss_of(model, *batch)
    formula = formula_loss(model, config, *batch)
    assert math.isclose(float(loss), formula, rel_tol=1e-12, abs_tol=1e-12), \
        f"{config.name}: PyTorch's loss {float(loss)!r}, the formula's {formula!r}"
    model.zero_grad()
    loss.backward()
    gradients = {name: parameter.grad.detach().clone() for name, parameter in model.named_parameters()}
    assert all(torch.isfinite(g).all() for g in gradients.values()), f"{config.name}: a gradient is not finite"
    fd_error, fd_difference = check_by_central_differences(model, config, batch, gradients)
    initial = {name: parameter.detach().clone() for name, parameter in model.named_parameters()}

    # Three Adam steps on the same batch, the loss recomputed before each.
    optimizer = make_optimizer(model.parameters())
    formula_adams = {name: FormulaAdam(tensor.numpy()) for name, tensor in initial.items()}
    losses, after = [], []
    adam_error = 0.0
    for _ in range(ADAM_STEPS):
        optimizer.zero_grad()
        step_loss = loss_of(model, *batch)
        losses.append(float(step_loss))
        step_loss.backward()
        step_gradients = {name: p.grad.detach().numpy().copy() for name, p in model.named_parameters()}
        optimizer.step()
        after.append({name: p.detach().clone() for name, p in model.named_parameters()})
        for name, adam in formula_adams.items():
            adam_error = max(adam_error, assert_close(after[-1][name].numpy(), adam.step(step_gradients[name]),
                                                      f"{config.name}: Adam on {name}"))
    assert losses[0] == float(loss)
    assert losses[-1] < losses[0], f"{config.name}: Adam did not lower the loss: {losses}"

    folder = TRAINING_DIR / config.name
    shutil.rmtree(folder, ignore_errors=True)  # no stale files from an older version
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({
        "vocabulary": config.vocabulary, "length": config.length, "d_model": config.d_model,
        "layers": config.layers, "heads": config.heads, "causal": config.causal, "batch": config.batch}) + "\n")
    for name, tensor in initial.items():
        save(folder, name, tensor)
        save(folder / "grad", name, gradients[name])
    save(folder, "tokens", tokens)
    save(folder, "targets", targets)
    save(folder, "counted", counted)
    save(folder, "loss", np.array([float(loss)], dtype=np.float64))
    save(folder / "adam", "losses", np.array(losses, dtype=np.float64))
    for step, parameters in enumerate(after, start=1):
        for name, tensor in parameters.items():
            save(folder / "adam" / f"step{step}", name, tensor)

    print(f"{config.name:12s} V={config.vocabulary} L={config.length} d={config.d_model} layers={config.layers} "
          f"H={config.heads} causal={'yes' if config.causal else 'no '} B={config.batch} "
          f"counted={int(counted.sum())}: loss {float(loss):.6f}, Adam losses "
          f"{', '.join(f'{value:.6f}' for value in losses)}; central differences: largest error "
          f"{fd_error:.1e} (largest difference {fd_difference:.1e}); Adam vs formula {adam_error:.1e}")
    return fd_error


def write_adam_vector():
    """Adam alone on 5 parameters and 4 given gradients."""
    torch.manual_seed(BASE_SEED + len(CONFIGS))
    start = torch.randn(5, dtype=DTYPE)
    gradients = torch.randn(4, 5, dtype=DTYPE)
    gradients[0, 2] = 0.0      # zero at the first step: m = v = 0, so the update is 0 / (0 + eps) = 0
    gradients[2, 4] = 0.0      # zero later: momentum still moves the parameter
    gradients[1, 1] = 1.0e4    # large: v jumps, the next steps of that entry shrink
    gradients[0, 3] = 1.0e-10  # tiny, near eps: eps visibly damps the first step
    parameter = start.clone().requires_grad_(True)
    optimizer = make_optimizer([parameter])
    formula = FormulaAdam(start.numpy())
    after = []
    for gradient in gradients:
        parameter.grad = gradient.clone()
        optimizer.step()
        after.append(parameter.detach().clone())
        assert_close(after[-1].numpy(), formula.step(gradient.numpy()), "Adam on the vector")
    after = torch.stack(after)
    assert after[0, 2] == start[2], "a zero first gradient must leave the parameter where it was"

    shutil.rmtree(ADAM_DIR, ignore_errors=True)
    ADAM_DIR.mkdir(parents=True)
    save(ADAM_DIR, "parameter", start)
    save(ADAM_DIR, "gradients", gradients)
    save(ADAM_DIR, "parameters_after", after)
    (ADAM_DIR / "config.json").write_text(json.dumps({"lr": LEARNING_RATE, "betas": list(BETAS), "eps": EPS}) + "\n")
    print(f"adam         5 parameters, 4 steps: moved by {float((after[-1] - start).abs().max()):.4f} at most")


def main():
    torch.set_num_threads(1)
    worst = max(write_configuration(index, config) for index, config in enumerate(CONFIGS))
    write_adam_vector()
    size = sum(path.stat().st_size for folder in (TRAINING_DIR, ADAM_DIR) for path in folder.rglob("*")
               if path.is_file() and path.suffix != ".md")
    print(f"wrote {len(CONFIGS)} configurations to {TRAINING_DIR} and the Adam vector to {ADAM_DIR} "
          f"({size / 1024:.0f} KiB); autograd vs central differences: largest error {worst:.1e} "
          f"(over the largest entry of that parameter's gradient; at most {FD_TOLERANCE:.0e} allowed)")


if __name__ == "__main__":
    main()
