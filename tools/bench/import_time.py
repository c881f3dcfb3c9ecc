"""Import cost of each tiers package on top of `import torch, torchvision` (issue 15: apps_vision <= +0.3 s).

Every measurement is a fresh interpreter (`python -c ...`), the variants interleaved within each repeat so
machine load hits them alike; medians of the repeats. Two figures per package:
  - delta in process: the child imports torch and torchvision, then times `import <pkg>` alone
    (`time.perf_counter` for wall, `time.process_time` for CPU): the package's own cost, the figure the
    target is about;
  - whole process: the child's total wall and CPU (start-up included) against the baseline child that
    imports torch and torchvision only, as a cross-check of the first.
It also says whether the import pulled in plum or beartype (deferred until the first dispatch), and how many
full (generation 2) garbage collections ran during it: with torch loaded one costs about 0.2 s of CPU, and it
runs once an import has allocated enough (importing plum first was enough to make `import apps_vision` pay one).
CPU time is the figure to trust on a loaded machine; the load average is printed.

Bytecode: an installed package imports from compiled `.pyc` files (pip compiles them at install), but an
environment made with `uv` does not compile them, and `PYTHONDONTWRITEBYTECODE=1` stops Python from caching
them, so every import there compiles every module again (torch included: seconds). By default the children
therefore use their own bytecode cache (`PYTHONPYCACHEPREFIX`, a folder under the temp dir, filled by one
uncounted warm-up run per variant; the environment itself is not written to), which measures what an
installed package costs. `--no-bytecode` measures with compilation on every import instead.

    .venv/bin/python tools/bench/import_time.py [--repeats 5] [--no-bytecode] [pkg ...]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ["dispatch_transforms", "datablock", "trainloop_callbacks", "apps_vision", "apps_text", "apps_tabular"]
TARGET = {"apps_vision": 0.3}  # seconds over torch + torchvision (issue 15)

# The child: import the base, then the package, and report the package's own wall and CPU cost.
CHILD = """
import gc, json, sys, time
import torch, torchvision
full0 = gc.get_stats()[2]["collections"]
w0, c0 = time.perf_counter(), time.process_time()
for name in sys.argv[1:]:
    __import__(name)
w1, c1 = time.perf_counter(), time.process_time()
heavy = sorted(m for m in ("plum", "beartype", "pandas", "matplotlib") if m in sys.modules)
full = gc.get_stats()[2]["collections"] - full0
print(json.dumps({"wall": w1 - w0, "cpu": c1 - c0, "heavy": heavy, "full_gc": full}))
"""


def child_env(bytecode: bool) -> dict[str, str]:
    """The children's environment: a private bytecode cache, or (bytecode=False) none at all."""
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(Path(tempfile.gettempdir()) / "tiers-import-bench-pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        env.pop("PYTHONPYCACHEPREFIX", None)
    return env


def run_child(names: list[str], env: dict[str, str]) -> dict[str, float | list[str]]:
    """One fresh interpreter: its own figures plus its whole wall and CPU time (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    cmd = [sys.executable, "-c", CHILD, *names]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return {**found, "proc_wall": wall, "proc_cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats (median reported)")
    parser.add_argument("--no-bytecode", action="store_true", help="compile every module on every import")
    parser.add_argument("packages", nargs="*", default=PACKAGES, help="import names to measure")
    args = parser.parse_args()

    variants = [[], *[[p] for p in args.packages]]
    runs: dict[str, list[dict]] = {" ".join(v) or "base": [] for v in variants}
    env = child_env(bytecode=not args.no_bytecode)
    if not args.no_bytecode:
        for v in variants:  # warm-up: fills the bytecode cache (not counted)
            run_child(v, env)
    load0 = os.getloadavg()
    for _ in range(args.repeats):
        for v in variants:
            runs[" ".join(v) or "base"].append(run_child(v, env))
    load1 = os.getloadavg()

    def med(key: str, name: str) -> float:
        return statistics.median(r[key] for r in runs[name])

    mode = "compiled on every import (--no-bytecode)" if args.no_bytecode else "from cached bytecode"
    print(f"python {sys.version.split()[0]}, {mode}, {args.repeats} interleaved repeats, medians; "
          f"load average {load0[0]:.2f} before, {load1[0]:.2f} after")  # fmt: skip
    base_w, base_c = med("proc_wall", "base"), med("proc_cpu", "base")
    print(f"import torch, torchvision (whole process): {base_w:.2f} s wall, {base_c:.2f} s CPU")
    header = f"{'+ import':<22}{'wall s':>8}{'CPU s':>8}{'proc wall':>11}{'proc CPU':>10}{'full gc':>8}"
    print(f"{header}  pulls in    target")
    for name in args.packages:
        wall, cpu = med("wall", name), med("cpu", name)
        pw, pc = med("proc_wall", name) - base_w, med("proc_cpu", name) - base_c
        heavy = ",".join(runs[name][0]["heavy"]) or "-"
        target = TARGET.get(name)
        verdict = "" if target is None else f"<= {target} s: {'met' if cpu <= target else 'NOT met'} (CPU)"
        gcs = med("full_gc", name)
        print(f"{name:<22}{wall:>8.3f}{cpu:>8.3f}{pw:>+11.3f}{pc:>+10.3f}{gcs:>8.0f}  {heavy:<11} {verdict}")


if __name__ == "__main__":
    main()
