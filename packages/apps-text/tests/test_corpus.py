"""The corpora that ship with Python: the labelled docstrings and the unlabelled text for a language model."""

import ast
import sysconfig
from pathlib import Path

import pandas as pd

from apps_text import STDLIB_LABELS, stdlib_corpus, stdlib_docstrings, stdlib_text


def test_stdlib_text_reads_docstrings_and_the_reference_topics():
    docs = stdlib_text(include=("json", "pydoc_data"))
    names = [n for n, _ in docs]
    # json's docstrings, found independently with ast over its sources
    root = Path(sysconfig.get_paths()["stdlib"]) / "json"
    expected = []
    for f in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(f.read_text(encoding="utf-8"))):
            doc = ast.get_docstring(node) if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) else None
            if doc and len(doc.split()) >= 12:
                expected.append(doc)
    assert sorted(d for n, d in docs if n.startswith("json.")) == sorted(expected)
    topics = [(n, d) for n, d in docs if n.startswith("pydoc_data.topics.")]
    assert len(topics) > 50 and dict(topics)["pydoc_data.topics.if"].startswith('The "if" statement')
    assert sum(len(d) for _, d in topics) > 300_000  # the reference's text: hundreds of KB of English
    assert not any(".tests." in n or ".test." in n for n in names)
    assert stdlib_text(include=("json",), topics=False) == [(n, d) for n, d in docs if n.startswith("json.")]


def test_stdlib_text_leaves_out_the_labelled_packages():
    docs = stdlib_text(include=(*STDLIB_LABELS, "json"), topics=False)
    assert docs and all(n.startswith("json.") for n, _ in docs)  # exclude defaults to the labelled packages
    # the whole corpus (about 14 s of CPU to parse) is built and checked by test_ulmfit_transfer.py (acceptance)


def test_stdlib_corpus_is_written_once_as_folders_and_csv(tmp_path):
    dest = tmp_path / "data" / "corpus"
    assert stdlib_corpus(dest, labels=("json", "html"), valid_pct=0.3) == dest
    df = pd.read_csv(dest / "texts.csv")
    assert set(df["label"]) == {"json", "html"} and df["is_valid"].any() and not df["is_valid"].all()
    on_disk = sorted(f.read_text(encoding="utf-8") for f in dest.glob("*/*/*.txt"))
    assert on_disk == sorted(df["text"])  # the folders hold the texts of the CSV
    for split, valid in (("train", False), ("test", True)):
        texts = {f.read_text(encoding="utf-8") for f in dest.glob(f"{split}/json/*.txt")}
        assert texts == set(df[(df["label"] == "json") & (df["is_valid"] == valid)]["text"])
    assert [p.name for p in dest.parent.iterdir()] == ["corpus"]  # no temporary folder left beside it
    (dest / "texts.csv").write_text("text,label,is_valid\nkept,json,False\n")
    assert stdlib_corpus(dest, labels=("json",)) == dest  # reused as it is, not written again
    assert pd.read_csv(dest / "texts.csv")["text"].tolist() == ["kept"]


def test_stdlib_docstrings_leaves_out_test_folders(tmp_path, monkeypatch):
    # a package with its tests in `idle_test` (idlelib's layout) and `tests`: only the package's own docstrings count
    pkg = tmp_path / "pkg"
    for sub in ("", "idle_test", "tests", "sub"):
        (pkg / sub).mkdir(parents=True, exist_ok=True)
        (pkg / sub / "m.py").write_text(f'"""The docstring of {sub or "the top"} module, long enough to be kept."""\n')
    monkeypatch.setattr(sysconfig, "get_paths", lambda: {"stdlib": str(tmp_path)})
    names = [n for n, _ in stdlib_docstrings("pkg", min_words=3)]
    assert names == ["pkg.m.__module__", "pkg.sub.m.__module__"]
