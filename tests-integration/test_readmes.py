"""Every README's ```python examples run as written (package READMEs and the root one)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
READMES = sorted([*ROOT.glob("packages/*/README.md"), ROOT / "README.md"])
BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


@pytest.mark.parametrize("readme", READMES, ids=lambda p: p.parent.name)
def test_readme_examples_run(readme, tmp_path, monkeypatch):
    blocks = BLOCK.findall(readme.read_text())
    if readme.parent != ROOT:
        assert blocks, f"{readme} has no ```python example"
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    monkeypatch.setenv("TIERS_HOME", str(tmp_path / "tiers_home"))  # and data caches too (apps' shipped data)
    namespace: dict = {"__name__": "__readme__"}
    for code in blocks:
        exec(compile(code, str(readme), "exec"), namespace)
