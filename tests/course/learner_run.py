#!/usr/bin/env python3
"""A scripted learner (ctest -L exercises): drives ./scripts/course through the mistakes learners
make in lesson 1 and checks what the course says each time (issue 12's acceptance):

  1. a correct lesson 1 (from `start --from 2`): every exercise ✓ and "Lesson 1 done";
  2. matmul without its ++i: a verdict naming the Matmul test that did not finish, within 15 s;
  3. matmul writing past the end of C: the signal and the test named;
  4. a softmax without the max shift: "Next" names stable_softmax and its failing tests;
  5. issue 12's moved-workspace reproducer: a wrong causal mask still fails after the workspace was
     moved away, another one built in its place, and moved back;
  6. the correct lesson 1 again, after all that: "Lesson 1 done".

Usage: learner_run.py WORK_FOLDER [WORKSPACE]   (the workspace, WORK_FOLDER/workspace unless given,
and its build go there; kept between runs so that the first build is paid once)."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COURSE = ROOT / "scripts" / "course"
work = Path(sys.argv[1]).resolve()
workspace = Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else work / "workspace"
build = work / "build"
environment = {**os.environ, "MHA_WORKSPACE": str(workspace), "MHA_COURSE_BUILD": str(build), "NO_COLOR": "1"}
failures = []
started = time.monotonic()


def course(*arguments, expect=None):
    began = time.monotonic()
    done = subprocess.run([sys.executable, str(COURSE), *arguments], env=environment, capture_output=True,
                          text=True, timeout=600)
    seconds = time.monotonic() - began
    output = done.stdout + done.stderr
    print(f"$ course {' '.join(arguments)}   (exit {done.returncode}, {seconds:.1f} s)")
    print("\n".join("    " + line for line in output.splitlines()))
    if expect is not None and done.returncode != expect:
        failures.append(f"course {' '.join(arguments)}: exit status {done.returncode}, expected {expect}")
    return output, seconds


def expect_in(what, output, step):
    for text in what:
        if not re.search(text, output):
            failures.append(f"{step}: the output does not match {text!r}")


def edit(relative, old, new):
    path = workspace / "src" / relative
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


def restore(relative):
    """The reference version of a lesson 1 file (the workspace of `start --from 2` has them solved)."""
    shutil.copy(ROOT / "src" / relative, workspace / "src" / relative)


LESSON1_FILES = ["reference/matmul.cpp", "reference/softmax.cpp", "reference/mask.cpp", "reference/attention.cpp"]

if workspace.exists():
    shutil.rmtree(workspace)
course("start", "--from", "2", expect=0)

step = "1. a correct lesson 1"
output, _ = course("check", "1", expect=0)
expect_in([r"✓ matmul", r"✓ stable_softmax", r"✓ causal_mask", r"✓ scaled_dot_product_attention",
           r"Lesson 1 done", r"Next: exercise linear_layer of lesson 2"], output, step)
output, _ = course("list", expect=0)
expect_in([r"matmul .*✓ done"], output, step)

step = "2. an endless loop in matmul"
edit("reference/matmul.cpp", "for (std::size_t i = 0; i < n; ++i) {", "for (std::size_t i = 0; i < n;) {")
output, seconds = course("check", "1", expect=1)
expect_in([r"✗ matmul +did not finish", r"Matmul\.\w+ did not finish", r"endless loop",
           r"Next: exercise matmul"], output, step)
built = re.search(r"Built in ([\d.]+) s", output)
waited = seconds - (float(built.group(1)) if built else 0)  # the time after the build: the tests' run
if waited > 15:
    failures.append(f"{step}: the verdict took {waited:.1f} s after the build (at most 15 s)")
restore("reference/matmul.cpp")

step = "3. an out-of-bounds write in matmul"
edit("reference/matmul.cpp", "C(i, j) += a * B(p, j);", "C(i + 100000 * n, j) += a * B(p, j);")
output, _ = course("check", "1", expect=1)
expect_in([r"crashed \((SIGSEGV|SIGABRT|SIGBUS)\) while running Matmul\.\w+", r"Next: exercise matmul"], output, step)
restore("reference/matmul.cpp")

step = "4. a softmax without the max shift"
edit("reference/softmax.cpp", "std::exp(logits(i, j) - row_max)", "std::exp(logits(i, j))")
output, _ = course("check", "1", expect=1)
expect_in([r"✓ matmul", r"✗ stable_softmax", r"Next: exercise stable_softmax", r"Softmax\.\w+: "], output, step)
restore("reference/softmax.cpp")

step = "5. the moved-workspace reproducer"
edit("reference/mask.cpp", "std::size_t j = i + 1;", "std::size_t j = i;")
output, _ = course("check", "1", expect=1)
expect_in([r"Next: exercise causal_mask", r"CausalMask\.ForbidsExactlyTheFuture"], output, step)
moved = work / "moved-away"
if moved.exists():
    shutil.rmtree(moved)
workspace.rename(moved)
# Another workspace in its place (issue 12 used --from 3; --from 2 differs from the moved one in the
# wrong mask only, and compiles little): its right causal_mask.cpp is built, with the times it gets now.
course("start", "--from", "2", expect=0)
output, _ = course("check", "1", expect=0)  # the other workspace's lesson 1 is right
shutil.rmtree(workspace)
moved.rename(workspace)
output, _ = course("check", "1", expect=1)  # issue 12: this passed on a stale build
expect_in([r"✗ causal_mask", r"Next: exercise causal_mask"], output, step)
restore("reference/mask.cpp")

step = "6. lesson 1 right again"
output, _ = course("check", "1", expect=0)
expect_in([r"Lesson 1 done"], output, step)

print(f"\nThe scripted learner took {time.monotonic() - started:.0f} s.")
if failures:
    print("\nProblems:")
    for failure in failures:
        print("  - " + failure)
    sys.exit(1)
print("Every step gave the verdict a learner needs.")
