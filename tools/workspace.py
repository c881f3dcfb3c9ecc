"""Facts about the workspace shared by the repo tools: packages, versions, dependencies.

Three names per package: the distribution name (`[project].name`, what pip installs and what
requirements name), the folder under `packages/`, and the import name (the one package under `src/`).
They agree (`-` -> `_`) except for `tiers-typedtensor`, whose folder and import name are `typedtensor`
(an unrelated project owns `typedtensor` on the package index). Functions here take distribution names.
"""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ROOT / "packages"
META = "tiers"


def normalize(name: str) -> str:
    """A distribution name as the package index compares it (PEP 503): lower case, `_`/`.` runs -> `-`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def folders(root: Path = ROOT) -> dict[str, Path]:
    """Distribution name -> package folder, for every folder of `root/packages` that holds a pyproject.toml."""
    out: dict[str, Path] = {}
    for folder in sorted((root / "packages").iterdir()):
        py = folder / "pyproject.toml"
        if py.exists():
            name = normalize(tomllib.loads(py.read_text())["project"]["name"])
            if name in out:
                raise ValueError(f"workspace: {folder} and {out[name]} both declare the distribution {name!r}")
            out[name] = folder
    return out


def folder(dist: str, root: Path = ROOT) -> Path:
    """The folder of distribution `dist`; a clear error for a name that is not one of the repo's."""
    found = folders(root)
    if dist in found:
        return found[dist]
    by_folder = {f.name: d for d, f in found.items()}
    hint = f" (the folder packages/{dist} holds the distribution {by_folder[dist]!r})" if dist in by_folder else ""
    raise ValueError(f"no package {dist!r} under {root / 'packages'}{hint}; distributions: {sorted(found)}")


def _names() -> list[str]:
    return sorted(folders())


def dists() -> list[str]:
    """Distribution names, in dependency order (dependencies before dependents, meta last)."""
    ordered: list[str] = []
    for name in _names():
        ordered += [d for d in closure(name) if d not in ordered]
    return ordered


def import_name(dist: str, root: Path = ROOT) -> str:
    """The importable package of `dist`: the one folder under its `src/`."""
    src = folder(dist, root) / "src"
    pkgs = [p.name for p in src.iterdir() if p.is_dir() and (p / "__init__.py").exists()]
    if len(pkgs) != 1:
        raise ValueError(f"workspace: expected one package under {src}, found {sorted(pkgs)}")
    return pkgs[0]


def wheel_stem(dist: str) -> str:
    """How `dist` starts a wheel or sdist file name (`tiers-typedtensor` -> `tiers_typedtensor`)."""
    return normalize(dist).replace("-", "_")


def pyproject(dist: str) -> dict:
    return tomllib.loads((folder(dist) / "pyproject.toml").read_text())


def req_name(req: str) -> str:
    """The normalized distribution name a requirement string names (`Foo_Bar[x]>=1` -> `foo-bar`)."""
    return normalize(re.split(r"[\s<>=!~;\[@(]", req.strip(), maxsplit=1)[0])


def req_specifier(req: str) -> str:
    """The version specifier of a requirement string, spaces removed (`datablock[progress] == 0.1.0` -> `==0.1.0`)."""
    m = re.match(r"\s*[A-Za-z0-9][A-Za-z0-9._-]*\s*(?:\[[^\]]*\])?\s*([^;]*)", req)
    return m.group(1).replace(" ", "") if m else ""


def internal_deps(dist: str) -> list[str]:
    """The sibling distributions `dist` declares as dependencies."""
    names = set(_names())
    return [n for n in map(req_name, pyproject(dist)["project"].get("dependencies", [])) if n in names]


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


def about_file(dist: str, root: Path = ROOT) -> Path:
    return folder(dist, root) / "src" / import_name(dist, root) / "__about__.py"


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
