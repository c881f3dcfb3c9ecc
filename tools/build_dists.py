"""Build wheels and sdists of every package into dist/ and check the internal pins in their metadata.

Usage: python tools/build_dists.py [--out DIR]
"""

from __future__ import annotations

import argparse
import email
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from workspace import META, ROOT, dists, find_tool, folder, internal_deps, req_name, req_specifier, version, wheel_stem


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
        cmd = [uv, "build", "--quiet", "--out-dir", str(out), str(folder(dist))]
        subprocess.run(cmd, check=True, cwd=ROOT)
    wheels = []
    for dist in dists():
        found = sorted(out.glob(f"{wheel_stem(dist)}-{version(dist)}-*.whl"))
        if len(found) != 1 or not list(out.glob(f"{wheel_stem(dist)}-{version(dist)}.tar.gz")):
            raise RuntimeError(f"build: expected one wheel and one sdist of {dist} {version(dist)} in {out}")
        wheels.append(found[0])
    return wheels


def check_pins(wheels: list[Path]) -> list[str]:
    """Problems with internal requirements: components need ~= ranges, the meta-package exact pins.

    Extras do not matter here (the meta-package asks for `datablock[progress]`); the specifier does.
    """
    problems = []
    for dist, wheel in zip(dists(), wheels, strict=True):
        reqs = [r for r in wheel_requires(wheel) if "extra ==" not in r.split(";", 1)[-1]]
        for dep in internal_deps(dist):
            want = f"=={version(dep)}" if dist == META else f"~={version(dep)}"
            found = [req_specifier(r) for r in reqs if req_name(r) == dep]
            if found != [want]:
                problems.append(f"{wheel.name}: expected requirement {dep}{want}, found {sorted(reqs)}")
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
