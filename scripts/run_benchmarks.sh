#!/usr/bin/env bash
# Lesson 5's benchmarks, all in one run on one machine, and the lesson's table made from them.
#
#   ./scripts/run_benchmarks.sh              # about 6-10 minutes
#
# It runs, one after the other (never two at once, so that they do not share the cores):
#   1. build/default/benchmarks/attention_benchmark (Google Benchmark, JSON output): every
#      version of the fast attention, the lesson 4 reference, the projection product, and
#      the FMA peak of one core, with --benchmark_repetitions (medians are reported);
#   2. scripts/benchmark_pytorch.py: PyTorch's nn.MultiheadAttention on the same shapes,
#      1 thread, called with need_weights=False (the peer) and as by default (returning
#      the weights); and 2 threads at L = 2048, need_weights=False;
#   3. build/default/mha bench, one process per run, for the peak resident memory of the
#      versions at L = 8192 (resident memory is per process, so each needs its own);
#   4. scripts/benchmark_report.py, which writes
#        lessons/05-vectorize-with-xsimd/benchmark_table.md   the table, the goals, the machine
#        lessons/05-vectorize-with-xsimd/gflops_chart.svg     GFLOP/s per version and shape
#      Both are generated: commit them, do not edit them by hand.
# The raw results are kept in build/default/benchmark-results/.
#
# Environment (all optional):
#   BUILD_DIR=build/default   the configured build folder
#   REPETITIONS=5             Google Benchmark repetitions, and PyTorch's
#   PYTHON_TORCH=/usr/bin/python3   the Python that imports torch (Debian's python3-torch)
#   SKIP_BUILD=1              do not build first
#
# Every program runs with one OpenBLAS thread and, on a CPU with AVX-512, with
# OPENBLAS_CORETYPE=SkylakeX and ATEN_CPU_CAPABILITY=avx512: the best setting for
# PyTorch and for v1-blas alike (OpenBLAS 0.3.21 takes a Zen CPU for a Haswell).
# For numbers worth publishing, run it on an otherwise idle machine.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${BUILD_DIR:-$ROOT/build/default}"
REPETITIONS="${REPETITIONS:-5}"
PYTHON_TORCH="${PYTHON_TORCH:-/usr/bin/python3}"
RESULTS="$BUILD_DIR/benchmark-results"
LESSON_DIR="$ROOT/lessons/05-vectorize-with-xsimd"

say() { printf '\n== %s\n' "$*" >&2; }

# ---- One setting for every program ----
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
if grep -qw avx512f /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX ATEN_CPU_CAPABILITY=avx512
fi

# ---- Build ----
if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
  if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
    say "configuring $BUILD_DIR"
    (cd "$ROOT" && cmake --preset default)
  fi
  say "building attention_benchmark and mha"
  cmake --build "$BUILD_DIR" --target attention_benchmark mha_command -j "$(nproc)"
fi
BENCHMARK="$BUILD_DIR/benchmarks/attention_benchmark"
MHA="$BUILD_DIR/mha"
for program in "$BENCHMARK" "$MHA"; do
  [[ -x "$program" ]] || { echo "run_benchmarks: $program is missing; build it first" >&2; exit 1; }
done
"$PYTHON_TORCH" -c "import torch" 2>/dev/null || {
  echo "run_benchmarks: $PYTHON_TORCH cannot import torch; install it with" \
       "./scripts/install-dependencies.sh --with-pytorch, or set PYTHON_TORCH" >&2
  exit 1
}
mkdir -p "$RESULTS" "$LESSON_DIR"
started=$(date +%s)

# ---- 1. The C++ benchmarks ----
say "1/4 Google Benchmark: $BENCHMARK, $REPETITIONS repetitions"
"$BENCHMARK" --benchmark_repetitions="$REPETITIONS" --benchmark_report_aggregates_only=true \
             --benchmark_out="$RESULTS/attention_benchmark.json" --benchmark_out_format=json

# ---- 2. PyTorch ----
say "2/4 PyTorch: scripts/benchmark_pytorch.py"
"$PYTHON_TORCH" "$ROOT/scripts/benchmark_pytorch.py" --threads 1 --repeat "$REPETITIONS" \
    > "$RESULTS/pytorch.jsonl"
OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=2 \
  "$PYTHON_TORCH" "$ROOT/scripts/benchmark_pytorch.py" --threads 2 --repeat "$REPETITIONS" \
    --shapes 1,2048,512,8 --calls need_weights=False >> "$RESULTS/pytorch.jsonl"

# ---- 3. Peak resident memory, one process per run ----
say "3/4 memory: mha bench at L = 8192, one process each"
: > "$RESULTS/mha_bench.jsonl"
for version in v4-fused v5-threaded v1-blas; do
  repeat=3
  [[ "$version" == v1-blas ]] && repeat=1  # slow and memory-hungry: the contrast, once
  echo "mha bench --seq-len 8192 --embed-dim 512 --num-heads 8 --version $version --repeat $repeat" >&2
  if ! "$MHA" bench --seq-len 8192 --embed-dim 512 --num-heads 8 --version "$version" --repeat "$repeat" \
         >> "$RESULTS/mha_bench.jsonl"; then
    echo "run_benchmarks: mha bench --version $version failed; the report goes on without it" >&2
  fi
done

# ---- 4. The report ----
say "4/4 the report"
python3 "$ROOT/scripts/benchmark_report.py" \
    --google-benchmark "$RESULTS/attention_benchmark.json" \
    --pytorch "$RESULTS/pytorch.jsonl" \
    --mha-bench "$RESULTS/mha_bench.jsonl" \
    --markdown "$LESSON_DIR/benchmark_table.md" \
    --svg "$LESSON_DIR/gflops_chart.svg"
say "done in $(( $(date +%s) - started )) s: $LESSON_DIR/benchmark_table.md and gflops_chart.svg" \
    "(raw results in $RESULTS)"
