"""Regenerate the README's quickstart block: run `tiers quickstart vision --cpu`, keep its printed output and
copy its pictures (shrunk to a few tens of KB) into docs/quickstart/.

Usage: python tools/gen_readme_assets.py [--out DIR] [--epochs N] [--keep]
       (with the workspace environment: `.venv/bin/python`; then commit README.md and docs/quickstart/)

The block between the README's `generated: quickstart` markers (tools/readme_blocks.py) gets the command's
output (progress-bar redraws dropped, the temporary folder shown as `tiers-quickstart/vision`, the home folder
as `~`), the machine it ran on, and the three pictures: `show_batch.png`, `show_results.png` and
`confusion_matrix.png`. Nothing is written when the quickstart fails or misses its goal.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image
from readme_blocks import ROOT, write_block

ASSETS = ROOT / "docs" / "quickstart"
PICTURES = {
    "show_batch": "what the model sees: a training batch with its labels",
    "show_results": "validation digits titled `target / prediction`",
    "confusion_matrix": "the confusion matrix on the validation set",
}
MAX_SIDE = 520  # px: enough to read the digits and the matrix, small enough for a few tens of KB
COLORS = 64  # palette size: the pictures are digits, text and a few shades
ACCURACY = re.compile(r"^accuracy: (\d+(?:\.\d+)?)% \(goal >= [\d.]+%: (reached|NOT reached)\)")
KEEP = re.compile(r"^(tiers quickstart|epoch |\d+ +[\d.]|accuracy:|wrote:|  \w+ +\S|try: )")


def shrink(src: Path, dst: Path) -> int:
    """Copy a PNG as a palette image no wider or taller than MAX_SIDE; returns the bytes written."""
    img = Image.open(src).convert("RGB")
    scale = MAX_SIDE / max(img.size)
    if scale < 1:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    img.quantize(colors=COLORS, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)
    return dst.stat().st_size


def clean(stdout: str, out: Path) -> str:
    """The lines a reader needs, with this run's folders replaced by the ones a user would see."""
    lines = []
    for raw in stdout.splitlines():
        line = raw.rsplit("\r", 1)[-1].rstrip()  # a progress bar redraws with \r: keep its last state
        if not KEEP.match(line):
            continue
        line = line.replace(str(out), "tiers-quickstart/vision").replace(str(Path.home()), "~")
        if line not in lines:  # a progress bar may print the table's header and rows again
            lines.append(line)
    return "\n".join(lines)


def block(output: str, seconds: float, load: tuple[float, float], epochs: str) -> str:
    cores = os.cpu_count()
    pics = " | ".join(f"`{name}.png`" for name in PICTURES)
    links = " | ".join(f"![{what}](docs/quickstart/{name}.png)" for name, what in PICTURES.items())
    return "\n".join(
        [
            f"A measured run of `tiers quickstart vision --cpu{epochs}` ({platform.python_implementation()} "
            f"{platform.python_version()}, {cores} CPU cores, load average {load[0]:.1f} before and {load[1]:.1f} "
            f"after, the machine shared with other jobs; {seconds:.0f} s for the whole command), as "
            "`python tools/gen_readme_assets.py` regenerates it with its pictures:",
            "",
            "```text",
            output,
            "```",
            "",
            f"| {pics} |",
            "|---|---|---|",
            f"| {links} |",
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="where the quickstart writes (default: a temporary folder)")
    parser.add_argument("--epochs", type=int, help="passed on (default: the quickstart's own)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="tiers-readme-")).resolve()
    epochs = [] if args.epochs is None else ["--epochs", str(args.epochs)]
    cmd = [sys.executable, "-m", "tiers.cli", "quickstart", "vision", "--cpu", "--out", str(out), *epochs]
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    sys.stdout.write(res.stdout)
    if res.returncode != 0:
        sys.stderr.write(res.stderr[-4000:])
        print(f"gen_readme_assets: the quickstart failed (exit {res.returncode}); nothing written", file=sys.stderr)
        return 1
    output = clean(res.stdout, out)
    found = [m for m in map(ACCURACY.match, output.splitlines()) if m]
    if len(found) != 1 or found[0].group(2) != "reached":
        print("gen_readme_assets: no accuracy line that reached its goal; nothing written", file=sys.stderr)
        return 1
    ASSETS.mkdir(parents=True, exist_ok=True)
    for name in PICTURES:
        size = shrink(out / f"{name}.png", ASSETS / f"{name}.png")
        print(f"gen_readme_assets: docs/quickstart/{name}.png ({size / 1024:.0f} KB)")
    shown_epochs = "" if args.epochs is None else f" --epochs {args.epochs}"
    changed = write_block("quickstart", block(output, seconds, (load_before, os.getloadavg()[0]), shown_epochs))
    print(f"gen_readme_assets: README.md {'updated' if changed else 'unchanged'}")
    if not (args.out or args.keep):
        shutil.rmtree(out, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
