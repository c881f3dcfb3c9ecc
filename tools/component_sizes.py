"""Import time and installed size of each distribution, written into the README's `generated: components` block.

Usage: python tools/component_sizes.py [--repeats 5] [--wheels DIR] [--print]
       (with the workspace environment: `.venv/bin/python`; then commit README.md)

- import time: `python -X importtime -c "import <pkg>"` in `--repeats` fresh processes; the package's cumulative
  time as CPython reports it (interpreter start-up excluded), the median, and how much of it torch took in the
  same process (a package that never imports torch shows "-").
- size: each wheel (built with `uv build --wheel` into a temporary folder, or read from `--wheels DIR`, e.g.
  `dist/` after `tools/dev run build`): the wheel file, what it installs (its files uncompressed), and what the
  component installs with its internal dependencies. Third-party requirements are listed, and the installed size
  of the biggest ones in this environment is given below the table for scale.
`--print` prints the block instead of writing the README.
"""

from __future__ import annotations

import argparse
import email
import importlib.metadata
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from readme_blocks import write_block
from workspace import closure, dists, find_tool, folder, import_name, req_name, version, wheel_stem

LINE = re.compile(r"^import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)\s*$")
THIRD_PARTY_SCALE = ["torch", "torchvision", "pandas", "numpy", "pillow", "plum-dispatch", "fastprogress"]


def import_ms(module: str, repeats: int) -> tuple[float, float | None]:
    """Median cumulative import time of `module` and of torch inside it, in ms, over fresh processes."""
    own, torch_ms = [], []
    for _ in range(repeats):
        res = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, check=True
        )
        cumulative = {}
        for m in map(LINE.match, res.stderr.splitlines()):
            if m and m.group(4) not in cumulative:
                cumulative[m.group(4)] = int(m.group(2)) / 1000
        if module not in cumulative:
            raise RuntimeError(f"component_sizes: `-X importtime` printed no line for {module}")
        own.append(cumulative[module])
        if "torch" in cumulative:
            torch_ms.append(cumulative["torch"])
    return statistics.median(own), (statistics.median(torch_ms) if torch_ms else None)


def build_wheels(out: Path) -> None:
    uv = find_tool("uv")
    for dist in dists():
        subprocess.run([uv, "build", "--wheel", "--quiet", "--out-dir", str(out), str(folder(dist))], check=True)


def wheel_of(dist: str, where: Path) -> Path:
    found = sorted(where.glob(f"{wheel_stem(dist)}-{version(dist)}-*.whl"))
    if len(found) != 1:
        raise RuntimeError(f"component_sizes: expected one wheel of {dist} {version(dist)} in {where}, found {found}")
    return found[0]


def wheel_facts(wheel: Path) -> tuple[int, int, list[str]]:
    """(wheel bytes, installed bytes, third-party requirement names without extras)."""
    with zipfile.ZipFile(wheel) as zf:
        installed = sum(i.file_size for i in zf.infolist())
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        reqs = email.message_from_bytes(zf.read(meta)).get_all("Requires-Dist") or []
    names = set(dists())
    third = sorted({req_name(r) for r in reqs if "extra ==" not in r and req_name(r) not in names})
    return wheel.stat().st_size, installed, third


def installed_mb(dist: str) -> float | None:
    """Bytes a third-party distribution occupies in this environment (its RECORD), in MB; None if absent."""
    try:
        files = importlib.metadata.distribution(dist).files or []
    except importlib.metadata.PackageNotFoundError:
        return None
    total = 0
    for f in files:
        p = Path(f.locate())
        if p.is_file():
            total += p.stat().st_size
    return total / 1e6


def kb(n: float) -> str:
    return f"{n / 1024:,.0f}"


def table(repeats: int, wheels: Path) -> str:
    facts = {d: wheel_facts(wheel_of(d, wheels)) for d in dists()}
    rows = [
        "| distribution | `import` | import ms | of which torch ms | wheel KB | installed KB "
        "| with internal deps KB | third-party requirements |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    loads = [os.getloadavg()[0]]
    for dist in dists():
        module = import_name(dist)
        ms, torch_ms = import_ms(module, repeats)
        whl, inst, third = facts[dist]
        with_deps = sum(facts[d][1] for d in closure(dist))
        torch_cell = "-" if torch_ms is None else f"{torch_ms:,.0f}"
        rows.append(
            f"| `{dist}` | `{module}` | {ms:,.0f} | {torch_cell} | {kb(whl)} | {kb(inst)} | {kb(with_deps)} "
            f"| {', '.join(third) or '-'} |"
        )
        print(rows[-1], flush=True)
        loads.append(os.getloadavg()[0])
    sizes = {d: mb for d in THIRD_PARTY_SCALE if (mb := installed_mb(d)) is not None}
    scale = [f"{d} {mb:,.0f} MB" if mb >= 10 else f"{d} {mb:.1f} MB" for d, mb in sizes.items()]
    return "\n".join(
        [
            f"Measured by `python tools/component_sizes.py --repeats {repeats}` (Python {platform.python_version()}, "
            f"{os.cpu_count()} CPU cores, load average {min(loads):.1f} to {max(loads):.1f}: a shared machine). "
            f"Import ms: the median over "
            f"{repeats} fresh processes of the package's cumulative `python -X importtime` figure (interpreter "
            "start-up excluded), and the part of it torch took; sizes: the wheel, the files it installs, and "
            "those of the component with its internal dependencies.",
            "",
            *rows,
            "",
            "For scale, the third-party libraries as installed in that environment: " + ", ".join(scale) + ".",
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--wheels", type=Path, help="a folder of built wheels (default: build them now)")
    parser.add_argument("--print", action="store_true", help="print the block; leave the README alone")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    with tempfile.TemporaryDirectory() as tmp:
        wheels = args.wheels
        if wheels is None:
            wheels = Path(tmp)
            build_wheels(wheels)
        text = table(args.repeats, wheels)
    if args.print:
        print(text)
    else:
        changed = write_block("components", text)
        print(f"component_sizes: README.md {'updated' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
