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


def _pyproject(repo, folder):
    return (repo / "packages" / folder / "pyproject.toml").read_text()


def _version(repo, folder, module):
    text = (repo / "packages" / folder / "src" / module / "__about__.py").read_text()
    return text.split('__version__ = "')[1].split('"')[0]


def test_bump_updates_about_dependents_meta_and_changelog(repo):
    # the distribution tiers-typedtensor lives in packages/typedtensor and imports as typedtensor
    about = repo / "packages/typedtensor/src/typedtensor/__about__.py"
    old, dt_version = about.read_text(), _version(repo, "dispatch-transforms", "dispatch_transforms")
    new = bump.next_version(_version(repo, "typedtensor", "typedtensor"), "minor")
    others = {f: _pyproject(repo, f) for f in ("dispatch-transforms", "trainloop-callbacks", "apps-tabular")}
    assert bump.bump(repo, "tiers-typedtensor", "minor", today=dt.date(2026, 1, 2)) == new
    assert f'__version__ = "{new}"' in about.read_text()
    assert old != about.read_text()
    for dependent in ("datablock", "gpu-augment", "apps-vision", "apps-text"):
        assert f'"tiers-typedtensor~={new}"' in _pyproject(repo, dependent)
    assert f'"tiers-typedtensor=={new}"' in _pyproject(repo, "tiers")
    assert f'"dispatch-transforms=={dt_version}"' in _pyproject(repo, "tiers")  # only the bumped pin moves
    assert "typedtensor" not in _pyproject(repo, "pluggable-optim")
    assert all(_pyproject(repo, f) == text for f, text in others.items())
    log = (repo / "packages/typedtensor/CHANGELOG.md").read_text()
    assert log.index("## Unreleased") < log.index(f"## {new} (2026-01-02)")
    assert log.count("## Unreleased") == 1


def test_bump_moves_pins_that_carry_extras(repo):
    meta = repo / "packages/tiers/pyproject.toml"
    current = _version(repo, "datablock", "datablock")
    pin = f'"datablock[progress]=={current}"'
    assert pin in meta.read_text()
    meta.write_text(meta.read_text().replace(pin, f'"datablock[progress] == {current}"'))
    new = bump.next_version(current, "patch")
    assert bump.bump(repo, "datablock", "patch", today=dt.date(2026, 1, 2)) == new
    assert f'"datablock[progress]=={new}"' in meta.read_text()
    for dependent in ("apps-vision", "apps-text", "apps-tabular"):
        assert f'"datablock~={new}"' in _pyproject(repo, dependent)


def test_bump_unknown_package(repo):
    with pytest.raises(ValueError, match="no package 'nope'"):
        bump.bump(repo, "nope", "patch")


def test_bump_by_folder_name_points_to_the_distribution(repo):
    with pytest.raises(ValueError, match="packages/typedtensor holds the distribution 'tiers-typedtensor'"):
        bump.bump(repo, "typedtensor", "patch")
