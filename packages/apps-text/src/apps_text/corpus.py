"""Text data that ships with every Python: the docstrings of the standard library, as a labelled corpus.

Nothing is downloaded and nothing is imported: the sources of a few standard-library packages are parsed with
`ast` (read as data) and each docstring of a module, class or function with at least `min_words` words becomes a
document labelled by its package (`asyncio` or `email`: real text, labelled by its source). The corpus is
written once under `tiers_home()/data/` (`$TIERS_HOME`), never into site-packages.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import os
import shutil
import sysconfig
import tempfile
from pathlib import Path

from datablock import tiers_home

__all__ = ["stdlib_docstrings", "stdlib_corpus", "STDLIB_LABELS"]

STDLIB_LABELS: tuple[str, ...] = ("asyncio", "email")
"""The standard-library packages whose docstrings form the labelled corpus (the label is the package)."""


def _doc_nodes(tree: ast.AST) -> list[tuple[str, str]]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc:
                out.append((getattr(node, "name", "__module__"), doc))
    return out


def stdlib_docstrings(package: str, min_words: int = 12) -> list[tuple[str, str]]:
    """`(name, docstring)` of every module, class and function of standard-library `package` with at least
    `min_words` words, in a stable order (files sorted, then source order). Sources are parsed, never imported."""
    root = Path(sysconfig.get_paths()["stdlib"]) / package
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]
    files = [f for f in files if f.exists() and "test" not in f.relative_to(root.parent).parts[1:-1]]
    if not files:
        raise FileNotFoundError(f"stdlib_docstrings: no sources for the standard-library package {package!r}")
    docs = []
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        rel = f.relative_to(root.parent).with_suffix("").as_posix().replace("/", ".")
        docs += [(f"{rel}.{n}", d) for n, d in _doc_nodes(tree) if len(d.split()) >= min_words]
    return docs


def _is_valid(name: str, valid_pct: float) -> bool:
    h = int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)
    return h / 0xFFFFFFFF < valid_pct


def stdlib_corpus(
    dest: str | Path | None = None, labels: tuple[str, ...] = STDLIB_LABELS, valid_pct: float = 0.2
) -> Path:
    """The labelled docstring corpus as folders, written once (atomically) and reused:

    `train/<label>/<n>.txt`, `test/<label>/<n>.txt` (about `valid_pct` of each label, chosen by a hash of the
    docstring's qualified name, so the split is stable) and `texts.csv` (`text`, `label`, `is_valid`). Use it
    like your own data: `TextDataLoaders.from_folder(path, valid="test")`, or `from_df` on the CSV.
    """
    out = Path(dest) if dest is not None else tiers_home() / "data" / "stdlib_docs"
    if (out / "texts.csv").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".stdlib_docs-", dir=out.parent))
    try:
        rows: list[tuple[str, str, bool]] = []
        for label in labels:
            seen: set[str] = set()
            for name, doc in stdlib_docstrings(label):
                if doc in seen:  # the same docstring twice (an overload, a re-definition): keep one
                    continue
                seen.add(doc)
                valid = _is_valid(name, valid_pct)
                folder = tmp / ("test" if valid else "train") / label
                folder.mkdir(parents=True, exist_ok=True)
                (folder / f"{len(rows):05d}.txt").write_text(doc, encoding="utf-8")
                rows.append((doc, label, valid))
        with open(tmp / "texts.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "label", "is_valid"])
            w.writerows(rows)
        try:
            os.replace(tmp, out)
        except OSError:  # another process finished first: keep its corpus
            if not (out / "texts.csv").exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return out
