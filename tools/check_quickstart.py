"""CI's check of the README's main job: run the default quickstart (`tiers quickstart vision`, default epochs)
and fail unless the accuracy it prints is at least the goal (95% on the shipped digits).

Usage: python tools/check_quickstart.py [--out DIR] [--min 0.95]

The printed line (`accuracy: 97.50% (goal >= 95.00%: reached) after 5 epoch(s) in 80 s`) is what a newcomer
reads, so that is what is checked; metrics.json must agree with it.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

LINE = re.compile(r"^accuracy: (\d+(?:\.\d+)?)% ")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/quickstart/vision")
    parser.add_argument("--min", type=float, default=0.95)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    cmd = [sys.executable, "-c", "import sys; from tiers.cli import main; sys.exit(main())"]
    res = subprocess.run([*cmd, "quickstart", "vision", "--out", args.out], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    sys.stdout.write(res.stdout[-4000:])
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        print(f"check_quickstart: `tiers quickstart vision` failed (exit {res.returncode})", file=sys.stderr)
        return 1
    printed = [float(m.group(1)) / 100 for m in map(LINE.match, res.stdout.splitlines()) if m]
    if len(printed) != 1:
        print(f"check_quickstart: expected one accuracy line, found {len(printed)}", file=sys.stderr)
        return 1
    recorded = json.loads((Path(args.out) / "metrics.json").read_text())["value"]
    if abs(recorded - printed[0]) > 1e-4:
        print(f"check_quickstart: printed {printed[0]:.4f} but metrics.json says {recorded:.4f}", file=sys.stderr)
        return 1
    ok = printed[0] >= args.min
    verdict = "passed" if ok else "FAILED"
    print(f"check_quickstart: accuracy {printed[0]:.2%} (>= {args.min:.0%} asked) in {seconds:.0f} s: {verdict}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
