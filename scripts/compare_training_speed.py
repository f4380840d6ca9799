#!/usr/bin/python3
"""Times one training step of lesson 6's tiny transformer in PyTorch and in the
course's C++ (`mha train`), and prints the comparison as a markdown table.

Run it with Debian's Python, the one that can import python3-torch, from the
repository's root after building the mha command:

    /usr/bin/python3 scripts/compare_training_speed.py                      # mha = build/default/mha
    /usr/bin/python3 scripts/compare_training_speed.py build/default/mha --json speed.json

The model is the one of scripts/generate_training_fixtures.py (see
tests/fixtures/lesson06/training/README.md): token and position embeddings,
attention-only layers nn.MultiheadAttention(d, H, bias=False, batch_first=True)
with residual connections, a readout nn.Linear(d, V, bias=False), the mean
cross-entropy over the counted positions. Three models, batch 32, PyTorch's
default initialisation:

    induction          V=16 L=16 d=24, 2 layers, 2 heads, causal       (mha train's default)
    induction-d16-h2   V=16 L=16 d=16, 2 layers, 2 heads, causal       (the sizes issue 11 started from)
    coreference        V=48 L=11 d=16, 2 layers, 2 heads, not causal   (mha train's default)

One step is what a training loop does for each batch:

    optimizer.zero_grad(); loss = loss_of(model(tokens)); loss.backward(); optimizer.step()

with torch.optim.Adam(lr=1e-2, betas=(0.9, 0.999), eps=1e-8). The batches are
random tokens made before the clock starts (their content does not change the
time; induction counts the second half of each row, coreference position 7).

PyTorch runs on 1 thread (torch.set_num_threads(1)), in float32 and separately
in float64. Each round warms up (--warmup steps) and then times every one of
--steps steps (at least 200) on its own with time.perf_counter; the report
gives the median over all the rounds' steps and the interquartile range,
in wall-clock time. It also measures each step's CPU time (time.thread_time);
when the wall-clock median exceeds it by more than 20%, other programs were
taking the core, and the table says so.

The C++ side: for each model the script runs

    <mha> train --task <task> --layers N --heads H --d-model D --steps 300 --seed 1
                --out <a temporary folder>

which prints one JSON object on stdout holding "milliseconds_per_step" (the
median over its training steps; each step is its forward pass, loss, backward
pass and Adam step on a batch of 32, the batch's making left out), in double
precision. The script checks that the JSON object's "layers", "heads",
"d_model", "vocabulary_size" and "sequence_length", when present, are the sizes
PyTorch times. C++ and PyTorch take turns, --rounds times
(3 by default): C++ induction, PyTorch induction, C++ coreference, PyTorch
coreference, then again, so that a slow spell of the machine falls on both.
The C++ median is the median of its rounds' numbers. If the mha command is
missing, has no `train` subcommand, fails, or prints no "milliseconds_per_step",
the table gives the PyTorch numbers alone and says why the C++ side is
unavailable; the script still exits with 0.

PyTorch's best setting on this CPU, as scripts/benchmark_pytorch.py sets it: when
they are not set already, and the CPU has AVX-512,

    ATEN_CPU_CAPABILITY=avx512     PyTorch's own kernels in AVX-512 (Debian's 1.13 uses AVX2 otherwise)
    OPENBLAS_CORETYPE=SkylakeX     OpenBLAS's AVX-512 kernels
    OPENBLAS_NUM_THREADS=1, OMP_NUM_THREADS=1    no hidden threads

and the script runs itself again with them (they are read when the libraries
load). --keep-environment skips this. The C++ command inherits the same
environment.

Output: the markdown table on stdout, progress on stderr; --json FILE also
writes every number (each round's medians, the step times' quartiles, the C++
command's own JSON objects).
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchmark_pytorch import best_environment  # noqa: E402  (it imports torch only when run)

REEXEC_MARKER = "MHA_COMPARE_TRAINING_SPEED_REEXEC"

# The models compared, by name: `mha train`'s task, vocabulary V, length L, d_model d, layers,
# heads H, causal. The first and the last are what `mha train` trains by default; the second
# is the induction model at the sizes issue 11 started from (d 16, 2 heads).
TASKS = {
    "induction": dict(task="induction", vocabulary=16, length=16, d_model=24, layers=2, heads=2, causal=True),
    "induction-d16-h2": dict(task="induction", vocabulary=16, length=16, d_model=16, layers=2, heads=2,
                             causal=True),
    "coreference": dict(task="coreference", vocabulary=48, length=11, d_model=16, layers=2, heads=2,
                        causal=False),
}
MODEL_SIZES = ("vocabulary", "length", "d_model", "layers", "heads", "causal")
BATCH = 32
COREFERENCE_POSITION = 7
LEARNING_RATE, BETAS, EPS = 1e-2, (0.9, 0.999), 1e-8
BATCH_POOL = 8  # batches made in advance and cycled through


# ---------------------------------------------------------------------------
# The environment
# ---------------------------------------------------------------------------

def ensure_environment(arguments):
    """Runs this script again with PyTorch's best setting if any of it is missing; returns otherwise."""
    if arguments.keep_environment or os.environ.get(REEXEC_MARKER):
        return
    wanted = best_environment(threads=1)  # the same setting as lesson 5's PyTorch benchmark
    for name, value in wanted.items():
        if name in os.environ and os.environ[name] != value:
            print(f"compare_training_speed: warning: {name}={os.environ[name]} is kept, though the best setting "
                  f"here is {name}={value}", file=sys.stderr)
    missing = {name: value for name, value in wanted.items() if name not in os.environ}
    if not missing:
        return
    print("compare_training_speed: running again with " + " ".join(f"{k}={v}" for k, v in missing.items()),
          file=sys.stderr, flush=True)
    environment = dict(os.environ, **missing, **{REEXEC_MARKER: "1"})
    os.execve(sys.executable, [sys.executable] + sys.argv, environment)


# ---------------------------------------------------------------------------
# PyTorch
# ---------------------------------------------------------------------------

def make_model_class(torch):
    nn = torch.nn

    class TinyTransformer(nn.Module):
        """As in scripts/generate_training_fixtures.py."""

        def __init__(self, vocabulary, length, d_model, layers, heads, causal):
            super().__init__()
            self.token_embedding = nn.Embedding(vocabulary, d_model)
            self.position_embedding = nn.Embedding(length, d_model)
            self.layers = nn.ModuleList(nn.MultiheadAttention(d_model, heads, bias=False, batch_first=True)
                                        for _ in range(layers))
            self.readout = nn.Linear(d_model, vocabulary, bias=False)
            self.register_buffer("positions", torch.arange(length), persistent=False)
            self.mask = torch.ones(length, length, dtype=torch.bool).triu(diagonal=1) if causal else None

        def forward(self, tokens):
            x = self.token_embedding(tokens) + self.position_embedding(self.positions)
            for attention in self.layers:
                a, _ = attention(x, x, x, attn_mask=self.mask, need_weights=False)
                x = x + a
            return self.readout(x)

    return TinyTransformer


def make_batches(torch, task, generator):
    """BATCH_POOL batches (tokens, targets, counted) of BATCH rows."""
    V, L = TASKS[task]["vocabulary"], TASKS[task]["length"]
    batches = []
    for _ in range(BATCH_POOL):
        tokens = torch.randint(V, (BATCH, L), generator=generator)
        targets = torch.zeros(BATCH, L, dtype=torch.int64)
        counted = torch.zeros(BATCH, L, dtype=torch.bool)
        if TASKS[task]["task"] == "induction":
            targets[:, :-1] = tokens[:, 1:]
            counted[:, L // 2:-1] = True
        else:
            targets[:, COREFERENCE_POSITION] = torch.randint(V, (BATCH,), generator=generator)
            counted[:, COREFERENCE_POSITION] = True
        batches.append((tokens, targets, counted))
    return batches


class PytorchTrainer:
    """A model, its Adam and its batches, kept from round to round."""

    def __init__(self, torch, task, dtype, seed):
        self.torch = torch
        torch.manual_seed(seed)
        self.model = make_model_class(torch)(**{size: TASKS[task][size] for size in MODEL_SIZES}).to(dtype)
        self.model.train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=LEARNING_RATE, betas=BETAS, eps=EPS)
        self.batches = make_batches(torch, task, torch.Generator().manual_seed(seed))
        self.step_count = 0
        self.last_loss = float("nan")

    def step(self):
        tokens, targets, counted = self.batches[self.step_count % len(self.batches)]
        self.step_count += 1
        self.optimizer.zero_grad(set_to_none=True)
        logits = self.model(tokens)
        loss = self.torch.nn.functional.cross_entropy(logits[counted], targets[counted])
        loss.backward()
        self.optimizer.step()
        return loss

    def time_round(self, warmup, steps):
        """Milliseconds of each of `steps` steps, after `warmup` untimed ones: the wall-clock
        time, and the CPU time of this thread (which leaves out the time other programs
        had the core)."""
        for _ in range(warmup):
            self.step()
        wall, cpu = [], []
        for _ in range(steps):
            start, start_cpu = time.perf_counter(), time.thread_time()
            loss = self.step()
            wall.append((time.perf_counter() - start) * 1e3)
            cpu.append((time.thread_time() - start_cpu) * 1e3)
        self.last_loss = float(loss)
        return wall, cpu


def quartiles(values):
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, median, q3


# ---------------------------------------------------------------------------
# The C++ side
# ---------------------------------------------------------------------------

def run_cxx(mha, task, arguments):
    """(result, None) with the command's JSON object, or (None, why it is unavailable)."""
    if not Path(mha).is_file() or not os.access(mha, os.X_OK):
        return None, f"{mha} is not an executable file (build it: cmake --preset default && cmake --build --preset default)"
    with tempfile.TemporaryDirectory(prefix="mha-train-") as out:
        sizes = TASKS[task]
        command = [mha, "train", "--task", sizes["task"], "--layers", str(sizes["layers"]), "--heads", str(sizes["heads"]),
                   "--d-model", str(sizes["d_model"]), "--steps", str(arguments.cxx_steps),
                   "--seed", str(arguments.seed), "--out", out]
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=arguments.cxx_timeout)
        except subprocess.TimeoutExpired:
            return None, f"`{' '.join(command)}` took more than {arguments.cxx_timeout} s"
        except OSError as error:
            return None, f"`{' '.join(command)}` could not run: {error}"
    if finished.returncode != 0:
        last = (finished.stderr.strip().splitlines() or ["(nothing on stderr)"])[-1]
        return None, f"`{' '.join(command)}` exited with {finished.returncode}: {last}"
    result = parse_json_object(finished.stdout)
    if result is None:
        return None, f"`{' '.join(command)}` printed no JSON object on stdout"
    value = result.get("milliseconds_per_step")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not value > 0:
        return None, f"`{' '.join(command)}` printed no positive \"milliseconds_per_step\""
    echoed = {"layers": "layers", "heads": "heads", "d_model": "d_model", "vocabulary_size": "vocabulary",
              "sequence_length": "length"}
    for field, size in echoed.items():
        if field in result and result[field] != TASKS[task][size]:
            return None, (f"`{' '.join(command)}` trained a model of {field} {result[field]}, "
                          f"not the {TASKS[task][size]} PyTorch times")
    return result, None


def parse_json_object(text):
    """The JSON object stdout holds: all of it, or else its last line that is one."""
    candidates = [text.strip()] + [line.strip() for line in reversed(text.splitlines())]
    for candidate in candidates:
        if candidate.startswith("{"):
            try:
                value = json.loads(candidate)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    return None


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def parse_arguments():
    parser = argparse.ArgumentParser(
        description="Time one training step (forward, backward, Adam; batch 32) of lesson 6's tiny transformer "
                    "in PyTorch (1 thread, float32 and float64) and in `mha train`; print a markdown table.",
        epilog="Example: /usr/bin/python3 scripts/compare_training_speed.py build/default/mha --json speed.json")
    parser.add_argument("mha", nargs="?", default="build/default/mha",
                        help="the mha command (default build/default/mha)")
    parser.add_argument("--rounds", type=int, default=3, help="turns of C++ and PyTorch (default 3)")
    parser.add_argument("--steps", type=int, default=200,
                        help="PyTorch steps timed per round, task and dtype; at least 200 (default 200)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed PyTorch steps before each round (default 50)")
    parser.add_argument("--cxx-steps", type=int, default=300, help="--steps given to mha train (default 300)")
    parser.add_argument("--seed", type=int, default=1, help="--seed given to mha train, and PyTorch's (default 1)")
    parser.add_argument("--cxx-timeout", type=float, default=600.0,
                        help="seconds one mha train run may take (default 600)")
    parser.add_argument("--json", metavar="FILE", help="also write every number to FILE")
    parser.add_argument("--keep-environment", action="store_true",
                        help="do not set ATEN_CPU_CAPABILITY, OPENBLAS_CORETYPE and the thread counts")
    arguments = parser.parse_args()
    if arguments.rounds < 1 or arguments.steps < 200 or arguments.warmup < 1 or arguments.cxx_steps < 1:
        parser.error("--rounds, --warmup and --cxx-steps must be >= 1, --steps >= 200")
    return arguments


def cpu_capability(torch):
    found = re.search(r"CPU capability usage:\s*(\S+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


def log(message):
    print(f"compare_training_speed: {message}", file=sys.stderr, flush=True)


def main():
    arguments = parse_arguments()
    ensure_environment(arguments)  # may run the script again
    import torch  # only now: the environment is read when torch and OpenBLAS load
    torch.set_num_threads(1)
    dtypes = {"float32": torch.float32, "float64": torch.float64}

    trainers = {(task, name): PytorchTrainer(torch, task, dtype, arguments.seed)
                for task in TASKS for name, dtype in dtypes.items()}
    pytorch_times = {key: [] for key in trainers}          # every timed step, all rounds
    pytorch_cpu_times = {key: [] for key in trainers}      # the same steps' CPU time
    pytorch_round_medians = {key: [] for key in trainers}
    cxx_results = {task: [] for task in TASKS}
    cxx_problem = None

    for round_index in range(1, arguments.rounds + 1):
        for task in TASKS:
            if cxx_problem is None:
                log(f"round {round_index}: C++ {task}, {arguments.cxx_steps} steps...")
                result, cxx_problem = run_cxx(arguments.mha, task, arguments)
                if result is not None:
                    cxx_results[task].append(result)
                else:
                    log(f"the C++ side is unavailable: {cxx_problem}")
            for name in dtypes:
                log(f"round {round_index}: PyTorch {task} {name}, {arguments.warmup} + {arguments.steps} steps...")
                times, cpu_times = trainers[task, name].time_round(arguments.warmup, arguments.steps)
                pytorch_times[task, name] += times
                pytorch_cpu_times[task, name] += cpu_times
                pytorch_round_medians[task, name].append(statistics.median(times))

    cxx_available = cxx_problem is None
    report = {
        "torch_version": torch.__version__, "threads": torch.get_num_threads(),
        "cpu_capability": cpu_capability(torch), "batch": BATCH, "rounds": arguments.rounds,
        "pytorch_steps_per_round": arguments.steps, "warmup_steps": arguments.warmup,
        "environment": {name: os.environ.get(name, "(unset)") for name in
                        ("ATEN_CPU_CAPABILITY", "OPENBLAS_CORETYPE", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")},
        "mha": arguments.mha, "cxx_available": cxx_available, "cxx_problem": cxx_problem, "tasks": {},
    }
    for task in TASKS:
        entry = {"model": dict(TASKS[task], batch=BATCH)}
        for name in dtypes:
            q1, median, q3 = quartiles(pytorch_times[task, name])
            entry[f"pytorch_{name}"] = {
                "median_ms": median, "q1_ms": q1, "q3_ms": q3, "steps_timed": len(pytorch_times[task, name]),
                "round_medians_ms": pytorch_round_medians[task, name],
                "cpu_time_median_ms": statistics.median(pytorch_cpu_times[task, name]),
                "final_loss": trainers[task, name].last_loss}
        if cxx_available:
            per_round = [result["milliseconds_per_step"] for result in cxx_results[task]]
            entry["cxx"] = {"median_ms": statistics.median(per_round), "round_ms": per_round,
                            "outputs": cxx_results[task]}
            for name in dtypes:
                entry[f"ratio_pytorch_{name}_over_cxx"] = entry[f"pytorch_{name}"]["median_ms"] / entry["cxx"]["median_ms"]
        report["tasks"][task] = entry

    print_table(report, dtypes)
    if arguments.json:
        Path(arguments.json).write_text(json.dumps(report, indent=2) + "\n")
        log(f"wrote {arguments.json}")


def print_table(report, dtypes):
    steps = report["rounds"] * report["pytorch_steps_per_round"]
    print(f"One training step (forward, backward, Adam), batch {report['batch']}; PyTorch {report['torch_version']} "
          f"on {report['threads']} thread, CPU capability {report['cpu_capability']}: median over {steps} steps "
          f"({report['rounds']} round{'s' if report['rounds'] > 1 else ''}), [interquartile range].")
    print()
    header = ["task"] + [f"PyTorch {name} ms/step" for name in dtypes]
    if report["cxx_available"]:
        header += ["C++ ms/step"] + [f"PyTorch {name} / C++" for name in dtypes]
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    for task, entry in report["tasks"].items():
        cells = [task]
        for name in dtypes:
            timing = entry[f"pytorch_{name}"]
            cells.append(f"{timing['median_ms']:.3f} [{timing['q1_ms']:.3f}, {timing['q3_ms']:.3f}]")
        if report["cxx_available"]:
            cells.append(f"{entry['cxx']['median_ms']:.3f}")
            cells += [f"{entry[f'ratio_pytorch_{name}_over_cxx']:.2f}" for name in dtypes]
        print("| " + " | ".join(cells) + " |")
    print()
    busy = [f"{task} {name}" for task, entry in report["tasks"].items() for name in dtypes
            if entry[f"pytorch_{name}"]["median_ms"] > 1.2 * entry[f"pytorch_{name}"]["cpu_time_median_ms"]]
    if busy:
        print(f"The machine was busy: the median wall-clock time exceeds the median CPU time by over 20% for "
              f"{', '.join(busy)} (CPU-time medians in --json's cpu_time_median_ms).")
        print()
    if report["cxx_available"]:
        first = next(iter(report["tasks"].values()))["cxx"]["outputs"][0]
        extra = {key: first[key] for key in ("layers", "heads", "d_model", "steps", "seed", "dtype", "threads")
                 if key in first}
        print(f"C++: `{report['mha']} train`, median of {report['rounds']} run{'s' if report['rounds'] > 1 else ''}' milliseconds_per_step"
              + (f"; it reports {json.dumps(extra)}" if extra else "") + ".")
    else:
        print(f"The C++ side is unavailable: {report['cxx_problem']}.")


if __name__ == "__main__":
    main()
