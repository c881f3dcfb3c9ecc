"""Facts about the workspace shared by the repo tools: packages, versions, dependencies."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
META = "tiers"


def _names() -> list[str]:
    return sorted(p.name for p in PACKAGES.iterdir() if (p / "pyproject.toml").exists())


def dists() -> list[str]:
    """Distribution names, in dependency order (dependencies before dependents, meta last)."""
    ordered: list[str] = []
    for name in _names():
        ordered += [d for d in closure(name) if d not in ordered]
    return ordered


def import_name(dist: str) -> str:
    return dist.replace("-", "_")


def pyproject(dist: str) -> dict:
    return tomllib.loads((PACKAGES / dist / "pyproject.toml").read_text())


def _req_name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def internal_deps(dist: str) -> list[str]:
    """The sibling distributions `dist` declares as dependencies."""
    names = set(_names())
    return [n for n in map(_req_name, pyproject(dist)["project"].get("dependencies", [])) if n in names]


def closure(dist: str) -> list[str]:
    """`dist` and every internal distribution it needs, transitively, dependencies first."""
    out: list[str] = []

    def visit(name: str) -> None:
        for dep in internal_deps(name):
            visit(dep)
        if name not in out:
            out.append(name)

    visit(dist)
    return out


def about_file(dist: str) -> Path:
    return PACKAGES / dist / "src" / import_name(dist) / "__about__.py"


def version(dist: str) -> str:
    m = re.search(r'__version__\s*=\s*"([^"]+)"', about_file(dist).read_text())
    if not m:
        raise ValueError(f"no __version__ in {about_file(dist)}")
    return m.group(1)


def find_tool(name: str) -> str:
    """Path of a command-line tool: on PATH, next to this Python, or in .tools/bin."""
    for candidate in (shutil.which(name), str(Path(sys.executable).parent / name), str(ROOT / ".tools/bin" / name)):
        if candidate and Path(candidate).exists():
            return candidate
    raise FileNotFoundError(f"{name} not found: run through tools/dev (it installs hatch and uv into .tools/)")
