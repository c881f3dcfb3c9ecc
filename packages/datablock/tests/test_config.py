import importlib
import json
import sys
from pathlib import Path

import pandas as pd
import pytest

from datablock import ColReader, ConfigError, SafeResolver, parent_label
from datablock.config import pipeline_from_config, pipeline_to_config, step_from_config, step_to_config
from dispatch_transforms import ItemTransform, Pipeline, Transform

USER_MODULE = """
from datablock import config_safe
from dispatch_transforms import Transform


@config_safe
def double(x):
    return x * 2


@config_safe
def halve(x):
    return x // 2


@config_safe
def swap(t):
    return (t[1], t[0])


def unmarked(x):
    return x


class Scale(Transform):
    config_safe = True

    def __init__(self, k=1):
        super().__init__()
        self.k = k

    def encodes(self, x: int):
        return x * self.k
"""

CANARY_MODULE = """
from pathlib import Path
Path({canary!r}).write_text("ran")


class Evil:
    config_safe = True

    def __init__(self, *args, **kwargs):
        Path({canary!r}).write_text("built")

    def __call__(self, x):
        return x
"""


def install_module(root: Path, name: str, source: str, monkeypatch) -> Path:
    """`name` as an installed distribution: its module and a dist-info in a folder on the path (a site dir)."""
    site = root / "site"
    site.mkdir(exist_ok=True)
    (site / f"{name}.py").write_text(source)
    info = site / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "top_level.txt").write_text(name + "\n")
    (info / "RECORD").write_text(f"{name}.py,,\n{info.name}/METADATA,,\n")
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.delitem(sys.modules, name, raising=False)
    importlib.invalidate_caches()
    return site


@pytest.fixture
def user_mod(tmp_path, monkeypatch):
    install_module(tmp_path, "tiers_test_user_steps", USER_MODULE, monkeypatch)
    mod = importlib.import_module("tiers_test_user_steps")
    yield mod
    sys.modules.pop("tiers_test_user_steps", None)


def _json(o):
    return json.loads(json.dumps(o))


def _allowed(mod):
    return SafeResolver(allow=(mod.__name__,))


def test_plain_function_transform_is_written_as_its_function(user_mod):
    step = step_to_config(Transform(user_mod.double))
    assert step == {"function": "tiers_test_user_steps:double"}
    assert step_from_config(_json(step), _allowed(user_mod)) is user_mod.double


def test_enc_dec_transform_round_trips_with_its_decode(user_mod):
    again = step_from_config(
        _json(step_to_config(Transform(enc=user_mod.double, dec=user_mod.halve))), _allowed(user_mod)
    )
    assert type(again) is Transform and again.enc is user_mod.double and again.dec is user_mod.halve
    assert again((3, 5)) == (6, 10)  # maps over tuples like the original
    assert again.decode(again(7)) == 7


def test_item_transform_keeps_receiving_whole_tuples_after_a_round_trip(user_mod):
    cfg = _json(pipeline_to_config(Pipeline([ItemTransform(enc=user_mod.swap)])))
    again = pipeline_from_config(cfg, resolver=_allowed(user_mod))
    assert type(again.fs[0]) is ItemTransform
    assert again((1, 2)) == (2, 1)


def test_a_library_function_step_round_trips_without_allow():
    assert step_from_config(_json(step_to_config(parent_label))) is parent_label


def test_colreader_with_a_path_prefix_round_trips_as_a_folder_join():
    reader = ColReader("name", pref=Path("images"), suff=".png")
    again = step_from_config(_json(step_to_config(reader)))
    row = pd.Series({"name": "cat"})
    assert isinstance(again.pref, Path)
    assert again(row) == reader(row) == Path("images") / "cat.png"


def test_colreader_with_a_string_prefix_stays_a_string_join():
    again = step_from_config(_json(step_to_config(ColReader(0, pref="img_", label_delim=None))))
    assert again(pd.Series(["7"])) == "img_7"


def test_unmarked_steps_are_refused_when_written(user_mod):
    with pytest.raises(TypeError, match=r"not marked safe.*config_safe"):
        step_to_config(user_mod.unmarked)

    class Local(Transform):
        pass

    with pytest.raises(TypeError, match="local class"):
        step_to_config(Local())


def test_nested_transforms_round_trip(user_mod):
    """A transform holding transforms and functions as arguments (as gpu-augment's `AffineCoordTfm(tfms=[...])`
    does: its round trip is in tests-integration/test_export_predict.py, datablock does not depend on it)."""
    holder = user_mod.Scale(k=[user_mod.double, user_mod.Scale(k=3)])
    back = step_from_config(_json(step_to_config(holder)), _allowed(user_mod))
    assert back.k[0] is user_mod.double and type(back.k[1]) is user_mod.Scale and back.k[1].k == 3


# --- a crafted config runs nothing -------------------------------------------------------------------------
CRAFTED = [
    ({"function": "builtins:eval"}, "not in the allow-list"),
    ({"function": "os:system"}, "not in the allow-list"),
    ({"function": "subprocess:getoutput"}, "not in the allow-list"),
    ({"function": "datablock.getters:os.getcwd"}, "never followed through a module's attributes"),
    ({"type": "datablock.parallel:ProcessPoolExecutor", "args": {}}, "not an object defined under that name"),
    ({"function": "datablock.getters:get_files"}, "not marked"),
    ({"function": "datablock.datablock:DataBlock"}, "not a module-level function"),
    ({"type": "dispatch_transforms.transform:Transform", "args": {}}, "not marked"),
]


@pytest.mark.parametrize(("step", "why"), CRAFTED, ids=[str(s) for s, _ in CRAFTED])
def test_crafted_steps_are_refused(step, why):
    with pytest.raises(ConfigError, match=why) as e:
        step_from_config(step)
    assert "allow=" in str(e.value)  # the error says how to allow what one trusts


def test_a_marked_class_outside_the_allow_list_is_refused_before_import(tmp_path, monkeypatch):
    canary = tmp_path / "canary.txt"
    install_module(tmp_path, "tiers_test_evil", CANARY_MODULE.format(canary=str(canary)), monkeypatch)
    with pytest.raises(ConfigError, match="not in the allow-list"):
        step_from_config({"type": "tiers_test_evil:Evil", "args": {}})
    assert not canary.exists() and "tiers_test_evil" not in sys.modules


def test_a_module_beside_the_file_is_never_imported(tmp_path, monkeypatch):
    """Planted next to the loaded file (and on the path, as the working directory is): refused even when allowed."""
    canary = tmp_path / "canary.txt"
    (tmp_path / "beside_mod.py").write_text(CANARY_MODULE.format(canary=str(canary)))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "beside_mod", raising=False)
    for resolver in (SafeResolver(), SafeResolver(allow=("beside_mod",), near=tmp_path)):
        with pytest.raises(ConfigError):
            step_from_config({"type": "beside_mod:Evil", "args": {}}, resolver)
    monkeypatch.chdir(tmp_path)  # the working directory, even with a dist-info claiming it
    with pytest.raises(ConfigError, match="not where an installed distribution provides it"):
        step_from_config({"type": "beside_mod:Evil", "args": {}}, SafeResolver(allow=("beside_mod",)))
    assert not canary.exists() and "beside_mod" not in sys.modules


def test_a_planted_copy_of_an_allowed_package_in_the_working_directory_is_refused(tmp_path, monkeypatch):
    canary = tmp_path / "canary.txt"
    pkg = tmp_path / "apps_text"  # a tiers name, shadowed from the working directory
    pkg.mkdir()
    (pkg / "__init__.py").write_text(CANARY_MODULE.format(canary=str(canary)))
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "apps_text", raising=False)
    importlib.invalidate_caches()
    with pytest.raises(ConfigError, match="not where an installed distribution provides it"):
        step_from_config({"type": "apps_text:Evil", "args": {}})
    assert not canary.exists()


def test_an_allowed_but_uninstalled_name_is_refused(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="no installed package provides 'ghost_pkg_xyz'"):
        step_from_config({"function": "ghost_pkg_xyz:f"}, SafeResolver(allow=("ghost_pkg_xyz",)))
    canary = tmp_path / "canary.txt"
    elsewhere = tmp_path / "src"
    elsewhere.mkdir()
    (elsewhere / "ghost_pkg_xyz.py").write_text(CANARY_MODULE.format(canary=str(canary)))
    monkeypatch.syspath_prepend(str(elsewhere))  # importable, but no distribution provides it
    importlib.invalidate_caches()
    with pytest.raises(ConfigError, match="not where an installed distribution provides it"):
        step_from_config({"type": "ghost_pkg_xyz:Evil"}, SafeResolver(allow=("ghost_pkg_xyz",)))
    assert not canary.exists() and "ghost_pkg_xyz" not in sys.modules


def test_names_that_are_not_dotted_identifiers_are_refused():
    for bad in ("datablock.getters:<lambda>", "datablock.getters", "os.path:join;x", 3):
        with pytest.raises(ConfigError):
            step_from_config({"function": bad})


def test_allow_entries_must_be_module_names():
    with pytest.raises(ValueError, match="module names"):
        SafeResolver(allow=("os; rm -rf",))
