import re
from importlib import metadata

import pytest

from tiers import LAYERS, ComponentVersionError, check_components, components, versions
from tiers.cli import main


def test_every_component_is_pinned_and_matches():
    comps = components()
    assert [c.name for c in comps] == list(LAYERS)
    for c in comps:
        assert c.pinned == metadata.version(c.name), c


def test_mismatch_names_component_and_fix(monkeypatch):
    real = metadata.version

    def fake_version(name):
        return "9.9.9" if name == "datablock" else real(name)

    monkeypatch.setattr(versions.metadata, "version", fake_version)
    pinned = re.escape(real("datablock"))  # what is installed is what tiers pins (the check passes before)
    with pytest.raises(ComponentVersionError, match=rf"datablock: tiers pins =={pinned}, installed 9\.9\.9"):
        check_components()
    monkeypatch.setenv("TIERS_SKIP_VERSION_CHECK", "1")
    assert not all(c.ok for c in check_components())


def test_cli_info_lists_layers(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    assert "pluggable-optim" in out and "apps-vision" in out and "mismatch" not in out


def test_meta_package_installs_the_progress_extras():
    """tiers asks for datablock and trainloop-callbacks with their `progress` extra: fastprogress bars."""
    import importlib.util

    reqs = [r.replace(" ", "") for r in metadata.requires("tiers") or []]
    for name in ("datablock", "trainloop-callbacks"):
        assert any(r.startswith(f"{name}[progress]==") for r in reqs), reqs
    assert importlib.util.find_spec("fastprogress") is not None
    by_name = {c.name: c for c in components()}
    assert by_name["datablock"].pinned == metadata.version("datablock")  # the pin is read through the extra
