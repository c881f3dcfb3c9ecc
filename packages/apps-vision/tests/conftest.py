"""Fixtures of the apps-vision tests: small image folders, and a Python where tiers cannot be imported."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def _write(path, value, size=(12, 16)):
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.full((*size, 3), value, np.uint8)
    Image.fromarray(a).save(path)


@pytest.fixture
def folder_data(tmp_path):
    """path/{train,valid}/{cat,dog}/*.png: cats dark, dogs bright; file names start with the label."""
    for split, n in (("train", 6), ("valid", 2)):
        for label, value in (("cat", 30), ("dog", 220)):
            for i in range(n):
                _write(tmp_path / split / label / f"{label}_{split}_{i}.png", value + i)
    return tmp_path


TIERS = [
    "apps_vision", "apps_text", "apps_tabular", "datablock", "trainloop_callbacks", "gpu_augment", "typedtensor",
    "dispatch_transforms", "pluggable_optim", "tiers",
]  # fmt: skip
"""The top-level modules of the tiers packages: what the exported files must run without."""

_BLOCK_TIERS = """
import importlib.abc, json, sys
BLOCKED = set(json.loads(sys.argv[1]))

class NoTiers(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the exported files must run without tiers")
        return None

sys.meta_path.insert(0, NoTiers())
"""

_CHECK_AND_PRINT = """
assert not BLOCKED & {m.split(".")[0] for m in sys.modules}, "a tiers package was imported"
print(json.dumps(out))
"""


def _python_without_tiers(code, *args):
    """`code` run by a fresh interpreter in which importing any of `TIERS` raises ImportError; `code` reads its
    `args` as `sys.argv[2:]`. Returns the finished process (output captured as text)."""
    return subprocess.run(
        [sys.executable, "-c", _BLOCK_TIERS + code, json.dumps(TIERS), *args],
        capture_output=True,
        text=True,
        timeout=600,
    )


def _run_without_tiers(code, *args):
    """`_python_without_tiers`, which must succeed, for `code` that leaves a JSON-able result in `out`; checks that
    no tiers package was imported and returns `out` (read back from the last line of its output)."""
    res = _python_without_tiers(code + _CHECK_AND_PRINT, *args)
    assert res.returncode == 0, res.stderr[-3000:]
    return json.loads(res.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def python_without_tiers():
    """`python_without_tiers(code, *args)`: a `subprocess.CompletedProcess` of `code` run where tiers is blocked."""
    return _python_without_tiers


@pytest.fixture(scope="session")
def run_without_tiers():
    """`run_without_tiers(code, *args) -> out`: `code` run where tiers is blocked (it proves an exported artefact
    needs only torch/onnxruntime); `code` sets `out`, which comes back through JSON."""
    return _run_without_tiers
