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


def dists() -> list[str]:
    """Distribution names, in dependency order (dependencies before dependents, meta last)."""
    names = sorted(p.name for p in PACKAGES.iterdir() if (p / "pyproject.toml").exists())
    ordered: list[str] = []

    def visit(name: str) -> None:
        if name in ordered:
            return
        for dep in internal_deps(name):
            visit(dep)
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def import_name(dist: str) -> str:
    return dist.replace("-", "_")


def pyproject(dist: str) -> dict:
    return tomllib.loads((PACKAGES / dist / "pyproject.toml").read_text())


def _req_name(req: str) -> str:
    return re.split(r"[\s<>=!~;\[]", req, maxsplit=1)[0].lower().replace("_", "-")


def internal_deps(dist: str) -> list[str]:
    """The sibling distributions `dist` declares as dependencies."""
    names = {p.name for p in PACKAGES.iterdir() if (p / "pyproject.toml").exists()}
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
