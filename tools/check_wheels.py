"""Install each built wheel alone, with only its declared dependencies, into a fresh venv and import it.

Internal dependencies are given as the wheel files from dist/ on the command line, so they are never
looked up on an index (nor is a name that resembles one, such as the unrelated `typedtensor` on PyPI:
ours is `tiers-typedtensor`); external ones resolve as pip is
configured (mirrored for uv by tools/uv_settings.py).

Usage: python tools/check_wheels.py [--dist DIR] [--no-build] [dist ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from build_dists import build, check_pins
from workspace import ROOT, closure, dists, find_tool, folder, folders, import_name, normalize, version, wheel_stem


def wheel_for(out: Path, dist: str) -> Path:
    return next(out.glob(f"{wheel_stem(dist)}-{version(dist)}-*.whl"))


def install_and_import(uv: str, out: Path, dist: str, venv: Path) -> list[str]:
    """Create `venv`, install `dist`'s wheel plus its internal closure as wheels, import each; return problems."""
    subprocess.run([uv, "venv", "--quiet", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    wheels = [str(wheel_for(out, d)) for d in closure(dist)]
    proc = subprocess.run([uv, "pip", "install", "--quiet", "--python", py, *wheels], capture_output=True, text=True)
    if proc.returncode:
        return [f"{dist}: wheel install failed:\n{proc.stderr[-2000:]}"]
    listed = subprocess.run([uv, "pip", "list", "--python", py, "--format", "freeze"], capture_output=True, text=True)
    installed = {normalize(line.split("==")[0]) for line in listed.stdout.splitlines()}
    extra = sorted((installed & set(dists())) - set(closure(dist)))
    problems = [f"{dist}: undeclared internal packages installed: {extra}"] if extra else []
    # a foreign distribution named like one of our folders or import names (PyPI's `typedtensor`)
    lookalikes = {normalize(f.name) for f in folders().values()} | {normalize(import_name(d)) for d in dists()}
    foreign = sorted((installed & lookalikes) - set(dists()))
    if foreign:
        problems.append(f"{dist}: foreign distributions named like ours were installed: {foreign}")
    code = "; ".join(f"import {import_name(d)}" for d in closure(dist))
    proc = subprocess.run([py, "-c", f"{code}; print('ok')"], capture_output=True, text=True, cwd=venv)
    if proc.returncode:
        problems.append(f"{dist}: import failed from its wheel:\n{proc.stderr[-2000:]}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dist", type=Path, default=ROOT / "dist")
    parser.add_argument("--no-build", action="store_true", help="use the wheels already in --dist")
    parser.add_argument("names", nargs="*")
    args = parser.parse_args()
    start = time.perf_counter()
    problems: list[str] = []
    if not args.no_build:
        problems += check_pins(build(args.dist))
    for name in args.names:
        folder(name)  # a clear error for a name that is not a distribution of the repo
    uv = find_tool("uv")
    work = Path(tempfile.mkdtemp(prefix="tiers-wheels-"))
    try:
        for dist in args.names or dists():
            t0 = time.perf_counter()
            problems += install_and_import(uv, args.dist, dist, work / dist)
            print(f"check_wheels: {dist} installed alone and imported ({time.perf_counter() - t0:.1f} s)", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for p in problems:
        print(f"check_wheels: FAIL {p}", file=sys.stderr)
    print(f"check_wheels: done in {time.perf_counter() - start:.1f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
