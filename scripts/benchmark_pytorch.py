#!/usr/bin/python3
"""Times PyTorch's nn.MultiheadAttention on the CPU: the peer of lesson 5's fast attention.

Run it with Debian's Python, the one that can import python3-torch
(./scripts/install-dependencies.sh --with-pytorch installs it):

    /usr/bin/python3 scripts/benchmark_pytorch.py                 # the lesson's five shapes, 1 thread
    /usr/bin/python3 scripts/benchmark_pytorch.py --threads 2 --shapes 1,2048,512,8

For each shape (B, L, E, H) it makes nn.MultiheadAttention(E, H, batch_first=True)
in eval() mode, in float32, and times self-attention of a random (B, L, E) input
under torch.no_grad(): inference, as lesson 5's benchmarks time
mha::FastMultiHeadAttention. It times two calls (--calls):
    need_weights=False   attention(x, x, x, need_weights=False): the strict peer.
                         torch 1.13 takes its "fast path" here,
                         torch._native_multi_head_attention.
    default              attention(x, x, x): the call as most code writes it, which
                         also returns the weights averaged over the heads
                         (need_weights=True), so it takes the Python path and
                         stores every head's L×L weights.
The script checks which operator ran with the profiler and says so in its output.
torch 1.13 has no scaled_dot_product_attention; nn.MultiheadAttention is the peer.

Timing: a warm-up of at least --warmup-seconds, then --repeat repetitions; each
repetition is the mean of as many calls as fill --min-seconds (one call for the
big shapes), and the median of the repetitions is reported, as Google
Benchmark's median aggregate is. Repetitions stop early when a shape has used
--max-seconds, leaving at least 3.

Its best setting. On a CPU with AVX-512, PyTorch 1.13 from Debian uses AVX2
kernels and OpenBLAS picks its Haswell (AVX2) kernels for a Zen CPU unless told
otherwise, so the script sets, when they are not set already,
    ATEN_CPU_CAPABILITY=avx512     PyTorch's own kernels (softmax, ...) in AVX-512
    OPENBLAS_CORETYPE=SkylakeX     OpenBLAS's AVX-512 sgemm, for the projections
    OPENBLAS_NUM_THREADS=T, OMP_NUM_THREADS=T    T = --threads: no hidden threads
and runs itself again with them (they are read when the libraries load, so they
cannot be set from within). Values you set yourself are kept, with a warning.
--keep-environment skips all this.

Output: one JSON object per line on stdout, one per shape and call:
    {"framework": "pytorch", "call": "need_weights=False", "torch_version": "1.13.0a0", "batch": 1, "seq_len": 512,
     "embed_dim": 512, "num_heads": 8, "threads": 1, "repeat": 10, "median_ms": ...,
     "min_ms": ..., "path": "_native_multi_head_attention",
     "cpu_capability": "AVX512", "openblas_coretype": "SkylakeX", "openblas_num_threads": "1"}
Times only: scripts/benchmark_report.py turns them into GFLOP/s with the "flops"
counter of the C++ benchmark of the same shape, so that the flops are counted in
one place (mha::attention_flops, src/fast/flop_count.hpp).
Progress goes to stderr. scripts/run_benchmarks.sh runs this script together
with the C++ benchmarks and makes the lesson's table from both.
"""

import argparse
import json
import os
import re
import statistics
import sys
import time

# The lesson's shapes (B, L, E, H), as in benchmarks/attention_benchmark.cpp.
DEFAULT_SHAPES = ((1, 128, 512, 8), (1, 512, 512, 8), (1, 1024, 768, 12), (1, 2048, 512, 8), (1, 8192, 512, 8))

# The calls timed, by name: the keyword arguments given to the module (see the docstring).
CALLS = {"need_weights=False": {"need_weights": False}, "default": {}}

# Set in the environment before torch is imported: see the docstring.
REEXEC_MARKER = "MHA_BENCHMARK_PYTORCH_REEXEC"


def cpu_has_avx512():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            return re.search(r"^flags\s*:.*\bavx512f\b", cpuinfo.read(), re.MULTILINE) is not None
    except OSError:
        return False


def best_environment(threads):
    """The environment variables of PyTorch's best setting on this CPU, for `threads` threads."""
    wanted = {"OPENBLAS_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads)}
    if cpu_has_avx512():
        wanted["ATEN_CPU_CAPABILITY"] = "avx512"
        wanted["OPENBLAS_CORETYPE"] = "SkylakeX"
    return wanted


def ensure_environment(arguments):
    """Runs this script again with the best setting if any of it is missing; returns otherwise."""
    if arguments.keep_environment or os.environ.get(REEXEC_MARKER):
        return
    wanted = best_environment(arguments.threads)
    missing = {name: value for name, value in wanted.items() if name not in os.environ}
    for name, value in wanted.items():
        if name in os.environ and os.environ[name] != value:
            print(f"benchmark_pytorch: warning: {name}={os.environ[name]} is kept, though PyTorch's best "
                  f"setting here is {name}={value}", file=sys.stderr)
    if not missing:
        return
    environment = dict(os.environ, **missing, **{REEXEC_MARKER: "1"})
    print("benchmark_pytorch: running again with " + " ".join(f"{k}={v}" for k, v in missing.items()),
          file=sys.stderr)
    sys.stderr.flush()
    os.execve(sys.executable, [sys.executable] + sys.argv, environment)


def parse_shape(text):
    try:
        batch, seq_len, embed_dim, num_heads = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not B,L,E,H (four whole numbers, such as 1,512,512,8)")
    if min(batch, seq_len, embed_dim, num_heads) < 1 or embed_dim % num_heads:
        raise argparse.ArgumentTypeError(f"'{text}': every number must be >= 1 and H must divide E")
    return batch, seq_len, embed_dim, num_heads


def parse_arguments():
    parser = argparse.ArgumentParser(
        description="Time PyTorch's nn.MultiheadAttention (float32 inference, with need_weights=False and "
                    "with the default call) "
                    "on the shapes of lesson 5; prints one JSON line per shape.",
        epilog="Example: /usr/bin/python3 scripts/benchmark_pytorch.py --threads 1 --shapes 1,512,512,8")
    parser.add_argument("--shapes", type=parse_shape, nargs="+", default=list(DEFAULT_SHAPES), metavar="B,L,E,H",
                        help="the shapes to time (default: the lesson's five, from 1,128,512,8 to 1,8192,512,8)")
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    parser.add_argument("--calls", nargs="+", choices=CALLS, default=list(CALLS),
                        help="which calls to time (default: both, need_weights=False then default)")
    parser.add_argument("--repeat", type=int, default=10, help="repetitions; the median is reported (default 10)")
    parser.add_argument("--min-seconds", type=float, default=0.1,
                        help="each repetition calls the module until this long has passed (default 0.1)")
    parser.add_argument("--warmup-seconds", type=float, default=0.2,
                        help="untimed calls first, at least one, for this long (default 0.2)")
    parser.add_argument("--max-seconds", type=float, default=40.0,
                        help="stop a shape's repetitions after this long, keeping at least 3 (default 40)")
    parser.add_argument("--seed", type=int, default=0, help="the random seed of module and input (default 0)")
    parser.add_argument("--keep-environment", action="store_true",
                        help="do not set ATEN_CPU_CAPABILITY, OPENBLAS_CORETYPE and the thread counts")
    arguments = parser.parse_args()
    if arguments.threads < 1 or arguments.repeat < 1:
        parser.error("--threads and --repeat must be >= 1")
    return arguments


def cpu_capability(torch):
    """What torch.__config__.show() says its kernels use: "AVX512", "AVX2", "DEFAULT"."""
    found = re.search(r"CPU capability usage:\s*(\S+)", torch.__config__.show())
    return found.group(1) if found else "unknown"


def attention_path(torch, module, x, keywords):
    """The operator PyTorch ran: "_native_multi_head_attention" (the fast path) or the Python path."""
    with torch.autograd.profiler.profile() as profile:
        module(x, x, x, **keywords)
    names = {event.name for event in profile.function_events}
    return "_native_multi_head_attention" if "aten::_native_multi_head_attention" in names else \
        "multi_head_attention_forward"


def time_shape(torch, arguments, shape, call_name):
    batch, seq_len, embed_dim, num_heads = shape
    torch.manual_seed(arguments.seed)
    module = torch.nn.MultiheadAttention(embed_dim, num_heads, batch_first=True).eval()
    x = torch.randn(batch, seq_len, embed_dim, dtype=torch.float32)
    keywords = CALLS[call_name]

    def call():
        module(x, x, x, **keywords)

    with torch.no_grad():
        start = time.perf_counter()
        call()
        while time.perf_counter() - start < arguments.warmup_seconds:
            call()
        path = attention_path(torch, module, x, keywords)

        # How many calls make one repetition: enough to fill --min-seconds.
        start = time.perf_counter()
        call()
        one_call = time.perf_counter() - start
        calls = max(1, int(arguments.min_seconds / max(one_call, 1e-9)))

        seconds = []  # per call, one entry per repetition
        shape_start = time.perf_counter()
        while len(seconds) < arguments.repeat:
            start = time.perf_counter()
            for _ in range(calls):
                call()
            seconds.append((time.perf_counter() - start) / calls)
            if len(seconds) >= 3 and time.perf_counter() - shape_start > arguments.max_seconds:
                break
    median = statistics.median(seconds)
    return {
        "framework": "pytorch",
        "call": call_name,
        "torch_version": torch.__version__,
        "batch": batch, "seq_len": seq_len, "embed_dim": embed_dim, "num_heads": num_heads,
        "threads": torch.get_num_threads(),
        "repeat": len(seconds),
        "calls_per_repeat": calls,
        "median_ms": median * 1e3,
        "min_ms": min(seconds) * 1e3,
        "path": path,
        "cpu_capability": cpu_capability(torch),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", "(unset)"),
        "openblas_num_threads": os.environ.get("OPENBLAS_NUM_THREADS", "(unset)"),
    }


def main():
    arguments = parse_arguments()
    ensure_environment(arguments)  # may run the script again, with the best setting
    import torch  # only now: the environment is read when torch and OpenBLAS load
    torch.set_num_threads(arguments.threads)
    for shape in arguments.shapes:
        for call_name in arguments.calls:
            print(f"benchmark_pytorch: timing B, L, E, H = {shape}, call {call_name}, on {arguments.threads} "
                  f"thread(s)...", file=sys.stderr, flush=True)
            print(json.dumps(time_shape(torch, arguments, shape, call_name)), flush=True)


if __name__ == "__main__":
    main()
