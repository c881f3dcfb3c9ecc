"""tools/bump.py moves one version and every reference to it, on a copy of the repo."""

import datetime as dt
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import bump  # noqa: E402


@pytest.fixture
def repo(tmp_path):
    shutil.copytree(ROOT / "packages", tmp_path / "packages", ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return tmp_path


def test_next_version():
    assert bump.next_version("0.1.0", "patch") == "0.1.1"
    assert bump.next_version("0.1.3", "minor") == "0.2.0"
    assert bump.next_version("0.9.3", "major") == "1.0.0"
    assert bump.next_version("0.1.0", "2.0.0") == "2.0.0"
    with pytest.raises(ValueError, match="major, minor, patch"):
        bump.next_version("0.1.0", "huge")


def test_bump_updates_about_dependents_meta_and_changelog(repo):
    old = (repo / "packages/typedtensor/src/typedtensor/__about__.py").read_text()
    assert bump.bump(repo, "typedtensor", "minor", today=dt.date(2026, 1, 2)) == "0.2.0"
    assert '__version__ = "0.2.0"' in (repo / "packages/typedtensor/src/typedtensor/__about__.py").read_text()
    assert old != (repo / "packages/typedtensor/src/typedtensor/__about__.py").read_text()
    for dependent in ("datablock", "gpu-augment"):
        assert '"typedtensor~=0.2.0"' in (repo / f"packages/{dependent}/pyproject.toml").read_text()
    assert '"typedtensor==0.2.0"' in (repo / "packages/tiers/pyproject.toml").read_text()
    assert "typedtensor" not in (repo / "packages/pluggable-optim/pyproject.toml").read_text()
    log = (repo / "packages/typedtensor/CHANGELOG.md").read_text()
    assert log.index("## Unreleased") < log.index("## 0.2.0 (2026-01-02)")
    assert log.count("## Unreleased") == 1


def test_bump_unknown_package(repo):
    with pytest.raises(ValueError, match="no package 'nope'"):
        bump.bump(repo, "nope", "patch")
