"""The README's python examples run (the plain-torch loop with a scheduler, AdamW and LAMB as compositions)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_the_examples():
    text = "\n".join(BLOCKS)
    assert len(BLOCKS) >= 3 and "OneCycleLR" in text and "lamb_step" in text and "adam_step" in text


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[i], f"README.md block {i}", "exec"), {"__name__": "readme"})
