"""Fixtures shared by datablock's tests."""

import importlib
import sys

import pytest


@pytest.fixture
def install_module(tmp_path, monkeypatch):
    """`install_module(name, source)`: `source` as an installed distribution `name` (a module and its dist-info
    in a folder on the path), so a config naming its marked steps can be loaded back (`allow=(name,)`)."""

    def install(name: str, source: str):
        site = tmp_path / "site"
        site.mkdir(exist_ok=True)
        (site / f"{name}.py").write_text(source)
        info = site / f"{name}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
        (info / "top_level.txt").write_text(name + "\n")
        monkeypatch.syspath_prepend(str(site))
        monkeypatch.delitem(sys.modules, name, raising=False)
        importlib.invalidate_caches()
        return importlib.import_module(name)

    return install
