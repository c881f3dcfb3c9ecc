"""The README's python examples run (type retention, layered show, serialization)."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_readme_has_the_promised_examples():
    text = "\n".join(_blocks())
    assert "show(ctx=ctx)" in text and "canvas_size" in text and "typedtensor.load" in text


def test_readme_examples_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for i, code in enumerate(_blocks()):
        exec(compile(code, f"README.md block {i}", "exec"), {"__name__": f"readme_{i}"})
    assert (tmp_path / "layers.png").stat().st_size > 0
