#!/usr/bin/env python3
"""Makes lesson 6's tables of trained models (Markdown) from many runs of `mha train`.

Run it from the repository's root after building the mha command (it takes a few
minutes: about 70 trainings of 1 to 5 seconds each, one at a time):

    cmake --build build/default --target mha_command
    nice python3 scripts/lesson06_tables.py             # writes lessons/06-training/training_tables.md
    nice python3 scripts/lesson06_tables.py --mha build/default/mha --out tables.md --jobs 2
    nice python3 scripts/lesson06_tables.py --json runs.jsonl    # also keep every run's JSON object
    python3 scripts/lesson06_tables.py --from-json runs.jsonl     # the tables again, training nothing

Every number comes from

    <mha> train --task TASK --layers N --heads H --d-model D --seed X --out <a temporary folder>

which prints one JSON object on stdout; read from it: "test_accuracy" (held-out,
the same questions for every seed) and, per layer and head of "heads_scores",
"previous_token_score" and "induction_score" (induction), "weight_on_referent"
and "weight_on_other_noun" (coreference), and "accuracy_without_head" (the
held-out accuracy with that head's columns of W_o set to zero). d_model and the
number of steps are always the task's defaults (`mha train --help`: induction
d_model 24, coreference 16); only the layers, the heads and the seed change.

The tables, each for both tasks:
  1. "Is more heads better?": heads 1, 2, 4 times layers 1, 2, seeds 1 to 5: the
     held-out accuracy's mean and minimum, the seeds reaching 99 %; for induction
     also the mean over seeds of the best previous-token score in layer 0 and of
     the best induction score in the last layer; for coreference the mean of the
     last layer's largest weight on the referent.
  2. Seeds 1 to 10 at the default settings: the accuracy and every head's scores,
     and a line counting the seeds that meet each of lesson 6's criteria
     (induction: accuracy >= 99 %, a layer-0 head with previous-token score >= 0.9,
     a layer-1 head with induction score >= 0.9; coreference: accuracy >= 99 %, and
     how many seeds have a last-layer head whose weight on the referent is >= 0.5).
  3. Head ablation (Michel et al. 2019): seed 1 at the default settings of each
     task, and the 2-layer, 2-head induction model: each head's accuracy_without_head.

The output has no timings and no date, so that it changes only when the numbers do:
the same build gives the same file. Regenerate it, never edit it by hand.
Only the standard library is used: any python3 runs it.
"""

import argparse
import concurrent.futures
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "lessons" / "06-training" / "training_tables.md"

TASKS = ("induction", "coreference")
# The defaults of mha::default_options (src/train/trainer.cpp).
DEFAULTS = {"induction": {"layers": 2, "heads": 2, "d_model": 24},
            "coreference": {"layers": 2, "heads": 2, "d_model": 16}}
GRID_HEADS = (1, 2, 4)
GRID_LAYERS = (1, 2)
GRID_SEEDS = range(1, 6)
SEEDS = range(1, 11)
GOAL_ACCURACY = 0.99
GOAL_SCORE = 0.9
REFERENT_HEAD = 0.5  # coreference: a head "looks at the referent" if over half its weight from "it" goes there


def train(mha, options, prefix="lesson06-tables-"):
    """Runs `mha train OPTIONS --out TEMPORARY_FOLDER`: its JSON object (a dict). Lesson 7's table uses it too."""
    with tempfile.TemporaryDirectory(prefix=prefix) as folder:
        command = [str(mha), "train", *options, "--out", folder]
        finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({finished.returncode}):\n{finished.stderr}")
    lines = [line for line in finished.stdout.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"{' '.join(command)} printed no JSON object:\n{finished.stdout}")
    return json.loads(lines[-1])


def run(mha, task, layers, heads, seed):
    """One `mha train` run: its JSON object (a dict)."""
    return train(mha, ["--task", task, "--layers", str(layers), "--heads", str(heads),
                       "--d-model", str(DEFAULTS[task]["d_model"]), "--seed", str(seed)])


def head(result, layer, index):
    """The "heads_scores" entry of one head."""
    return next(h for h in result["heads_scores"] if h["layer"] == layer and h["head"] == index)


def heads_of_layer(result, layer):
    return [h for h in result["heads_scores"] if h["layer"] == layer]


def percent(value):
    return f"{100 * value:.1f} %"


def score(value):
    return f"{value:.2f}"


def table(header, rows, align=None):
    """A Markdown table; align: one of 'l' or 'r' per column (default: first left, rest right)."""
    align = align or ["l"] + ["r"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if a == "l" else "---:" for a in align) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def induction_checks(result):
    """(accuracy >= 99 %, a layer-0 previous-token head >= 0.9, a layer-1 induction head >= 0.9)."""
    accurate = result["test_accuracy"] >= GOAL_ACCURACY
    previous = any(h["previous_token_score"] >= GOAL_SCORE for h in heads_of_layer(result, 0))
    induction = any(h["induction_score"] >= GOAL_SCORE for h in heads_of_layer(result, 1))
    return accurate, previous, induction


def grid_section(task, results):
    last = "the last layer"
    header = ["layers", "heads", "d_k", "mean accuracy", "min accuracy", "seeds ≥ 99 %"]
    if task == "induction":
        header += ["best previous-token score, layer 0", f"best induction score, {last}"]
    else:
        header += [f"largest weight on the referent, {last}"]
    rows = []
    for layers in GRID_LAYERS:
        for heads in GRID_HEADS:
            runs = [results[(task, layers, heads, seed)] for seed in GRID_SEEDS]
            accuracies = [r["test_accuracy"] for r in runs]
            row = [layers, heads, DEFAULTS[task]["d_model"] // heads, percent(statistics.mean(accuracies)),
                   percent(min(accuracies)), f"{sum(a >= GOAL_ACCURACY for a in accuracies)} of {len(runs)}"]
            if task == "induction":
                row.append(score(statistics.mean(
                    max(h["previous_token_score"] for h in heads_of_layer(r, 0)) for r in runs)))
                row.append(score(statistics.mean(
                    max(h["induction_score"] for h in heads_of_layer(r, layers - 1)) for r in runs)))
            else:
                row.append(score(statistics.mean(
                    max(h["weight_on_referent"] for h in heads_of_layer(r, layers - 1)) for r in runs)))
            rows.append(row)
    return table(header, rows)


def seeds_section(task, results):
    layers, heads = DEFAULTS[task]["layers"], DEFAULTS[task]["heads"]
    runs = [results[(task, layers, heads, seed)] for seed in SEEDS]
    header = ["seed", "accuracy"]
    for layer in range(layers):
        for index in range(heads):
            if task == "induction":
                header += [f"L{layer}H{index} previous-token", f"L{layer}H{index} induction"]
            else:
                header += [f"L{layer}H{index} referent", f"L{layer}H{index} other noun"]
    rows = []
    for seed, r in zip(SEEDS, runs):
        row = [seed, percent(r["test_accuracy"])]
        for layer in range(layers):
            for index in range(heads):
                h = head(r, layer, index)
                if task == "induction":
                    row += [score(h["previous_token_score"]), score(h["induction_score"])]
                else:
                    row += [score(h["weight_on_referent"]), score(h["weight_on_other_noun"])]
        rows.append(row)
    text = table(header, rows)
    n = len(runs)
    if task == "induction":
        checks = [induction_checks(r) for r in runs]
        counts = [sum(c[i] for c in checks) for i in range(3)]
        text += (f"\n\nOf {n} seeds: accuracy ≥ 99 % in **{counts[0]}**; a layer-0 head with previous-token "
                 f"score ≥ 0.9 in **{counts[1]}**; a layer-1 head with induction score ≥ 0.9 in **{counts[2]}**; "
                 f"all three in **{sum(all(c) for c in checks)}**.")
        missed = [f"{seed} (accuracy {percent(r['test_accuracy'])}, best previous-token score in layer 0 "
                  f"{score(max(h['previous_token_score'] for h in heads_of_layer(r, 0)))}, best induction score "
                  f"in layer 1 {score(max(h['induction_score'] for h in heads_of_layer(r, 1)))})"
                  for seed, r, c in zip(SEEDS, runs, checks) if not all(c)]
        if missed:
            text += f" Seeds that miss a criterion: {'; '.join(missed)}."
    else:
        accurate = [r["test_accuracy"] >= GOAL_ACCURACY for r in runs]
        text += f"\n\nOf {n} seeds: held-out accuracy ≥ 99 % in **{sum(accurate)}**."
        missed = [f"{seed} ({percent(r['test_accuracy'])})" for seed, r, ok in zip(SEEDS, runs, accurate) if not ok]
        if missed:
            text += f" Seeds below it: {', '.join(missed)}."
        referent = [seed for seed, r in zip(SEEDS, runs)
                    if any(h["weight_on_referent"] >= REFERENT_HEAD for h in heads_of_layer(r, layers - 1))]
        text += (f" A head of the last layer puts on average ≥ {REFERENT_HEAD} of the weight of \"it\" on the "
                 f"referent in **{len(referent)}** (seeds {', '.join(map(str, referent)) or 'none'}).")
    return text


def ablation_section(task, layers, heads, results):
    r = results[(task, layers, heads, 1)]
    if task == "induction":
        header = ["head", "previous-token score", "induction score", "accuracy without it", "drop"]
    else:
        header = ["head", "weight on referent", "weight on other noun", "accuracy without it", "drop"]
    rows = []
    for h in r["heads_scores"]:
        scores = ([h["previous_token_score"], h["induction_score"]] if task == "induction"
                  else [h["weight_on_referent"], h["weight_on_other_noun"]])
        drop = r["test_accuracy"] - h["accuracy_without_head"]
        rows.append([f"layer {h['layer']}, head {h['head']}", *map(score, scores),
                     percent(h["accuracy_without_head"]), f"{100 * drop:.1f} points"])
    title = (f"**{task}, {layers} layers × {heads} head{'s' if heads > 1 else ''}, d_model "
             f"{DEFAULTS[task]['d_model']}, seed 1**: accuracy with every head {percent(r['test_accuracy'])}")
    return title + "\n\n" + table(header, rows)


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mha", default=str(ROOT / "build" / "default" / "mha"), help="the mha command")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"the Markdown file to write (default {DEFAULT_OUT})")
    parser.add_argument("--jobs", type=int, default=1, help="trainings run at once (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write every run's JSON object to FILE, one a line")
    parser.add_argument("--from-json", metavar="FILE",
                        help="train nothing: make the tables from the runs a --json FILE of an earlier call saved")
    return parser.parse_args()


def main():
    arguments = parse_arguments()
    if not arguments.from_json and not Path(arguments.mha).is_file():
        sys.exit(f"lesson06_tables.py: {arguments.mha} does not exist; build it first "
                 "(cmake --build build/default --target mha_command)")
    wanted = set()
    for task in TASKS:
        wanted |= {(task, layers, heads, seed) for layers in GRID_LAYERS for heads in GRID_HEADS for seed in GRID_SEEDS}
        wanted |= {(task, DEFAULTS[task]["layers"], DEFAULTS[task]["heads"], seed) for seed in SEEDS}
    wanted = sorted(wanted)
    results = {}
    if arguments.from_json:
        for line in Path(arguments.from_json).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            if r["d_model"] == DEFAULTS[r["task"]]["d_model"]:
                results[(r["task"], r["layers"], r["heads"], r["seed"])] = r
        missing = [key for key in wanted if key not in results]
        if missing:
            sys.exit(f"lesson06_tables.py: {arguments.from_json} has no run of {missing[0]} "
                     f"(task, layers, heads, seed), nor of {len(missing) - 1} others")
        wanted = []  # nothing left to train
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, arguments.jobs)) as pool:
        futures = {pool.submit(run, arguments.mha, *key): key for key in wanted}
        for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
            key = futures[future]
            results[key] = future.result()
            print(f"[{done}/{len(wanted)}] {key[0]} layers {key[1]} heads {key[2]} seed {key[3]}: "
                  f"accuracy {percent(results[key]['test_accuracy'])}", file=sys.stderr, flush=True)
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as file:
            for key in sorted(results):
                file.write(json.dumps(results[key]) + "\n")

    d = {task: DEFAULTS[task]["d_model"] for task in TASKS}
    parts = [
        "<!-- Generated by scripts/lesson06_tables.py from runs of `mha train`: do not edit by hand. -->",
        "",
        "Every number is measured on held-out data (512 induction sequences; the held-out "
        "coreference sentences), the same for every seed. Each run trains the task's default number "
        f"of steps at the task's d_model (induction {d['induction']}, coreference {d['coreference']}); "
        "with H heads each head gets d_k = d_model / H columns. A head's score is the mean attention "
        "weight it puts where a head doing that job would look (see the lesson).",
        "",
        "### Is more heads better?",
        "",
        f"Seeds {GRID_SEEDS[0]} to {GRID_SEEDS[-1]} for every row.",
    ]
    for task in TASKS:
        parts += ["", f"**{task}**", "", grid_section(task, results)]
    parts += ["", f"### Seeds {SEEDS[0]} to {SEEDS[-1]} at the default settings", ""]
    for task in TASKS:
        layers, heads = DEFAULTS[task]["layers"], DEFAULTS[task]["heads"]
        parts += [f"**{task}**, {layers} layers × {heads} head{'s' if heads > 1 else ''}, d_model {d[task]} "
                  "(LℓHh: layer ℓ, head h)", "", seeds_section(task, results), ""]
    parts += ["### Head ablation", "",
              "Each head silenced in turn (its columns of W_o set to zero, so it adds nothing to the "
              "residual stream), the rest of the trained model unchanged.", ""]
    for task, layers, heads in (("induction", 2, 1), ("induction", 2, 2), ("coreference", 2, 2)):
        parts += [ablation_section(task, layers, heads, results), ""]
    Path(arguments.out).write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {arguments.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
