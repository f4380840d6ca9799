#!/usr/bin/env python3
"""Makes lesson 7's speed tables (Markdown) from one run of the decoding benchmarks.

Run it from the repository's root after building the benchmarks, on a quiet
machine (it prints the load average; above 2.5 the file says so). It takes
about three minutes:

    cmake --build build/default --target decode_benchmark
    python3 scripts/lesson07_speed_tables.py             # writes lessons/07-decoding/speed_tables.md
    python3 scripts/lesson07_speed_tables.py --json runs.json      # also keep Google Benchmark's JSON
    python3 scripts/lesson07_speed_tables.py --from-json runs.json # the tables again, measuring nothing

It runs benchmarks/decode_benchmark.cpp's program ONCE:

    decode_benchmark --benchmark_format=json --benchmark_repetitions=5
                     --benchmark_report_aggregates_only=true

(one thread; recomputing takes a quarter of a second at L = 4096 and most of a
second at 8192, so the program itself times 1 iteration per repetition there,
and only 3 repetitions at 8192) and reads the medians of the CPU time of
each benchmark: the time the thread itself ran, which another process on the
same core does not inflate as it inflates the wall-clock time. The tables:

  (a) with the cache or recomputing: decode_step (one layer's whole step, G = 8)
      against decode_recompute (lesson 5's causal attention over the prefix), for
      L = 256 ... 8192, E = 512, H = 8, batch 1, and their ratio;
  (b) fewer K/V heads, H = 8, d_k = 64: the cache's bytes per token per layer
      (2·G·d_k·4), decode_step's time per token at L = 4096, and decode_attention's
      achieved read rate (cache bytes / time) as a share of the read-bandwidth
      probe's, at L = 4096 (a cache of 2 to 17 MB, which may sit in the caches),
      16384 and 65536 (up to 268 MB, beyond the last-level cache).

Only the standard library is used: any python3 runs it. Regenerate, never edit.
"""

import argparse
import datetime
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_BINARY = ROOT / "build" / "default" / "benchmarks" / "decode_benchmark"
DEFAULT_OUT = ROOT / "lessons" / "07-decoding" / "speed_tables.md"

LENGTHS = (256, 512, 1024, 2048, 4096, 8192)
KV_HEADS = (8, 4, 2, 1)
ATTENTION_LENGTHS = (4096, 16384, 65536)
PROBE_MEGABYTES = 1024  # the probe's large array: beyond any cache
HEAD_DIM = 64
SECONDS = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def run_benchmarks(binary):
    if not Path(binary).exists():
        sys.exit(f"lesson07_speed_tables.py: {binary} does not exist: "
                 "build it with cmake --build build/default --target decode_benchmark")
    command = [str(binary), "--benchmark_format=json", "--benchmark_repetitions=5",
               "--benchmark_report_aggregates_only=true"]
    environment = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    print("running:", " ".join(command), file=sys.stderr)
    result = subprocess.run(command, env=environment, stdout=subprocess.PIPE, check=True, text=True)
    return json.loads(result.stdout)


def medians(report):
    """Median CPU time in seconds and counters of each benchmark, by its name."""
    found = {}
    for entry in report["benchmarks"]:
        if entry.get("aggregate_name") != "median":
            continue
        unit = SECONDS[entry.get("time_unit", "ns")]
        name = re.sub(r"/(iterations|repeats):\d+", "", entry["run_name"])  # the capped recompute runs
        found[name] = {"cpu": entry["cpu_time"] * unit, "real": entry["real_time"] * unit,
                                    "cache_bytes": entry.get("cache_bytes"),
                                    "bytes_per_second": entry.get("bytes_per_second")}
    return found


def take(found, name):
    if name not in found:
        sys.exit(f"lesson07_speed_tables.py: no median for {name} in the benchmark's output")
    return found[name]


def duration(seconds):
    if seconds >= 1.0:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.0f} µs"


def megabytes(count):
    return f"{count / 1e6:.1f} MB" if count >= 1e6 else f"{count / 1e3:.1f} kB"


def cache_sizes():
    """The L2 and L3 sizes as `getconf -a` reports them (a virtual machine may report odd ones)."""
    try:
        listing = subprocess.run(["getconf", "-a"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                 text=True, check=False).stdout
    except OSError:
        return "unknown"
    sizes = []
    for line in listing.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("LEVEL2_CACHE_SIZE", "LEVEL3_CACHE_SIZE") and parts[1].isdigit():
            sizes.append(f"L{parts[0][5]} {int(parts[1]) / 2**20:.0f} MiB")
    return ", ".join(sizes) if sizes else "unknown"


def write_tables(report, load_before, load_after, date):
    found = medians(report)
    context = report.get("context", {})
    probe = take(found, f"read_bandwidth/MB:{PROBE_MEGABYTES}")
    probe_rate = PROBE_MEGABYTES * 1e6 / probe["cpu"]
    small_probe = found.get("read_bandwidth/MB:16")
    lines = [f"<!-- Generated by scripts/lesson07_speed_tables.py on {date}; regenerate, never edit. -->", ""]
    load = f"load average {load_before:.2f} before the run, {load_after:.2f} after, on {os.cpu_count()} cores"
    if max(load_before, load_after) > 2.5:
        load += (" (**a busy machine**: other programs were running, so these times are CPU times of a "
                 "thread that shared its core and its memory bandwidth, and may be slower than on a quiet one)")
    lines += [f"Measured on {context.get('cpu_model', 'unknown')} (caches as `getconf` reports them: {cache_sizes()}), "
              f"one thread, decoding kernels `{context.get('decode_instruction_set', '?')}`, "
              f"{context.get('compiler', '?')} {context.get('mha_build_type', '')}; {load}. "
              "Each time is the median of 5 repetitions (single runs for recomputing at L ≥ 4096, only 3 at 8192) "
              "of the thread's CPU time.", ""]

    lines += ["**With the cache, or recomputing the prefix.** The time to produce one token's output from one "
              "attention layer (E = 512, H = 8 heads, G = 8 K/V heads: ordinary multi-head attention, "
              "batch 1, one thread) when L tokens precede it, the new one included. *With the cache*: "
              "`FastDecodeLayer::step`, the new token's projections, its key and value appended, its 8 heads over "
              "the L cached positions, the output projection. *Recomputing*: lesson 5's fused causal attention "
              "(v4) over the whole prefix of L tokens, of which only the last row is kept "
              "(`fast_recompute_last_token`), as a model without a cache must.", "",
              "| L | with the cache | recomputing the prefix | recomputing / cache |",
              "|---:|---:|---:|---:|"]
    for length in LENGTHS:
        cached = take(found, f"decode_step/L:{length}/E:512/H:8/G:8/B:1")["cpu"]
        recomputed = take(found, f"decode_recompute/L:{length}/E:512/H:8/B:1")["cpu"]
        lines.append(f"| {length} | {duration(cached)} | {duration(recomputed)} | {recomputed / cached:.0f}× |")
    lines.append("")

    probe_text = (f"the probe, one thread summing a {PROBE_MEGABYTES} MB float array (far beyond the caches), "
                  f"read **{probe_rate / 1e9:.1f} GB/s**")
    if small_probe:
        probe_text += (f"; summing a 16 MB array, which stays in the caches, it reads "
                       f"{16e6 / small_probe['cpu'] / 1e9:.1f} GB/s")
    lines += ["**Fewer K/V heads.** H = 8 query heads share G K/V heads (d_k = 64, E = 512, batch 1). "
              "The cache grows by 2·G·d_k·4 bytes per token and layer. *Time per token*: the whole step "
              "of one layer at L = 4096, as above. *Read rate*: the attention step alone "
              "(`fast_cached_attention`), the bytes of K and V it reads (2·G·L·d_k·4) over its time, as a "
              f"share of the read bandwidth: {probe_text}. At L = 4096 the cache is 2 to 17 MB and may be "
              "served by the caches, hence shares above 100 %; at L = 65536 it is 34 to 268 MB.", ""]
    header = "| G | cache per token and layer | time per token, L = 4096 |"
    rule = "|---:|---:|---:|"
    for length in ATTENTION_LENGTHS:
        header += f" attention read rate, L = {length} |"
        rule += "---:|"
    lines += [header, rule]
    for kv_heads in KV_HEADS:
        bytes_per_token = 2 * kv_heads * HEAD_DIM * 4
        step = take(found, f"decode_step/L:4096/E:512/H:8/G:{kv_heads}/B:1")["cpu"]
        row = f"| {kv_heads} | {bytes_per_token} B | {duration(step)} |"
        for length in ATTENTION_LENGTHS:
            attention = take(found, f"decode_attention/L:{length}/H:8/G:{kv_heads}/d_k:64/B:1")
            cache_bytes = 2 * kv_heads * length * HEAD_DIM * 4
            rate = cache_bytes / attention["cpu"]
            row += (f" {rate / 1e9:.1f} GB/s = {100 * rate / probe_rate:.0f} % "
                    f"({megabytes(cache_bytes)} in {duration(attention['cpu'])}) |")
        lines.append(row)
    lines.append("")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", default=str(DEFAULT_BINARY), help="the decode_benchmark program")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="the Markdown file to write")
    parser.add_argument("--json", help="also write Google Benchmark's JSON output here")
    parser.add_argument("--from-json", help="make the tables from this JSON output instead of running")
    arguments = parser.parse_args()

    if arguments.from_json:
        saved = json.loads(Path(arguments.from_json).read_text())
        report, load_before, load_after, date = saved["report"], saved["load_before"], saved["load_after"], saved["date"]
    else:
        load_before = os.getloadavg()[0]
        date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        report = run_benchmarks(arguments.binary)
        load_after = os.getloadavg()[0]
        print(f"load average: {load_before:.2f} before, {load_after:.2f} after", file=sys.stderr)
        if arguments.json:
            Path(arguments.json).write_text(json.dumps({"report": report, "load_before": load_before,
                                                        "load_after": load_after, "date": date}, indent=1))
    text = write_tables(report, load_before, load_after, date)
    Path(arguments.out).parent.mkdir(parents=True, exist_ok=True)
    Path(arguments.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
