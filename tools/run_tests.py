"""Run pytest, then fail on any skip that is not "no GPU here", and report the count.

Usage: python tools/run_tests.py [pytest args]   (default: every package's tests and tests-integration)

pytest's exit code 5 (nothing collected) is turned into a failure with a message: every
place this runs is expected to hold tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GPU_MARK = "needs a GPU"


def skipped_tests(report: Path) -> list[tuple[str, str]]:
    """(test id, reason) of every skipped test in a JUnit XML report."""
    out = []
    for case in ET.parse(report).iter("testcase"):
        skip = case.find("skipped")
        if skip is not None:
            out.append((f"{case.get('classname')}::{case.get('name')}", skip.get("message", "")))
    return out


def main(args: list[str]) -> int:
    report = Path(os.environ.get("TIERS_TEST_REPORT", ROOT / "build" / "reports" / "tests.xml"))
    report.parent.mkdir(parents=True, exist_ok=True)
    targets = args or ["packages", "tests-integration"]
    # the application issues' full acceptance trainings take minutes each: run them on purpose (`-m acceptance`)
    select = [] if any(a == "-m" or a.startswith("-m") for a in args) else ["-m", "not acceptance"]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-c",
        str(ROOT / "pyproject.toml"),
        f"--junitxml={report}",
        *select,
        *targets,
    ]
    code = subprocess.call(cmd, cwd=ROOT)
    if code == 5:
        print(f"run_tests: pytest collected no tests from {targets}: every package must have tests", file=sys.stderr)
        return 1
    if not report.exists():
        return code or 1
    skips = skipped_tests(report)
    bad = [(name, why) for name, why in skips if GPU_MARK not in why]
    print(f"run_tests: {len(skips)} skipped ({len(skips) - len(bad)} for lack of a GPU, {len(bad)} for other reasons)")
    for name, why in bad:
        print(f"run_tests: not allowed to skip {name}: {why}", file=sys.stderr)
    return code or (1 if bad else 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
