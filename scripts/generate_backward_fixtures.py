#!/usr/bin/python3
"""Writes the PyTorch gradients that tests/lesson06/pytorch_gradients_test.cpp
checks the course's backward pass of multi-head attention against.

Run it from anywhere with Debian's Python, the one that can import python3-torch,
after scripts/generate_mha_fixtures.py (whose cases it reuses):

    /usr/bin/python3 scripts/generate_backward_fixtures.py

For every configuration of lesson 4's golden tests (tests/fixtures/lesson04/,
listed in its configs.txt: one head, eight heads, cross-attention, kdim/vdim,
no bias, every kind of mask, the causal mask) it loads that module's
parameters, inputs and masks, builds PyTorch's own nn.MultiheadAttention in
float64 with them, and runs autograd:

    query, key, value     three separate leaf tensors (even where lesson 4's
                          self-attention case gives the same numbers to all three)
    grad_output           N(0, 1), (B, L, E), seeded per configuration
    output.backward(grad_output)

It writes tests/fixtures/lesson06/<config>/:

    grad_output.npy       (B, L, E)     float64, dL/doutput, the input of the backward pass
    query.grad.npy        (B, L, E)     float64 } what autograd computed
    key.grad.npy          (B, S, kdim)  float64 }
    value.grad.npy        (B, S, vdim)  float64 }
    parameter_gradients/  the gradient of every parameter, under the
                          parameter's own state_dict() name (in_proj_weight.npy,
                          in_proj_bias.npy, out_proj.weight.npy, ... or
                          q_proj_weight.npy, ...), so that mha::load_parameters
                          reads them as a module of gradients

Before anything is written, autograd's gradients are checked against central
differences of the same loss, sum(grad_output * output), on a few entries of
every tensor, so that a misuse of PyTorch stops the script instead of reaching
the tests.
"""

import math
import shutil
from pathlib import Path

import numpy as np
import torch
from torch import nn

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
LESSON04_DIR = REPOSITORY_ROOT / "tests" / "fixtures" / "lesson04"
FIXTURES_DIR = REPOSITORY_ROOT / "tests" / "fixtures" / "lesson06"
BASE_SEED = 20240601
DTYPE = torch.float64
# Folders of tests/fixtures/lesson06/ that scripts/generate_training_fixtures.py owns.
OTHER_SCRIPTS_FOLDERS = ("training", "adam")


def read_configs():
    """configs.txt of lesson 4: name -> {num_heads, attn_mask, key_padding_mask, causal}."""
    configs = {}
    for line in (LESSON04_DIR / "configs.txt").read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        name, *fields = line.split()
        settings = dict(field.split("=", 1) for field in fields)
        configs[name] = {"num_heads": int(settings["num_heads"]), "attn_mask": settings["attn_mask"],
                         "key_padding_mask": settings["key_padding_mask"], "causal": settings["causal"] == "yes"}
    return configs


def load(folder, name):
    return torch.from_numpy(np.load(folder / f"{name}.npy"))


def build_module(folder, num_heads):
    """nn.MultiheadAttention in float64 holding the parameters saved in `folder`."""
    state = {path.stem: load(folder, path.stem) for path in folder.glob("*.npy")
             if path.stem in ("in_proj_weight", "q_proj_weight", "k_proj_weight", "v_proj_weight", "in_proj_bias",
                              "out_proj.weight", "out_proj.bias")}
    E = state["out_proj.weight"].shape[0]
    kdim = state["k_proj_weight"].shape[1] if "k_proj_weight" in state else E
    vdim = state["v_proj_weight"].shape[1] if "v_proj_weight" in state else E
    module = nn.MultiheadAttention(E, num_heads, batch_first=True, bias="in_proj_bias" in state, kdim=kdim,
                                   vdim=vdim).double()
    module.load_state_dict(state)
    module.eval()
    return module


def loss_of(module, query, key, value, masks, grad_output):
    """The scalar whose gradient with respect to the output is grad_output."""
    output, _ = module(query, key, value, need_weights=False, **masks)
    return (output * grad_output).sum()


def check_by_central_differences(module, inputs, masks, grad_output, gradients, name):
    """A few entries of each gradient against (f(x + h) - f(x - h)) / 2h."""
    h = 1e-6
    tensors = dict(zip(("query", "key", "value"), inputs))
    tensors.update({parameter: value for parameter, value in module.named_parameters()})
    with torch.no_grad():
        for tensor_name, tensor in tensors.items():
            flat = tensor.view(-1)
            for index in torch.randperm(flat.numel())[:3].tolist():
                original = float(flat[index])
                flat[index] = original + h
                above = float(loss_of(module, *inputs, masks, grad_output))
                flat[index] = original - h
                below = float(loss_of(module, *inputs, masks, grad_output))
                flat[index] = original
                numerical = (above - below) / (2 * h)
                analytic = float(gradients[tensor_name].reshape(-1)[index])
                assert math.isclose(analytic, numerical, rel_tol=1e-5, abs_tol=1e-8), \
                    f"{name}: d/d{tensor_name}[{index}] autograd {analytic} vs central differences {numerical}"


def main():
    configs = read_configs()
    # No stale cases: every folder of an older run goes, except those that
    # scripts/generate_training_fixtures.py writes in the same place.
    FIXTURES_DIR.mkdir(parents=True, exist_ok=True)
    for folder in FIXTURES_DIR.iterdir():
        if folder.is_dir() and folder.name not in OTHER_SCRIPTS_FOLDERS:
            shutil.rmtree(folder)
    for index, (name, config) in enumerate(configs.items()):
        torch.manual_seed(BASE_SEED + index)
        source = LESSON04_DIR / name
        module = build_module(source, config["num_heads"])
        # Three separate leaves, even where lesson 4's self-attention case saved one tensor three times.
        inputs = [load(source, part).clone().requires_grad_(True) for part in ("query", "key", "value")]
        masks = {}
        L, S = inputs[0].shape[1], inputs[1].shape[1]
        if config["attn_mask"] != "none":
            masks["attn_mask"] = load(source, "attn_mask")
        if config["causal"]:
            masks["attn_mask"] = torch.ones(L, S, dtype=torch.bool).triu(diagonal=1)  # torch 1.13: no is_causal
        if config["key_padding_mask"] != "none":
            masks["key_padding_mask"] = load(source, "key_padding_mask")
        grad_output = torch.randn(inputs[0].shape, dtype=DTYPE)

        loss_of(module, *inputs, masks, grad_output).backward()
        gradients = {part: tensor.grad.detach().clone() for part, tensor in zip(("query", "key", "value"), inputs)}
        gradients.update({parameter: value.grad.detach().clone() for parameter, value in module.named_parameters()})
        assert all(torch.isfinite(g).all() for g in gradients.values()), f"{name}: a gradient is not finite"
        check_by_central_differences(module, [t.detach().clone() for t in inputs], masks, grad_output, gradients,
                                     name)

        folder = FIXTURES_DIR / name
        (folder / "parameter_gradients").mkdir(parents=True)
        np.save(folder / "grad_output.npy", grad_output.numpy())
        for part in ("query", "key", "value"):
            np.save(folder / f"{part}.grad.npy", np.ascontiguousarray(gradients[part].numpy()))
        for parameter, _ in module.named_parameters():
            np.save(folder / "parameter_gradients" / f"{parameter}.npy", np.ascontiguousarray(gradients[parameter].numpy()))
        print(f"{name:38s} H={config['num_heads']} parameters: "
              f"{', '.join(p for p, _ in module.named_parameters())}")
    size = sum(path.stat().st_size for name in configs for path in (FIXTURES_DIR / name).rglob("*")
               if path.is_file())
    print(f"wrote {len(configs)} cases to {FIXTURES_DIR} ({size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
