"""No package reaches into another package's private parts: every import of another tiers package names
public modules and public names only (an app that needs something private makes the lower layer grow a
public extension point instead). The package tests are held to the same rule."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p for p in (ROOT / "packages").iterdir() if (p / "src").is_dir())
IMPORT_NAMES = {next(q.name for q in (p / "src").iterdir() if q.is_dir() and q.name.isidentifier()) for p in PACKAGES}


def private_imports(source: str, own: str) -> list[str]:
    """The imports in `source` of a `_private` module or name of a tiers package other than `own`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            targets = [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [(node.module, alias.name) for alias in node.names]
        else:
            continue
        for module, name in targets:
            parts = module.split(".")
            if parts[0] not in IMPORT_NAMES or parts[0] == own:
                continue
            private = [p for p in parts[1:] if p.startswith("_") and not p.startswith("__")]
            if private or (name is not None and name.startswith("_") and not name.startswith("__")):
                found.append(f"line {node.lineno}: {module}" + (f" import {name}" if name else ""))
    return found


def _files(pkg: Path) -> list[Path]:
    return sorted([*(pkg / "src").rglob("*.py"), *(pkg / "tests").rglob("*.py")])


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_no_package_imports_another_packages_private_names(pkg):
    own = next(q.name for q in (pkg / "src").iterdir() if q.is_dir() and q.name.isidentifier())
    bad = {str(f.relative_to(ROOT)): private_imports(f.read_text(), own) for f in _files(pkg)}
    bad = {f: lines for f, lines in bad.items() if lines}
    assert not bad, f"imports of another package's private module or name: {bad}"


def test_the_check_catches_private_modules_and_names():
    src = "from datablock._items import check_splits\nfrom datablock import _plain\nimport gpu_augment._x\n"
    assert len(private_imports(src, own="apps_vision")) == 3
    assert private_imports(src, own="datablock") == ["line 3: gpu_augment._x"]  # its own privates are its own
    assert private_imports("from datablock import DataBlock\nfrom os import _exit\n", own="apps_vision") == []
