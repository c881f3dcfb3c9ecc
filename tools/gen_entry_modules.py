"""Write tiers' entry modules (`tiers.vision`, `tiers.text`, `tiers.tabular`, `tiers.collab`, `tiers.all`).

Usage: python tools/gen_entry_modules.py     (after a package's `__all__` changes; then commit the result)

Each module is an explicit import list (no star imports inside the library) of the names `tiers.entries`
assigns to it, with its `__all__`. packages/tiers/tests/test_entries.py fails when a module is out of date.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tiers.entries import ENTRY_PACKAGES, entry_names

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "packages" / "tiers" / "src" / "tiers"

WHAT = {
    "vision": "image classification and segmentation: `apps_vision`, with `gpu_augment`'s batch augmentation",
    "text": "language models and text classifiers: `apps_text`",
    "tabular": "tabular models: `apps_tabular`",
    "collab": "collaborative filtering: `apps_tabular`, whose `collab_learner` trains a `TabularLearner`",
    "all": "every application: the names of tiers.vision, .text, .tabular and .collab together",
}
SECOND_LINE = {
    "vision": "`from tiers.vision import *` works as `from fastai.vision.all import *` does for a fastai user.",
    "text": "`from tiers.text import *` works as `from fastai.text.all import *` does for a fastai user.",
    "tabular": "`from tiers.tabular import *` works as `from fastai.tabular.all import *` does for a fastai user.",
    "collab": "`from tiers.collab import *` works as `from fastai.collab import *` does for a fastai user.",
    "all": "`from tiers.all import *` gives what the four entry modules give, with no name bound twice.",
}


def module_text(entry: str) -> str:
    names = entry_names(entry)
    by_pkg: dict[str, list[str]] = {}
    for name, pkg in names.items():
        by_pkg.setdefault(pkg, []).append(name)
    lines = [
        f'"""What a user needs for {WHAT[entry]}.',
        "",
        SECOND_LINE[entry],
        "",
        "Each name keeps its home in its own package; this module only re-exports them (see `tiers.entries`).",
        "Written by tools/gen_entry_modules.py; do not edit by hand.",
        '"""',
        "",
    ]
    for pkg, pkg_names in by_pkg.items():
        lines.append(f"from {pkg} import (")
        lines += [f"    {n}," for n in pkg_names]
        lines.append(")")
    lines += ["", "__all__ = ["]
    lines += [f'    "{n}",' for n in names]
    lines.append("]")
    return "\n".join(lines) + "\n"


def main() -> int:
    files = []
    for entry in [*ENTRY_PACKAGES, "all"]:
        file = OUT / f"{entry}.py"
        file.write_text(module_text(entry))
        files.append(str(file))
    ruff = [sys.executable, "-m", "ruff"]
    subprocess.run([*ruff, "check", "--fix", "-q", *files], check=True)
    subprocess.run([*ruff, "format", "-q", *files], check=True)
    print("wrote " + ", ".join(files))
    return 0


if __name__ == "__main__":
    sys.exit(main())
