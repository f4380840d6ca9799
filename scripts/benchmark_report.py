#!/usr/bin/env python3
"""Makes lesson 5's benchmark table (Markdown) and chart (SVG) from one benchmark run.

scripts/run_benchmarks.sh runs it after the benchmarks; by hand:

    python3 scripts/benchmark_report.py \\
        --google-benchmark build/default/benchmark-results/attention_benchmark.json \\
        --pytorch build/default/benchmark-results/pytorch.jsonl \\
        --mha-bench build/default/benchmark-results/mha_bench.jsonl \\
        --markdown lessons/05-vectorize-with-xsimd/benchmark_table.md \\
        --svg lessons/05-vectorize-with-xsimd/gflops_chart.svg

Inputs, all from the same run on the same machine, and what is read from each:
  --google-benchmark  the JSON of benchmarks/attention_benchmark (--benchmark_out), run with
                      --benchmark_repetitions: of its "median" aggregates, "name"/"run_name"
                      (version and shape), "real_time" and "time_unit", the counters "gflops"
                      and "peak_fraction", and, of every attention benchmark, the counter
                      "flops" (one forward pass, mha::attention_flops): the one flop count,
                      which also turns PyTorch's times of the same shape into GFLOP/s;
                      "context" for the machine and the measured peak ("fma_peak_gflops")
  --pytorch           the JSON lines of scripts/benchmark_pytorch.py: "batch", "seq_len",
                      "embed_dim", "num_heads", "threads", "call", "median_ms", "repeat" and
                      the machine fields; times only, no flops
  --mha-bench         the JSON lines of `mha bench`, one process each: "version", "batch",
                      "seq_len", "embed_dim", "num_heads", "peak_rss_mb" and "median_ms" for the
                      memory; its "flops" field, if there, is not needed and not read

Outputs:
  --markdown  the table: median time, GFLOP/s and fraction of the FMA peak per version and shape,
              PyTorch's row, the speed-ups over PyTorch, the projection product, the 2-thread
              scaling, the memory, each goal of the lesson with met or missed, and the machine
  --svg       a bar chart of GFLOP/s per version and shape, as plain SVG text (no matplotlib)

Only the standard library is used: any python3 runs it.
"""

import argparse
import datetime
import html
import json
import math
import re
import sys
from pathlib import Path

# The versions of lesson 5, in order (mha::fast_version_name).
VERSIONS = ("v1-blas", "v2-simd", "v3-blocked", "v4-fused", "v5-threaded")
REFERENCE = "reference-double"
VERSION_TITLES = {
    REFERENCE: "lesson 4 reference (double)",
    "v1-blas": "v1-blas",
    "v2-simd": "v2-simd",
    "v3-blocked": "v3-blocked",
    "v4-fused": "v4-fused",
    "v5-threaded": "v5-threaded",
}

# The goals of lesson 5 (see its README).
GOAL_SPEEDUP_512 = 1.3        # L = 512: at least 1.3 times as fast as PyTorch
GOAL_PROJECTION_PEAK = 0.80   # the projection product at 80 % of the measured peak or more
GOAL_SPEEDUP_2048 = 4.0       # L = 2048: at least 4 times as fast as PyTorch
GOAL_MEMORY_FRACTION = 0.25   # L = 8192, fused: peak resident memory under 1/4 of the H·L·L float scores
GOAL_SCALING = 1.8            # L = 2048: 2 threads at least 1.8 times as fast as 1

ATTENTION_NAME = re.compile(r"^attention/(?P<version>[^/]+)/L:(?P<L>\d+)/E:(?P<E>\d+)/H:(?P<H>\d+)/B:(?P<B>\d+)"
                            r"/threads:(?P<threads>\d+)")
PROJECTION_NAME = re.compile(r"^projection/(?P<kind>[^/]+)/L:(?P<L>\d+)/E:(?P<E>\d+)")
PEAK_NAME = re.compile(r"^fma_peak/(?P<isa>[^/]+)")
TO_MS = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}


# ---------------------------------------------------------------------------
# Reading the results
# ---------------------------------------------------------------------------

def shape_key(batch, seq_len, embed_dim, num_heads):
    return (int(batch), int(seq_len), int(embed_dim), int(num_heads))


def shape_title(shape):
    batch, seq_len, embed_dim, num_heads = shape
    return f"L={seq_len} E={embed_dim} H={num_heads}" + (f" B={batch}" if batch != 1 else "")


def read_json_lines(path):
    rows = []
    if path is None:
        return rows
    for number, line in enumerate(Path(path).read_text().splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as error:
                sys.exit(f"benchmark_report: {path}:{number}: not JSON: {error}")
    return rows


class Results:
    """Everything one run measured, by what it measured."""

    def __init__(self, google_benchmark, google_benchmark_path, pytorch_rows, bench_rows):
        self.context = google_benchmark.get("context", {})
        self.google_benchmark_path = google_benchmark_path  # for the error messages
        self.attention = {}    # (version, shape, threads) -> {"ms", "gflops", "fraction"}
        self.flops = {}        # shape -> the flops of one forward pass, from the C++ benchmarks
        self.skipped = {}      # (version, shape, threads) -> why
        self.projection = {}   # (kind, L, E) -> {"ms", "gflops", "fraction"}
        self.probe = None      # the fma_peak benchmark's median GFLOP/s
        self.repetitions = None
        for run in google_benchmark.get("benchmarks", []):
            self._add(run)
        self.peak = float(self.context.get("fma_peak_gflops", "nan"))
        self.pytorch = {}          # (shape, threads) -> row: attention(x, x, x, need_weights=False), the peer
        self.pytorch_default = {}  # (shape, threads) -> row: attention(x, x, x), which also returns the weights
        for row in pytorch_rows:
            shape = shape_key(row["batch"], row["seq_len"], row["embed_dim"], row["num_heads"])
            calls = self.pytorch_default if row.get("call") == "default" else self.pytorch
            calls[(shape, int(row["threads"]))] = row
        self.bench = bench_rows
        shapes = {key[1] for key in self.attention} | {key[1] for key in self.skipped}
        shapes |= {key[0] for key in self.pytorch}
        self.shapes = sorted(shapes, key=lambda s: (s[1], s[2], s[3], s[0]))

    def _add(self, run):
        name = run.get("run_name", run.get("name", ""))
        is_median = run.get("run_type") == "aggregate" and run.get("aggregate_name") == "median"
        error = run.get("error_occurred") and run.get("error_message")
        if not is_median and not error:
            return
        if is_median and run.get("repetitions"):
            self.repetitions = run["repetitions"]
        measured = None
        if is_median:
            measured = {"ms": run["real_time"] * TO_MS[run.get("time_unit", "ns")],
                        "gflops": run.get("gflops", float("nan")),
                        "fraction": run.get("peak_fraction", float("nan"))}
        found = ATTENTION_NAME.match(name)
        if found:
            key = (found["version"], shape_key(found["B"], found["L"], found["E"], found["H"]),
                   int(found["threads"]))
            if measured:
                if "flops" not in run:
                    sys.exit(f"benchmark_report: {self.google_benchmark_path}: benchmark {run.get('name', name)} "
                             f"has no \"flops\" counter (an attention_benchmark older than the counter? "
                             f"build it again)")
                self.attention[key] = measured
                self.flops[key[1]] = run["flops"]
            else:
                self.skipped[key] = error
            return
        found = PROJECTION_NAME.match(name)
        if found and measured:
            self.projection[(found["kind"], int(found["L"]), int(found["E"]))] = measured
            return
        found = PEAK_NAME.match(name)
        if found and measured:
            self.probe = measured["gflops"]

    def ours(self, version, shape, threads=1):
        return self.attention.get((version, shape, threads))

    def torch(self, shape, threads=1):
        return self.pytorch.get((shape, threads))

    def torch_gflops(self, shape, threads=1):
        """PyTorch's GFLOP/s: the C++ benchmarks' flops of this shape over PyTorch's median time, or None."""
        row = self.torch(shape, threads)
        if row is None or shape not in self.flops:
            return None
        return self.flops[shape] / (row["median_ms"] * 1e-3) * 1e-9

    def ceiling(self, shape):
        """PyTorch's time on 1 thread over the time of the same flops at 100 % of one core's peak, or None."""
        gflops = self.torch_gflops(shape)
        return self.peak / gflops if gflops else None

    def shape_with(self, seq_len):
        """The first shape of this L, or None."""
        return next((shape for shape in self.shapes if shape[1] == seq_len), None)


# ---------------------------------------------------------------------------
# Formatting
# ---------------------------------------------------------------------------

def number(value, digits=3):
    """A number with about `digits` significant digits, without exponent for usual sizes."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(value)))))
    return f"{value:,.{decimals}f}"


def percent(fraction):
    return "n/a" if fraction is None or math.isnan(fraction) else f"{100 * fraction:.0f} %"


def times(ratio):
    return "n/a" if ratio is None or math.isnan(ratio) else f"{ratio:.2f}×"


def table(header, rows, numeric=True):
    """A Markdown table; numeric columns (all but the first) are right-aligned."""
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:" if numeric else "---"] * (len(header) - 1)) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(measured, goal, higher_is_better=True):
    """'**met** (+23.1 %)' or '**missed** (59.7 % short: 2.48× more needed)'."""
    if measured is None or math.isnan(measured):
        return "not measured"
    if higher_is_better:
        if measured >= goal:
            return f"**met** ({100 * (measured / goal - 1):+.1f} %)"
        return f"**missed** ({100 * (1 - measured / goal):.1f} % short: {goal / measured:.2f}× more needed)"
    if measured < goal:
        return f"**met** ({100 * (1 - measured / goal):.1f} % under the limit)"
    return f"**missed** ({100 * (measured / goal - 1):.1f} % over the limit)"


def load_average_now():
    """The 1-, 5- and 15-minute load averages from /proc/loadavg, or None."""
    try:
        return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------
# The Markdown report
# ---------------------------------------------------------------------------

def version_rows(results):
    """(title, version, threads) of every row of the main tables, in order."""
    rows = []
    if any(key[0] == REFERENCE for key in results.attention) or any(k[0] == REFERENCE for k in results.skipped):
        rows.append((VERSION_TITLES[REFERENCE], REFERENCE, 1))
    for version in VERSIONS:
        threads = sorted({key[2] for key in list(results.attention) + list(results.skipped) if key[0] == version})
        for count in threads or [1]:
            title = VERSION_TITLES[version] + (f", {count} threads" if count != 1 else "")
            rows.append((title, version, count))
    return rows


def cell(results, version, shape, threads, what):
    measured = results.ours(version, shape, threads)
    if measured is None:
        return "skipped" if (version, shape, threads) in results.skipped else "—"
    if what == "ms":
        return number(measured["ms"])
    return f"{number(measured['gflops'])} ({percent(measured['fraction'])})"


def torch_title(results, threads):
    row = next(iter(results.pytorch.values()), {})
    return f"PyTorch {row.get('torch_version', '')} nn.MultiheadAttention" + \
        (f", {threads} threads" if threads != 1 else ", 1 thread")


def main_tables(results):
    header = ["version"] + [shape_title(shape) for shape in results.shapes]
    torch_threads = sorted({key[1] for key in results.pytorch})
    time_rows, rate_rows = [], []
    for title, version, threads in version_rows(results):
        time_rows.append([title] + [cell(results, version, s, threads, "ms") for s in results.shapes])
        rate_rows.append([title] + [cell(results, version, s, threads, "rate") for s in results.shapes])
    for threads in torch_threads:
        title = torch_title(results, threads)
        time_rows.append([title] + [number(results.torch(s, threads)["median_ms"]) if results.torch(s, threads)
                                    else "—" for s in results.shapes])
        default = [results.pytorch_default.get((s, threads)) for s in results.shapes]
        if any(default):
            time_rows.append([f"{title}, default call (also returns the weights)"] +
                             [number(row["median_ms"]) if row else "—" for row in default])
        rate_row = [title]
        for shape in results.shapes:
            gflops = results.torch_gflops(shape, threads)
            rate_row.append(f"{number(gflops)} ({percent(gflops / results.peak)})" if gflops else "—")
        rate_rows.append(rate_row)
    return table(header, time_rows), table(header, rate_rows)


def speedup(results, version, shape, threads=1, torch_threads=1):
    ours, theirs = results.ours(version, shape, threads), results.torch(shape, torch_threads)
    if not ours or not theirs:
        return None
    return theirs["median_ms"] / ours["ms"]


def speedup_table(results):
    header = ["PyTorch's time / ours (1 thread each, unless said)"] + [shape_title(s) for s in results.shapes]
    rows = []
    for title, version, threads in version_rows(results):
        if version == REFERENCE:
            continue
        rows.append([title] + [times(speedup(results, version, s, threads)) if speedup(results, version, s, threads)
                               else "—" for s in results.shapes])
    rows.append(["at 100 % of one core's peak (the ceiling)"] +
                [times(results.ceiling(shape)) if results.ceiling(shape) else "—" for shape in results.shapes])
    return table(header, rows)


def projection_table(results):
    kinds = sorted({key[0] for key in results.projection})
    sizes = sorted({(key[1], key[2]) for key in results.projection})
    header = ["(L, E) × (E, 3E)"] + [f"L={L} E={E}" for L, E in sizes]
    titles = {"blas-sgemm": "OpenBLAS sgemm (what v1-blas calls)",
              "gemm": "the lesson's gemm() (gemm.hpp: what v3 to v5 call)"}
    rows = []
    for kind in kinds:
        row = [titles.get(kind, f"{kind} (the lesson's GEMM)")]
        for L, E in sizes:
            measured = results.projection.get((kind, L, E))
            row.append(f"{number(measured['gflops'])} ({percent(measured['fraction'])})" if measured else "—")
        rows.append(row)
    return table(header, rows)


def lesson_projection(results, seq_len=512):
    """The lesson's own GEMM at L = seq_len if measured, else OpenBLAS's: (kind, measurement)."""
    kinds = [kind for kind in sorted({key[0] for key in results.projection}) if kind != "blas-sgemm"]
    for kind in kinds + ["blas-sgemm"]:
        for (k, L, _), measured in sorted(results.projection.items()):
            if k == kind and L == seq_len:
                return kind, measured
    return None, None


def memory_rows(results):
    rows = []
    for row in results.bench:
        L, H, B = row["seq_len"], row["num_heads"], row.get("batch", 1)
        scores_mib = 4.0 * B * H * L * L / 2 ** 20
        rows.append([row["version"], f"L={L} E={row['embed_dim']} H={H}", number(row["peak_rss_mb"]),
                     number(scores_mib), number(scores_mib / (B * H)), percent(row["peak_rss_mb"] / scores_mib),
                     number(row["median_ms"])])
    return rows


def goals(results):
    """(goal, measured, verdict) rows."""
    rows = []
    shape_512, shape_2048 = results.shape_with(512), results.shape_with(2048)

    for shape, goal, label in ((shape_512, GOAL_SPEEDUP_512, "512"), (shape_2048, GOAL_SPEEDUP_2048, "2048")):
        if shape is None:
            continue
        ratio = speedup(results, "v5-threaded", shape)
        theirs = results.torch(shape)
        measured = f"{times(ratio)} (PyTorch {number(theirs['median_ms'])} ms" if theirs else "n/a ("
        ours = results.ours("v5-threaded", shape)
        measured += f", v5 {number(ours['ms'])} ms)" if ours else ")"
        rows.append((f"L = {label}: v5-threaded on 1 thread ≥ {goal}× as fast as PyTorch on 1 thread",
                     measured, verdict(ratio, goal)))
        two = results.ours("v5-threaded", shape, 2)
        if two and theirs:
            ratio2 = theirs["median_ms"] / two["ms"]
            rows.append((f"L = {label}, the same with v5-threaded on 2 threads (PyTorch still on 1)",
                         times(ratio2), verdict(ratio2, goal)))
        ceiling = results.ceiling(shape)
        if label == "2048" and ceiling and ceiling < goal:
            rows.append((f"L = {label}: what 1 thread could reach at 100 % of the FMA peak",
                         times(ceiling), f"the 1-thread goal of {goal}× is out of reach on this machine"))

    kind, measured = lesson_projection(results)
    if measured:
        which = "OpenBLAS sgemm; the lesson's gemm() was not measured" if kind == "blas-sgemm" else \
            "the lesson's gemm()"
        rows.append((f"the projection product (L, E) × (E, 3E) at L = 512 ≥ {GOAL_PROJECTION_PEAK:.0%} of peak",
                     f"{percent(measured['fraction'])} ({number(measured['gflops'])} GFLOP/s, {which})",
                     verdict(measured["fraction"], GOAL_PROJECTION_PEAK)))

    for row in results.bench:
        if row["version"] not in ("v4-fused", "v5-threaded") or row["seq_len"] != 8192:
            continue
        scores_mib = 4.0 * row.get("batch", 1) * row["num_heads"] * row["seq_len"] ** 2 / 2 ** 20
        limit = GOAL_MEMORY_FRACTION * scores_mib
        rows.append((f"L = 8192, {row['version']}: peak resident memory < 1/4 of the H·L·L float scores "
                     f"({number(scores_mib)} MiB), i.e. < {number(limit)} MiB",
                     f"{number(row['peak_rss_mb'])} MiB ({percent(row['peak_rss_mb'] / scores_mib)} of the scores)",
                     verdict(row["peak_rss_mb"], limit, higher_is_better=False)))

    if shape_2048:
        one, two = results.ours("v5-threaded", shape_2048, 1), results.ours("v5-threaded", shape_2048, 2)
        ratio = one["ms"] / two["ms"] if one and two else None
        rows.append((f"L = 2048: v5-threaded on 2 threads ≥ {GOAL_SCALING}× as fast as on 1",
                     f"{times(ratio)}" + (f" ({number(one['ms'])} ms → {number(two['ms'])} ms)" if ratio else ""),
                     verdict(ratio, GOAL_SCALING)))
    return rows


def cpu_info():
    """Model, logical CPUs and physical cores from /proc/cpuinfo (the report runs on the measuring machine)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None, None, None
    models = re.findall(r"^model name\s*:\s*(.*)$", text, re.MULTILINE)
    logical = len(re.findall(r"^processor\s*:", text, re.MULTILINE))
    cores = {(p, c) for p, c in re.findall(r"^physical id\s*:\s*(\d+)\s*$.*?^core id\s*:\s*(\d+)\s*$", text,
                                           re.MULTILINE | re.DOTALL)}
    return (models[0] if models else None), logical or None, len(cores) or None


def machine_lines(results):
    context = results.context
    model, logical, cores = cpu_info()
    torch_row = next(iter(results.pytorch.values()), {})
    lines = [
        f"- CPU: {context.get('cpu_model') or model or 'unknown'}, "
        f"{context.get('num_cpus', logical)} logical CPUs"
        + (f" ({cores} physical cores)" if cores else "")
        + (f", {context['mhz_per_cpu']} MHz nominal" if context.get("mhz_per_cpu") else ""),
        f"- Date: {context.get('date', datetime.datetime.now().isoformat(timespec='seconds'))}",
        f"- SIMD instructions chosen by dispatch: {context.get('simd_instruction_set', 'unknown')}",
        f"- FMA peak of one core, measured: {number(results.peak)} GFLOP/s "
        f"({context.get('fma_peak_instruction_set', '?')} fused multiply-adds"
        + (f"; the probe's own benchmark median: {number(results.probe)} GFLOP/s" if results.probe else "") + ")",
        f"- Compiler: {context.get('compiler', 'unknown')}, build type {context.get('mha_build_type', 'unknown')}"
        f" (Google Benchmark library: {context.get('library_build_type', 'unknown')} build)",
        f"- OpenBLAS: OPENBLAS_CORETYPE={context.get('OPENBLAS_CORETYPE', '?')}, "
        f"OPENBLAS_NUM_THREADS={context.get('OPENBLAS_NUM_THREADS', '?')}",
    ]
    if torch_row:
        lines.append(f"- PyTorch {torch_row.get('torch_version')}: kernels {torch_row.get('cpu_capability')}, "
                     f"OPENBLAS_CORETYPE={torch_row.get('openblas_coretype')}, operator "
                     f"{torch_row.get('path')}")
    start, end = context.get("load_avg"), load_average_now()
    if start or end:
        lines.append("- Load average (1, 5, 15 min): "
                     + (f"{', '.join(number(x, 2) for x in start)} when the C++ benchmarks started" if start else "")
                     + ("; " if start and end else "")
                     + (f"{', '.join(number(x, 2) for x in end)} when the report was made" if end else ""))
    lines.append(f"- Medians of {results.repetitions or '?'} repetitions (Google Benchmark), "
                 f"{torch_row.get('repeat', '?')} for PyTorch")
    return lines


def busy_warning(results):
    """A warning paragraph when the machine was busy during the run, else nothing."""
    cpus = results.context.get("num_cpus") or cpu_info()[1] or 1
    start, end = results.context.get("load_avg"), load_average_now()
    # Before the run, the machine should be idle; when the report is made, the benchmarks' own
    # thread has just been running and counts for about 1 in the load average.
    idle = 0.25 * cpus + 0.3
    busy = [load for load, limit in ((start and start[0], idle), (end and end[0], idle + 1.0)) if load and load > limit]
    if not busy:
        return []
    loads = busy
    return [f"**Warning: the machine was busy during this run** (1-minute load average up to "
            f"{number(max(loads), 2)} on {cpus} CPUs): other programs took turns on the cores, so these "
            f"numbers are noisy, the 2-thread ones most of all. Run scripts/run_benchmarks.sh again on an "
            f"idle machine before drawing conclusions.", ""]


def markdown(results):
    time_table, rate_table = main_tables(results)
    out = [
        "<!-- Generated by scripts/run_benchmarks.sh (scripts/benchmark_report.py): do not edit by hand. -->",
        "",
        "# Lesson 5: the benchmark",
        "",
        "One forward pass of self-attention on a random float32 input, no masks, no attention weights "
        "returned. Flops counted: 8·L·E² + 4·L²·E per sequence (projections, Q·Kᵀ, weights·V). "
        "Single thread unless said. Fractions are of the measured FMA peak of one core. "
        "The PyTorch peer is `attention(x, x, x, need_weights=False)` in eval mode under `torch.no_grad()`; "
        "PyTorch's default call, `attention(x, x, x)`, which also returns the weights averaged over the "
        "heads, is timed too, for comparison.",
        "",
    ] + busy_warning(results) + [
        "## Median time per forward pass (ms; lower is better)",
        "",
        time_table,
        "",
        f"## GFLOP/s (fraction of the peak, {number(results.peak)} GFLOP/s per core)",
        "",
        rate_table,
        "",
        "## Speed-up over PyTorch",
        "",
        speedup_table(results),
        "",
        "## The projection product alone",
        "",
        "The input projection (L, E) × (E, 3E): GFLOP/s (fraction of the peak).",
        "",
        projection_table(results),
        "",
    ]
    shape_2048 = results.shape_with(2048)
    if shape_2048:
        one, two = results.ours("v5-threaded", shape_2048, 1), results.ours("v5-threaded", shape_2048, 2)
        if one and two:
            ratio = one["ms"] / two["ms"]
            out += ["## Two threads", "",
                    f"v5-threaded at {shape_title(shape_2048)}: {number(one['ms'])} ms on 1 thread, "
                    f"{number(two['ms'])} ms on 2: {times(ratio)} as fast ({percent(ratio / 2)} of the ideal 2×).",
                    ""]
    if results.bench:
        out += ["## Memory", "",
                "Peak resident memory of a whole `mha bench` process (module, input, output and "
                "workspace), each version in its own process:", "",
                table(["version", "shape", "peak resident (MiB)", "all heads' L·L float scores (MiB)",
                       "one head's (MiB)", "resident / all scores", "median ms"], memory_rows(results)), ""]
    skipped = sorted(results.skipped.items(), key=lambda item: (item[0][1], item[0][0]))
    if skipped:
        out += ["Skipped: " + "; ".join(f"{version} at {shape_title(shape)}: {re.sub('^skipped: ', '', why)}"
                                        for (version, shape, _), why in skipped) + ".", ""]
    out += ["## The goals of lesson 5", "",
            table(["goal", "measured", "verdict"], [list(row) for row in goals(results)], numeric=False), "",
            "## Measured on", ""] + machine_lines(results) + [""]
    return "\n".join(out)


# ---------------------------------------------------------------------------
# The SVG chart: grouped bars, GFLOP/s per version, one group per shape
# ---------------------------------------------------------------------------

SERIES_COLOURS = ("#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#e6550d")


def svg_chart(results):
    series = [(version, version, 1) for version in VERSIONS]
    series.append(("PyTorch, 1 thread", "pytorch", 1))
    shapes = results.shapes
    values = {}
    for _, version, threads in series:
        for shape in shapes:
            if version == "pytorch":
                values[(version, shape)] = results.torch_gflops(shape, threads)
            else:
                measured = results.ours(version, shape, threads)
                values[(version, shape)] = measured["gflops"] if measured else None
    top = max([v for v in values.values() if v] + [results.peak if not math.isnan(results.peak) else 0, 1])
    step = next(s for s in (10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000) if top / s <= 8)
    top = math.ceil(top * 1.05 / step) * step

    width, height = 860, 440
    left, right, upper, lower = 70, 20, 50, 120
    plot_w, plot_h = width - left - right, height - upper - lower
    group_w = plot_w / max(len(shapes), 1)
    bar_w = group_w * 0.8 / len(series)

    def y(value):
        return upper + plot_h * (1 - value / top)

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
             "<!-- Generated by scripts/run_benchmarks.sh (scripts/benchmark_report.py): do not edit by hand. -->",
             f'<rect width="{width}" height="{height}" fill="white"/>',
             f'<text x="{width / 2}" y="22" text-anchor="middle" font-size="15">'
             f'Multi-head attention, float32, GFLOP/s per version (one thread)</text>']
    for tick in range(0, int(top) + 1, step):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
                     f'stroke="#dddddd"/>')
        parts.append(f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    parts.append(f'<text x="16" y="{upper + plot_h / 2}" text-anchor="middle" '
                 f'transform="rotate(-90 16 {upper + plot_h / 2})">GFLOP/s</text>')
    for g, shape in enumerate(shapes):
        x0 = left + g * group_w + group_w * 0.1
        for s, (label, version, _) in enumerate(series):
            value = values[(version, shape)]
            x = x0 + s * bar_w
            if value is None:
                parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{y(0) - 4:.1f}" text-anchor="middle" '
                             f'font-size="9" fill="#888888">–</text>')
                continue
            parts.append(f'<rect x="{x:.1f}" y="{y(value):.1f}" width="{bar_w * 0.92:.1f}" '
                         f'height="{y(0) - y(value):.1f}" fill="{SERIES_COLOURS[s % len(SERIES_COLOURS)]}">'
                         f'<title>{html.escape(label)}, {html.escape(shape_title(shape))}: '
                         f'{number(value)} GFLOP/s</title></rect>')
            parts.append(f'<text x="{x + bar_w * 0.46:.1f}" y="{y(value) - 3:.1f}" text-anchor="middle" '
                         f'font-size="9">{value:.0f}</text>')
        parts.append(f'<text x="{left + (g + 0.5) * group_w:.1f}" y="{y(0) + 18:.1f}" text-anchor="middle">'
                     f'{html.escape(shape_title(shape))}</text>')
    if not math.isnan(results.peak):
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(results.peak):.1f}" y2="{y(results.peak):.1f}" '
                     f'stroke="#cc0000" stroke-dasharray="6 4"/>')
        parts.append(f'<text x="{width - right}" y="{y(results.peak) - 5:.1f}" text-anchor="end" fill="#cc0000">'
                     f'FMA peak of one core: {number(results.peak)} GFLOP/s</text>')
    parts.append(f'<line x1="{left}" x2="{width - right}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="black"/>')
    legend_y = height - lower + 50
    for s, (label, _, _) in enumerate(series):
        x = left + s * (plot_w / len(series))
        parts.append(f'<rect x="{x:.1f}" y="{legend_y}" width="14" height="14" '
                     f'fill="{SERIES_COLOURS[s % len(SERIES_COLOURS)]}"/>')
        parts.append(f'<text x="{x + 20:.1f}" y="{legend_y + 12}">{html.escape(label)}</text>')
    context = results.context
    parts.append(f'<text x="{left}" y="{height - 14}" font-size="11" fill="#555555">'
                 f'{html.escape(context.get("cpu_model", ""))}, {html.escape(context.get("date", ""))}; '
                 f'"–": not run</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


# ---------------------------------------------------------------------------

def main():
    parser = argparse.ArgumentParser(description="Make lesson 5's benchmark table and chart from one run.")
    parser.add_argument("--google-benchmark", required=True, help="attention_benchmark's JSON output")
    parser.add_argument("--pytorch", help="benchmark_pytorch.py's JSON lines")
    parser.add_argument("--mha-bench", help="`mha bench` JSON lines")
    parser.add_argument("--markdown", required=True, help="the table to write")
    parser.add_argument("--svg", help="the chart to write")
    arguments = parser.parse_args()
    try:
        google_benchmark = json.loads(Path(arguments.google_benchmark).read_text())
    except (OSError, json.JSONDecodeError) as error:
        sys.exit(f"benchmark_report: {arguments.google_benchmark}: {error}")
    results = Results(google_benchmark, arguments.google_benchmark, read_json_lines(arguments.pytorch),
                      read_json_lines(arguments.mha_bench))
    if not results.attention:
        sys.exit(f"benchmark_report: {arguments.google_benchmark} has no median of an attention benchmark; "
                 "run attention_benchmark with --benchmark_repetitions=N (N >= 2)")
    for shape in sorted({shape for shape, _ in results.pytorch} - set(results.flops)):
        print(f"benchmark_report: warning: {arguments.pytorch}: PyTorch was timed at {shape_title(shape)}, "
              f"which {arguments.google_benchmark} has no attention median of, so no flop count: its "
              f"GFLOP/s are left out", file=sys.stderr)
    Path(arguments.markdown).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.markdown).write_text(markdown(results))
    print(f"benchmark_report: wrote {arguments.markdown}", file=sys.stderr)
    if arguments.svg:
        Path(arguments.svg).write_text(svg_chart(results))
        print(f"benchmark_report: wrote {arguments.svg}", file=sys.stderr)


if __name__ == "__main__":
    main()
