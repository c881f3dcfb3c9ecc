"""Bump one package's version and everything that refers to it.

The package is named by its distribution name (`tiers-typedtensor`, whose folder and import name are
`typedtensor`); requirements name it with or without extras (`datablock[progress]==0.1.0`).

- its `__about__.py`;
- the `~=` range in each sibling that depends on it;
- the exact pin in the meta-package `tiers`;
- its CHANGELOG: the `## Unreleased` section becomes `## <version> (<date>)` under a fresh, empty Unreleased.

Usage: python tools/bump.py <dist> <major|minor|patch|X.Y.Z> [--root DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from pathlib import Path

import workspace


def next_version(current: str, part: str) -> str:
    if re.fullmatch(r"\d+\.\d+\.\d+", part):
        return part
    major, minor, patch = (int(x) for x in current.split("."))
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    if part == "patch":
        return f"{major}.{minor}.{patch + 1}"
    raise ValueError(f"bump: part must be major, minor, patch or X.Y.Z, got {part!r}")


def bump(root: Path, dist: str, part: str, today: dt.date | None = None) -> str:
    """Apply the bump under `root` and return the new version."""
    try:
        home = workspace.folder(dist, root)
    except ValueError as e:
        raise ValueError(f"bump: {e}") from None
    about = workspace.about_file(dist, root)
    m = re.search(r'__version__ = "([^"]+)"', about.read_text())
    if not m:
        raise ValueError(f"bump: no __version__ in {about}")
    old = m.group(1)
    new = next_version(old, part)
    about.write_text(about.read_text().replace(f'__version__ = "{old}"', f'__version__ = "{new}"'))
    # the name as requirements spell it (any case, `-`/`_`/`.`), optional extras, then ~= or ==
    spelled = r"[-_.]+".join(re.escape(p) for p in dist.split("-"))
    dep = re.compile(rf'"(?i:{spelled})(\[[^\]"]*\])?\s*(~=|==)[^"]*"')
    for other in workspace.folders(root).values():
        py = other / "pyproject.toml"
        if other == home:
            continue
        text = py.read_text()
        updated = dep.sub(lambda m: f'"{dist}{m.group(1) or ""}{m.group(2)}{new}"', text)
        if updated != text:
            py.write_text(updated)
    changelog = home / "CHANGELOG.md"
    text = changelog.read_text()
    if "## Unreleased" not in text:
        raise ValueError(f"bump: {changelog} has no '## Unreleased' section")
    stamp = (today or dt.date.today()).isoformat()
    changelog.write_text(text.replace("## Unreleased", f"## Unreleased\n\n## {new} ({stamp})", 1))
    return new


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dist")
    parser.add_argument("part")
    parser.add_argument("--root", type=Path, default=workspace.ROOT)
    args = parser.parse_args()
    new = bump(args.root, args.dist, args.part)
    print(f"bump: {args.dist} is now {new}; review the diff, then tag {args.dist}-v{new}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
