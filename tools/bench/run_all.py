"""Run every benchmark script in tools/bench/ (or those named) one after another, with its default settings.

Usage: python tools/bench/run_all.py [name ...]     e.g. `optim_step`
(`tools/bench/report.py` runs them with reduced settings and writes the README's Performance table.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHES = {Path(__file__).name, "report.py"}


def main(names: list[str]) -> int:
    scripts = sorted(p for p in HERE.glob("*.py") if p.name not in NOT_BENCHES)
    if names:
        scripts = [p for p in scripts if p.stem in names]
    failed = []
    for script in scripts:
        print(f"=== {script.stem}", flush=True)
        if subprocess.call([sys.executable, str(script)]) != 0:
            failed.append(script.stem)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
