"""load_learner resolves every name of an export file through the allow-list: crafted files run nothing."""

import importlib
import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainloop_callbacks import CrossEntropyLossFlat, ExportError, Learner, load_learner
from trainloop_callbacks.inference.export import _LAYER_ARGS, build_module, describe_module
from trainloop_callbacks.inference.resolver import TORCH_LAYERS, SafeResolver

CANARY_MODULE = """
from pathlib import Path
Path({canary!r}).write_text("imported")


class Evil:
    config_safe = True

    def __init__(self, *args, **kwargs):
        Path({canary!r}).write_text("built")
"""

LEARNER_MODULE = '''
from trainloop_callbacks import Learner


class MyLearner(Learner):
    """An app's learner with an extra method."""

    def greet(self):
        return "hello"
'''


def install_module(root: Path, name: str, source: str, monkeypatch) -> None:
    """`name` as an installed distribution: its module and a dist-info in a folder on the path (a site dir)."""
    site = root / "site"
    site.mkdir(exist_ok=True)
    (site / f"{name}.py").write_text(source)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "top_level.txt").write_text(name + "\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.invalidate_caches()


def _dls():
    x, y = torch.randn(32, 4), torch.arange(32) % 3
    return DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x, y), batch_size=8)


def _model():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _crafted(tmp_path, **parts):
    """An export file written the way `export` writes one, with some parts replaced."""
    learn = Learner(_dls(), _model(), CrossEntropyLossFlat(), path=tmp_path)
    file = learn.export("good.pth")
    state = torch.load(file, weights_only=True)
    state.update(parts)
    out = tmp_path / "crafted.pth"
    torch.save(state, out)
    return out


REFUSED = [
    ("builtins:eval", "not in the allow-list"),
    ("os:system", "not in the allow-list"),
    ("subprocess:getoutput", "not in the allow-list"),
    ("os.system", "not in the allow-list"),  # the dotted form of version 1 files
    ("trainloop_callbacks.inference.export:torch.load", "never followed through a module's attributes"),
    ("trainloop_callbacks.inference.export:Path", "never followed through a module's attributes"),
    ("trainloop_callbacks.loading:load_learner", "not a class"),
    ("trainloop_callbacks.inference.resolver:ExportError", "not marked"),
    ("trainloop_callbacks.loop.callback:Callback", "not marked"),
    ("torch.nn:Module", "not in the allow-list"),  # torch.nn layers only by the registry
    ("torch.nn.parallel:DistributedDataParallel", "not in the allow-list"),
]


@pytest.mark.parametrize(("name", "why"), REFUSED, ids=[n for n, _ in REFUSED])
@pytest.mark.parametrize("part", ["model", "loss_func", "learner"])
def test_crafted_names_are_refused(tmp_path, name, why, part):
    desc = name if part == "learner" else {"type": name, "kwargs": {"command": "touch pwned"}}
    with pytest.raises(ExportError, match=why) as e:
        load_learner(_crafted(tmp_path, **{part: desc}))
    assert "allow=" in str(e.value)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_a_marked_class_outside_the_list_is_refused_before_import(tmp_path, monkeypatch):
    canary = tmp_path / "canary.txt"
    install_module(tmp_path, "tiers_test_evil_tl", CANARY_MODULE.format(canary=str(canary)), monkeypatch)
    with pytest.raises(ExportError, match="not in the allow-list"):
        load_learner(_crafted(tmp_path, model={"type": "tiers_test_evil_tl:Evil", "kwargs": {}}))
    assert not canary.exists() and "tiers_test_evil_tl" not in sys.modules


def test_a_module_beside_the_file_is_never_imported(tmp_path, monkeypatch):
    canary = tmp_path / "canary.txt"
    (tmp_path / "beside_tl.py").write_text(CANARY_MODULE.format(canary=str(canary)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "beside_tl", raising=False)
    file = _crafted(tmp_path, model={"type": "beside_tl:Evil", "kwargs": {}})
    for allow in ((), ("beside_tl",)):
        with pytest.raises(ExportError):
            load_learner(file, allow=allow)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExportError, match="not where an installed distribution provides it"):
        load_learner(file, allow=("beside_tl",))
    assert not canary.exists() and "beside_tl" not in sys.modules


def test_an_allowed_but_uninstalled_package_is_refused(tmp_path, monkeypatch):
    file = _crafted(tmp_path, model={"type": "ghost_tl_xyz:Net", "kwargs": {}})
    with pytest.raises(ExportError, match="no installed package provides 'ghost_tl_xyz'"):
        load_learner(file, allow=("ghost_tl_xyz",))
    canary = tmp_path / "canary.txt"
    src = tmp_path / "src"
    src.mkdir()
    (src / "ghost_tl_xyz.py").write_text(CANARY_MODULE.format(canary=str(canary)))
    monkeypatch.syspath_prepend(str(src))
    importlib.invalidate_caches()
    with pytest.raises(ExportError, match="not where an installed distribution provides it"):
        load_learner(_crafted(tmp_path, model={"type": "ghost_tl_xyz:Evil", "kwargs": {}}), allow=("ghost_tl_xyz",))
    assert not canary.exists()


def test_build_module_never_builds_an_attribute_of_an_allowed_module():
    with pytest.raises(ExportError, match="never followed"):
        build_module({"type": "trainloop_callbacks.inference.export:Path", "kwargs": {}})


def test_the_torch_registry_is_the_layers_export_describes():
    assert set(TORCH_LAYERS) == {*_LAYER_ARGS, "Sequential"}
    assert SafeResolver().resolve("torch.nn:Linear", kind="class") is nn.Linear


def test_a_learner_subclass_is_rebuilt_through_the_allow_list(tmp_path, monkeypatch):
    install_module(tmp_path, "tiers_test_learners", LEARNER_MODULE, monkeypatch)
    mod = importlib.import_module("tiers_test_learners")
    learn = mod.MyLearner(_dls(), _model(), CrossEntropyLossFlat(), path=tmp_path)
    file = learn.export("sub.pth")
    with pytest.raises(ExportError, match=r"tiers_test_learners:MyLearner.*not in the allow-list"):
        load_learner(file)
    loaded = load_learner(file, allow=("tiers_test_learners",))
    assert type(loaded) is mod.MyLearner and loaded.greet() == "hello"
    x = torch.randn(4)
    assert torch.allclose(loaded.predict(x)[2], learn.predict(x)[2])


def test_cross_entropy_class_weight_survives_export(tmp_path):
    weight = torch.tensor([1.0, 2.0, 0.5])
    learn = Learner(_dls(), _model(), CrossEntropyLossFlat(weight=weight), path=tmp_path)
    loaded = load_learner(learn.export("w.pth"))
    out, targ = torch.randn(6, 3), torch.tensor([0, 1, 2, 2, 1, 0])
    assert torch.equal(loaded.loss_func.func.weight, weight)
    expected = torch.nn.functional.cross_entropy(out, targ, weight=weight)
    assert torch.allclose(loaded.loss_func(out, targ), expected)
    assert describe_module(CrossEntropyLossFlat())["kwargs"].get("weight") is None
