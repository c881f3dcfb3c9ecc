"""Build wheels and sdists of every package into dist/ and check the internal pins in their metadata.

Usage: python tools/build.py [--out DIR]
"""

from __future__ import annotations

import argparse
import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from workspace import META, ROOT, dists, find_tool, import_name, internal_deps, version


def wheel_requires(wheel: Path) -> list[str]:
    """The Requires-Dist lines of a wheel's METADATA."""
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return email.message_from_bytes(zf.read(meta)).get_all("Requires-Dist") or []


def build(out: Path) -> list[Path]:
    """Build every package into `out` (emptied first); return the wheels in dependency order."""
    if out.exists():
        shutil.rmtree(out)  # `hatch build --all --clean` would keep only the last member's files
    out.mkdir(parents=True)
    uv = find_tool("uv")
    for dist in dists():
        cmd = [uv, "build", "--quiet", "--out-dir", str(out), str(ROOT / "packages" / dist)]
        subprocess.run(cmd, check=True, cwd=ROOT)
    wheels = []
    for dist in dists():
        found = sorted(out.glob(f"{import_name(dist)}-{version(dist)}-*.whl"))
        if len(found) != 1 or not list(out.glob(f"{import_name(dist)}-{version(dist)}.tar.gz")):
            raise RuntimeError(f"build: expected one wheel and one sdist of {dist} {version(dist)} in {out}")
        wheels.append(found[0])
    return wheels


def check_pins(wheels: list[Path]) -> list[str]:
    """Problems with internal requirements: components need ~= ranges, the meta-package exact pins."""
    problems = []
    for dist, wheel in zip(dists(), wheels, strict=True):
        reqs = {r.split(";")[0].replace(" ", "") for r in wheel_requires(wheel)}
        for dep in internal_deps(dist):
            want = f"{dep}=={version(dep)}" if dist == META else f"{dep}~={version(dep)}"
            if want not in reqs:
                problems.append(f"{wheel.name}: expected requirement {want}, found {sorted(reqs)}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args()
    wheels = build(args.out)
    problems = check_pins(wheels)
    for w in wheels:
        print(f"build: {w.name}")
    for p in problems:
        print(f"build: FAIL {p}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
