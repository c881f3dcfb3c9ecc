"""The entry modules: each re-exports its packages' public names, and no name is bound to two objects."""

import importlib
import sys
import types

import pytest

from tiers import entries
from tiers.entries import ENTRY_PACKAGES, PREFERRED, NameClashError, clashes, entry_names

ENTRIES = [*ENTRY_PACKAGES, "all"]
REGENERATE = "out of date: run `python tools/gen_entry_modules.py`"


@pytest.mark.parametrize("entry", ENTRIES)
def test_entry_module_re_exports_its_packages_public_names(entry):
    mod = importlib.import_module(f"tiers.{entry}")
    expected = entry_names(entry)
    assert len(mod.__all__) == len(set(mod.__all__)), f"tiers.{entry}.__all__ lists a name twice"
    assert set(mod.__all__) == set(expected), f"tiers.{entry} {REGENERATE}"
    for name, pkg in expected.items():
        assert getattr(mod, name) is getattr(importlib.import_module(pkg), name), f"tiers.{entry}.{name} {REGENERATE}"
    # every public name of every package the entry stands on is there, unless another package's object won
    packages = ENTRY_PACKAGES.get(entry) or tuple({p for ps in ENTRY_PACKAGES.values() for p in ps})
    for pkg in packages:
        for name in importlib.import_module(pkg).__all__:
            if name not in entries.EXCLUDED_NAMES and name not in PREFERRED:
                assert name in mod.__all__, f"tiers.{entry} lacks {pkg}.{name}: {REGENERATE}"


def test_no_name_is_bound_to_two_objects_across_the_entry_modules():
    """The clash test: over every entry module, one object per name (e.g. one `Normalize`, one `Resize`)."""
    bound: dict[str, set[int]] = {}
    where: dict[str, list[str]] = {}
    for entry in ENTRIES:
        ns: dict = {}
        exec(f"from tiers.{entry} import *", ns)
        ns.pop("__builtins__")
        assert set(ns) == set(importlib.import_module(f"tiers.{entry}").__all__)
        for name, obj in ns.items():
            bound.setdefault(name, set()).add(id(obj))
            where.setdefault(name, []).append(f"tiers.{entry}")
    twice = {n: where[n] for n, ids in bound.items() if len(ids) > 1}
    assert not twice, f"names bound to different objects: {twice}"
    # tiers.all is the union of the four
    assert set(importlib.import_module("tiers.all").__all__) == set().union(
        *(importlib.import_module(f"tiers.{e}").__all__ for e in ENTRY_PACKAGES)
    )


def test_every_clash_between_packages_is_resolved_to_the_preferred_package():
    every = tuple(dict.fromkeys(p for ps in ENTRY_PACKAGES.values() for p in ps))
    import tiers.all

    for name, owners in clashes(every).items():
        assert name in PREFERRED, f"{name} is exported as different objects by {owners}"
        assert getattr(tiers.all, name) is getattr(importlib.import_module(PREFERRED[name]), name)


def test_star_import_gives_what_a_vision_user_needs():
    ns: dict = {}
    exec("from tiers.vision import *", ns)
    import apps_vision
    import datablock
    import gpu_augment
    import pluggable_optim
    import trainloop_callbacks
    import trainloop_callbacks.metrics

    assert ns["accuracy"] is trainloop_callbacks.metrics.accuracy and ns["Learner"] is trainloop_callbacks.Learner
    assert ns["DataBlock"] is datablock.DataBlock and ns["Normalize"] is datablock.Normalize
    assert ns["aug_transforms"] is gpu_augment.aug_transforms and ns["Adam"] is pluggable_optim.Adam
    assert ns["image_extensions"] is apps_vision.image_extensions
    assert ns["Resize"] is apps_vision.Resize  # the item-level Resize, as in fastai's item_tfms=Resize(224)
    assert ns["vision_learner"] is apps_vision.vision_learner and ns["unet_learner"] is apps_vision.unet_learner


@pytest.fixture
def fake_packages(monkeypatch):
    """Two packages that both export `X`, as different objects, and `Y`, as one object."""
    y = object()
    for name, x in (("fake_low", object()), ("fake_high", object())):
        mod = types.ModuleType(name)
        mod.X, mod.Y, mod.__all__ = x, y, ["X", "Y", "__version__"]
        monkeypatch.setitem(sys.modules, name, mod)
    monkeypatch.setattr(
        entries, "ENTRY_PACKAGES", {"both": ("fake_low", "fake_high"), "low": ("fake_low",), "empty": ()}
    )
    monkeypatch.setattr(entries, "PREFERRED", {})


def test_an_unchosen_clash_names_the_name_and_packages(fake_packages):
    assert clashes(("fake_low", "fake_high")) == {"X": ["fake_low", "fake_high"]}
    with pytest.raises(NameClashError, match=r"'X' from fake_low, fake_high.*PREFERRED"):
        entry_names("both")


def test_the_preferred_package_wins_everywhere(fake_packages, monkeypatch):
    monkeypatch.setattr(entries, "PREFERRED", {"X": "fake_high"})
    assert entry_names("both") == {"X": "fake_high", "Y": "fake_low"}  # Y from its lowest home
    assert entry_names("low") == {"Y": "fake_low"}  # no X at all rather than the other X
    assert entry_names("all") == {"X": "fake_high", "Y": "fake_low"}
    with pytest.raises(KeyError, match="no entry module 'nope'"):
        entry_names("nope")
