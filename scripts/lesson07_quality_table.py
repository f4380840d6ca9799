#!/usr/bin/env python3
"""Makes lesson 7's quality table (Markdown): lesson 6's induction task trained with G key/value heads.

Run it from the repository's root after building the mha command (about 25
trainings of 3 to 8 seconds each, one at a time: 2 to 3 minutes on an idle machine):

    cmake --build build/default --target mha_command
    nice python3 scripts/lesson07_quality_table.py          # writes lessons/07-decoding/quality_table.md
    nice python3 scripts/lesson07_quality_table.py --mha build/default/mha --out table.md --jobs 2
    nice python3 scripts/lesson07_quality_table.py --json runs.jsonl   # also keep every run's JSON object
    python3 scripts/lesson07_quality_table.py --from-json runs.jsonl    # the table again, training nothing

The mha command is copied to a temporary folder first, so that a rebuild while
the trainings run cannot pull the executable from under them. Every number comes from

    <mha> train --task induction --layers 2 --heads H --num-kv-heads G --d-model 24 --seed X --out <a temporary folder>

which prints one JSON object on stdout; read from it: "test_accuracy" (held out,
the same 512 sequences for every seed) and, per layer and head of "heads_scores",
"previous_token_score" and "induction_score". With G < H, `mha train` trains a
grouped-query model as lesson 6's model whose query heads of one group have tied
rows of W_k and W_v (src/decode/tied_key_value_heads.hpp). The steps are lesson
6's default (2000); d_model is lesson 6's induction default (24).

The table, one row per (H, G): H = 4 with G = 4, 2, 1 and H = 2 with G = 2, 1;
seeds 1 to 5 (--seeds N for 1 to N). Per row: the held-out accuracy's median and
range over seeds; the median (and smallest) over seeds of the best layer-0
previous-token score and of the best layer-1 induction score; how many seeds meet
lesson 6's three criteria (accuracy >= 99 %, a layer-0 head with previous-token
score >= 0.9, a layer-1 head with induction score >= 0.9); and what G saves, by
formula: the K/V parameters per layer, 2·G·d_k·d_model (no biases), and the key/value
cache per token, 2 layers · 2 (K and V) · G · d_k numbers of 8 bytes (float64, as
lesson 7's reference) or 4 (float32).

The first line of the output holds the date it was made; the rest changes only
when the numbers do. Regenerate it, never edit it by hand. Only the standard
library is used: any python3 runs it.
"""

import argparse
import concurrent.futures
import datetime
import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lesson06_tables  # noqa: E402  mha train's JSON, lesson 6's criteria, percent and table
from lesson06_tables import percent, table  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "lessons" / "07-decoding" / "quality_table.md"

TASK = "induction"
LAYERS = 2
D_MODEL = 24  # lesson 6's induction default (mha::default_options, src/train/trainer.cpp)
STEPS = 2000  # lesson 6's default_steps
# (H, G): H = 4 first, so that G = 1 still has four query heads on its one key/value head.
CONFIGURATIONS = ((4, 4), (4, 2), (4, 1), (2, 2), (2, 1))


def run(mha, heads, kv_heads, seed):
    """One `mha train` run: its JSON object (a dict)."""
    options = ["--task", TASK, "--layers", str(LAYERS), "--heads", str(heads), "--num-kv-heads", str(kv_heads),
               "--d-model", str(D_MODEL), "--steps", str(STEPS), "--seed", str(seed)]
    result = lesson06_tables.train(mha, options, prefix="lesson07-quality-")
    echoed = (result["heads"], result["num_kv_heads"], result["d_model"], result["layers"], result["steps"])
    if echoed != (heads, kv_heads, D_MODEL, LAYERS, STEPS):
        raise RuntimeError(f"mha train {' '.join(options)} trained {echoed} (heads, num_kv_heads, d_model, layers, steps)")
    return result


def best(result, layer, key):
    """The largest score `key` among the heads of one layer."""
    return max(h[key] for h in result["heads_scores"] if h["layer"] == layer)


def meets_criteria(result):
    """Lesson 6's three criteria, as lesson 6's table checks them."""
    return all(lesson06_tables.induction_checks(result))


def quality_table(results, seeds):
    header = ["H", "G", "query heads per K/V head", "accuracy: median (range)",
              "best previous-token score, layer 0: median (lowest)", "best induction score, layer 1: median (lowest)",
              "seeds meeting lesson 6's 3 criteria", "K/V parameters per layer", "K/V cache per token, float64 / float32"]
    rows, missed = [], []
    for heads, kv_heads in CONFIGURATIONS:
        runs = [results[(heads, kv_heads, seed)] for seed in seeds]
        accuracies = [r["test_accuracy"] for r in runs]
        previous = [best(r, 0, "previous_token_score") for r in runs]
        induction = [best(r, 1, "induction_score") for r in runs]
        head_dim = D_MODEL // heads
        cache_numbers = LAYERS * 2 * kv_heads * head_dim
        rows.append([heads, kv_heads, heads // kv_heads,
                     f"{percent(statistics.median(accuracies))} ({percent(min(accuracies))} – {percent(max(accuracies))})",
                     f"{statistics.median(previous):.2f} ({min(previous):.2f})",
                     f"{statistics.median(induction):.2f} ({min(induction):.2f})",
                     f"{sum(meets_criteria(r) for r in runs)} of {len(runs)}",
                     f"{2 * kv_heads * head_dim * D_MODEL:,}", f"{8 * cache_numbers} B / {4 * cache_numbers} B"])
        missed += [f"H = {heads}, G = {kv_heads}, seed {seed} (accuracy {percent(r['test_accuracy'])}, "
                   f"previous-token {best(r, 0, 'previous_token_score'):.2f}, "
                   f"induction {best(r, 1, 'induction_score'):.2f})"
                   for seed, r in zip(seeds, runs) if not meets_criteria(r)]
    text = table(header, rows)
    text += "\n\nRuns that miss a criterion: " + ("; ".join(missed) if missed else "none") + "."
    return text


def parse_arguments():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mha", default=str(ROOT / "build" / "default" / "mha"), help="the mha command")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"the Markdown file to write (default {DEFAULT_OUT})")
    parser.add_argument("--seeds", type=int, default=5, help="train seeds 1 to N (default 5)")
    parser.add_argument("--jobs", type=int, default=1, help="trainings run at once (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write every run's JSON object to FILE, one a line")
    parser.add_argument("--from-json", metavar="FILE",
                        help="train nothing: make the table from the runs a --json FILE of an earlier call saved")
    arguments = parser.parse_args()
    if arguments.seeds < 1:
        parser.error("--seeds must be at least 1")
    return arguments


def main():
    arguments = parse_arguments()
    seeds = range(1, arguments.seeds + 1)
    wanted = [(heads, kv_heads, seed) for heads, kv_heads in CONFIGURATIONS for seed in seeds]
    results = {}
    if arguments.from_json:
        for line in Path(arguments.from_json).read_text(encoding="utf-8").splitlines():
            r = json.loads(line)
            results[(r["heads"], r["num_kv_heads"], r["seed"])] = r
        missing = [key for key in wanted if key not in results]
        if missing:
            sys.exit(f"lesson07_quality_table.py: {arguments.from_json} has no run of {missing[0]} "
                     f"(heads, num_kv_heads, seed), nor of {len(missing) - 1} others")
        wanted = []
    elif not Path(arguments.mha).is_file():
        sys.exit(f"lesson07_quality_table.py: {arguments.mha} does not exist; build it first "
                 "(cmake --build build/default --target mha_command)")
    with tempfile.TemporaryDirectory(prefix="lesson07-mha-") as folder:
        mha = Path(folder) / "mha"
        if wanted:
            shutil.copy2(arguments.mha, mha)  # a rebuild during the runs would otherwise crash them
        with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, arguments.jobs)) as pool:
            futures = {pool.submit(run, mha, *key): key for key in wanted}
            for done, future in enumerate(concurrent.futures.as_completed(futures), start=1):
                key = futures[future]
                results[key] = future.result()
                print(f"[{done}/{len(wanted)}] H {key[0]} G {key[1]} seed {key[2]}: accuracy "
                      f"{percent(results[key]['test_accuracy'])}, {results[key]['seconds']:.1f} s",
                      file=sys.stderr, flush=True)
    if arguments.json:
        with open(arguments.json, "w", encoding="utf-8") as file:
            for key in sorted(results):
                file.write(json.dumps(results[key]) + "\n")

    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    parts = [
        f"<!-- Generated by scripts/lesson07_quality_table.py on {today}; regenerate, never edit. -->",
        "",
        f"Lesson 6's induction task trained with G key/value heads per layer: {LAYERS} layers, d_model "
        f"{D_MODEL}, H query heads of d_k = d_model / H, {STEPS} Adam steps, seeds {seeds[0]} to {seeds[-1]} "
        "for every row, measured on the same 512 held-out sequences. G = H is lesson 6's multi-head "
        "attention; G = 1 is multi-query attention, one key/value head for all. The main rows take H = 4, "
        "not lesson 6's 2, so that G = 2 is a real middle and G = 1 still shares one key/value head among "
        "four query heads; H = 2 follows. A grouped model is trained as lesson 6's model whose query heads "
        "of one group have tied rows of W_k and W_v: they start equal and each step gives them the sum of "
        "their gradients. The criteria are lesson 6's: accuracy ≥ 99 %, a layer-0 head with previous-token "
        "score ≥ 0.9, a layer-1 head with induction score ≥ 0.9. The last two columns are by formula: "
        "2·G·d_k·d_model weights of W_k and W_v per layer, and 2 layers · 2 (K and V) · G · d_k cached "
        "numbers per token.",
        "",
        quality_table(results, seeds),
        "",
    ]
    Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.out).write_text("\n".join(parts), encoding="utf-8")
    print(f"wrote {arguments.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
