"""Text data that ships with every Python: the docstrings of the standard library, as a labelled corpus.

Nothing is downloaded and nothing is imported: the sources of a few standard-library packages are parsed with
`ast` (read as data) and each docstring of a module, class or function with at least `min_words` words becomes a
document labelled by its package (`asyncio` or `email`: real text, labelled by its source). The corpus is
written once under `tiers_home()/data/` (`$TIERS_HOME`), never into site-packages.

`stdlib_text` is the larger unlabelled corpus for a language model (ULMFiT's general-domain stage): the docstrings
of every standard-library module plus the topics of the Python reference that CPython ships as
`pydoc_data.topics` (read with `ast.literal_eval`, never imported), about 2 MB of English text.
"""

from __future__ import annotations

import ast
import csv
import hashlib
import sysconfig
from pathlib import Path

from datablock import tiers_home, write_folder_once

__all__ = ["stdlib_docstrings", "stdlib_corpus", "stdlib_text", "stdlib_text_corpus", "STDLIB_LABELS"]

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


_SKIP_DIRS = frozenset({"test", "tests", "idle_test", "site-packages", "dist-packages", "__pycache__"})


def stdlib_docstrings(package: str, min_words: int = 12) -> list[tuple[str, str]]:
    """`(name, docstring)` of every module, class and function of standard-library `package` with at least
    `min_words` words, in a stable order (files sorted, then source order); test folders (`test`, `tests`,
    `idle_test`) are left out. Sources are parsed, never imported."""
    root = Path(sysconfig.get_paths()["stdlib"]) / package
    files = sorted(root.rglob("*.py")) if root.is_dir() else [root.with_suffix(".py")]
    files = [f for f in files if f.exists() and not _SKIP_DIRS.intersection(f.relative_to(root.parent).parts[1:-1])]
    if not files:
        raise FileNotFoundError(f"stdlib_docstrings: no sources for the standard-library package {package!r}")
    docs = []
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        rel = f.relative_to(root.parent).with_suffix("").as_posix().replace("/", ".")
        docs += [(f"{rel}.{n}", d) for n, d in _doc_nodes(tree) if len(d.split()) >= min_words]
    return docs


def _pydoc_topics(stdlib: Path) -> list[tuple[str, str]]:
    """`(topic, text)` of the Python reference's topics in `pydoc_data/topics.py` (a dict literal, read as data)."""
    f = stdlib / "pydoc_data" / "topics.py"
    if not f.is_file():
        return []
    for node in ast.parse(f.read_text(encoding="utf-8"), filename=str(f)).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "topics" for t in node.targets):
            topics = ast.literal_eval(node.value)
            if not isinstance(topics, dict):
                raise ValueError(f"stdlib_text: {f} holds no dict of topics")
            return [(f"pydoc_data.topics.{k}", str(v)) for k, v in sorted(topics.items())]
    return []


def stdlib_text(
    exclude: tuple[str, ...] = STDLIB_LABELS,
    min_words: int = 12,
    include: tuple[str, ...] | None = None,
    topics: bool = True,
) -> list[tuple[str, str]]:
    """`(name, text)` of an unlabelled English corpus that ships with CPython, for pretraining a language model:
    every docstring of at least `min_words` words of every standard-library module (tests and site-packages
    left out; a file that does not parse is skipped), then each topic of the Python reference (`pydoc_data`).

    `exclude` names top-level packages/modules to leave out (by default the labelled corpus' packages, so that
    the general-domain stage never sees the target texts; ULMFiT's second stage fine-tunes on those); `include`, when
    given, keeps only those top-level names; `topics=False` leaves out the reference's topics. Sources are parsed,
    never imported (the whole library takes about 14 s of CPU); the order is stable (files sorted, then source
    order)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    docs: list[tuple[str, str]] = []
    for f in sorted(stdlib.rglob("*.py")):
        rel = f.relative_to(stdlib)
        top = rel.parts[0].removesuffix(".py")
        if top in exclude or (include is not None and top not in include) or _SKIP_DIRS.intersection(rel.parts[:-1]):
            continue
        try:
            tree = ast.parse(f.read_text(encoding="utf-8"), filename=str(f))
        except (SyntaxError, UnicodeDecodeError, ValueError):  # e.g. lib2to3's Python 2 fixtures
            continue
        name = rel.with_suffix("").as_posix().replace("/", ".")
        docs += [(f"{name}.{n}", d) for n, d in _doc_nodes(tree) if len(d.split()) >= min_words]
    if topics:
        docs += _pydoc_topics(stdlib)
    if not docs:
        raise FileNotFoundError(f"stdlib_text: no docstrings found under the standard library at {stdlib}")
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

    def fill(tmp: Path) -> None:
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

    return write_folder_once(out, fill, marker="texts.csv")


def stdlib_text_corpus(
    dest: str | Path | None = None, exclude: tuple[str, ...] = STDLIB_LABELS, valid_pct: float = 0.05
) -> Path:
    """`stdlib_text(exclude)` written once (atomically) as `texts.csv` (`text`, `name`, `is_valid`: about
    `valid_pct` of the texts, chosen by a hash of the name) under `dest` (default `tiers_home()/data/stdlib_text`),
    for `TextDataLoaders.from_df(..., is_lm=True, valid_col="is_valid")`. Returns the folder."""
    out = Path(dest) if dest is not None else tiers_home() / "data" / "stdlib_text"

    def fill(tmp: Path) -> None:
        seen: set[str] = set()
        with open(tmp / "texts.csv", "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(["text", "name", "is_valid"])
            for name, text in stdlib_text(exclude):
                if text not in seen:
                    seen.add(text)
                    w.writerow([text, name, _is_valid(name, valid_pct)])

    return write_folder_once(out, fill, marker="texts.csv")
