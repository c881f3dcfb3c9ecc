"""Resolving the names an export file mentions (`"module:QualName"`) without letting the file choose code.

The same rules as `datablock.resolver` (trainloop-callbacks cannot import datablock, so it keeps its own
copy; `load_learner(allow=...)` passes its allow-list on to the data's `from_config`). A name resolves only
when all of these hold, checked in this order:

1. it is one of the `torch.nn` layers an export may describe (`TORCH_LAYERS`, e.g. `"torch.nn:Linear"`)
   or one of the `torchvision.models` builders of `TORCHVISION_BUILDERS`: a registry, since those
   packages cannot carry our marker; or
2. its module is inside the allow-list (the tiers packages, `TIERS_PACKAGES`, plus `allow=`), checked on
   the text before anything is imported;
3. its top-level package comes from an installed distribution (a site-packages folder, or a folder an
   installed `.pth` file names, as editable installs do), never from the working directory or the folder
   of the loaded file;
4. the object is defined in that very module under that very name (its own `__module__` and
   `__qualname__`): `datablock.parallel:ProcessPoolExecutor`, an attribute, is refused;
5. it is marked safe to rebuild from data: `config_safe = True` on the class (inherited by subclasses;
   `config_safe = False` opts one out) or on a module-level function.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import site
import sys
import sysconfig
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "TIERS_PACKAGES",
    "TORCH_LAYERS",
    "TORCHVISION_BUILDERS",
    "ExportError",
    "SafeResolver",
    "split_name",
    "is_config_safe",
]

TIERS_PACKAGES: tuple[str, ...] = (
    "typedtensor",
    "dispatch_transforms",
    "pluggable_optim",
    "datablock",
    "trainloop_callbacks",
    "gpu_augment",
    "apps_vision",
    "apps_text",
    "apps_tabular",
    "tiers",
)
"""The import names whose marked classes and functions a config may name without `allow=`."""

TORCH_LAYERS: tuple[str, ...] = (
    "Sequential",
    "Linear",
    "Conv1d",
    "Conv2d",
    "Conv3d",
    "BatchNorm1d",
    "BatchNorm2d",
    "BatchNorm3d",
    "LayerNorm",
    "Embedding",
    "ReLU",
    "LeakyReLU",
    "GELU",
    "SiLU",
    "Sigmoid",
    "Tanh",
    "Identity",
    "Softmax",
    "LogSoftmax",
    "Flatten",
    "Dropout",
    "Dropout2d",
    "MaxPool2d",
    "AvgPool2d",
    "AdaptiveAvgPool2d",
    "AdaptiveMaxPool2d",
    "AdaptiveAvgPool1d",
    "Upsample",
    "CrossEntropyLoss",
    "MSELoss",
    "L1Loss",
    "BCEWithLogitsLoss",
    "NLLLoss",
)
"""The `torch.nn` classes an export may name (`"torch.nn:Linear"`): the layers `describe_module` writes."""

TORCHVISION_BUILDERS: tuple[str, ...] = (
    "resnet18",
    "resnet34",
    "resnet50",
    "resnet101",
    "resnet152",
)
"""The `torchvision.models` builders an export may name (`"torchvision.models:resnet18"`)."""


class ExportError(ValueError):
    """Something in the learner cannot be exported, or an export file names something it may not."""


def is_config_safe(obj: Any) -> bool:
    """Whether `obj` (a class or a function) carries the `config_safe = True` marker."""
    return getattr(obj, "config_safe", False) is True


def _site_dirs() -> list[str]:
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    for key in ("purelib", "platlib"):
        dirs.append(sysconfig.get_paths()[key])
    return list(dict.fromkeys(os.path.realpath(d) for d in dirs if d))


def _pth_dirs() -> list[str]:
    """Folders that installed `.pth` files put on the path (editable installs)."""
    found = []
    for d in _site_dirs():
        for pth in sorted(glob.glob(os.path.join(d, "*.pth"))):
            try:
                lines = Path(pth).read_text(encoding="utf-8").splitlines()
            except OSError:
                continue
            for line in lines:
                line = line.strip()
                if line and not line.startswith(("#", "import ", "import\t")):
                    found.append(os.path.realpath(os.path.join(d, line)))
    return found


def _dist_info_provides(root: str, top: str) -> bool:
    """Whether a distribution's metadata in `root` (a site dir) lists the top-level name `top`."""
    infos = glob.glob(os.path.join(glob.escape(root), "*.dist-info")) + glob.glob(
        os.path.join(glob.escape(root), "*.egg-info")
    )
    key = top.lower().replace("_", "-")
    infos.sort(key=lambda d: not os.path.basename(d).lower().replace("_", "-").startswith(key))  # likely first
    for info in infos:
        top_level = os.path.join(info, "top_level.txt")
        if os.path.isfile(top_level):
            with open(top_level, encoding="utf-8") as f:
                if top in (line.strip() for line in f):
                    return True
            continue
        record = os.path.join(info, "RECORD")
        if os.path.isfile(record):
            with open(record, encoding="utf-8") as f:
                if any(line.startswith((f"{top}/", f"{top}.py,")) for line in f):
                    return True
    return False


def _check_identifiers(text: str, what: str, path: str) -> None:
    if not text or not all(part.isidentifier() for part in text.split(".")):
        raise ExportError(
            f"{path!r}: the {what} {text!r} is not a dotted name (lambdas and local functions cannot be named in "
            "a config; define them at module level)"
        )


def split_name(path: str) -> tuple[str, str]:
    """`"module:QualName"` → (module, qualname), both checked to be dotted identifiers."""
    if not isinstance(path, str):
        raise ExportError(f"expected a name 'module:QualName', got {type(path).__name__} {path!r:.80}")
    module, sep, qual = path.partition(":")
    if not sep:
        raise ExportError(f"{path!r} is not a name of the form 'module:QualName'")
    _check_identifiers(module, "module", path)
    _check_identifiers(qual, "name", path)
    return module, qual


def _registered(module: str, qual: str) -> Any:
    """A registry entry (`torch.nn` layer, `torchvision.models` builder) named by `module:qual`, else None."""
    if module == "torch.nn" and qual in TORCH_LAYERS:
        import torch.nn

        return getattr(torch.nn, qual)
    if module == "torchvision.models" and qual in TORCHVISION_BUILDERS:
        models = importlib.import_module("torchvision.models")  # an installed dependency of the caller's apps
        return getattr(models, qual)
    return None


class SafeResolver:
    """Resolves `"module:QualName"` names under the rules of this module's docstring.

    `allow`: more modules (or packages) whose marked objects may be named; `near`: the folder of the
    file being loaded, never a source of modules (neither is the working directory).
    """

    def __init__(self, allow: Sequence[str] = (), near: str | os.PathLike[str] | None = None) -> None:
        if isinstance(allow, str):
            allow = (allow,)
        for a in allow:
            if not isinstance(a, str) or not all(p.isidentifier() for p in a.split(".")):
                raise ValueError(f"allow: expected module names such as 'my_package', got {a!r}")
        self.allow = tuple(allow)
        self.allowed = (*TIERS_PACKAGES, *self.allow)
        self.near = None if near is None else os.path.realpath(near)
        self._checked: dict[str, None] = {}

    def in_allow_list(self, module: str) -> bool:
        """Whether `module` is one of the allowed packages or inside one."""
        return any(module == a or module.startswith(a + ".") for a in self.allowed)

    def _refuse(self, path: str, why: str) -> ExportError:
        return ExportError(
            f"refusing {path!r}: {why}. A config may name only classes and functions marked `config_safe = True` "
            f"in installed modules of the allow-list {list(self.allowed)}; if you trust the code it names, install "
            "its package, mark the object, and pass allow=('its_package',)"
        )

    def _forbidden_dirs(self) -> set[str]:
        dirs = {os.path.realpath(os.getcwd())}
        if self.near is not None:
            dirs.add(self.near)
        return dirs

    def _installed_root(self, root: str, top: str) -> bool:
        """Whether folder `root` is where an installed distribution provides the top-level name `top`."""
        if root in self._forbidden_dirs():
            return False
        here = os.path.isdir(os.path.join(root, top)) or os.path.isfile(os.path.join(root, top + ".py"))
        if not here:
            return False
        if root in _pth_dirs():
            return True  # an editable install: an installed .pth file puts this folder on the path
        return _dist_info_provides(root, top)

    def check_installed(self, path: str, module: str) -> None:
        """Refuse `module` unless its top-level package is the one an installed distribution provides."""
        top = module.split(".")[0]
        if top in self._checked:
            return
        loaded = sys.modules.get(top)
        try:
            spec = loaded.__spec__ if loaded is not None else importlib.util.find_spec(top)
        except (ImportError, ValueError):
            spec = None
        if spec is None:
            raise self._refuse(path, f"no installed package provides {top!r}")
        if spec.submodule_search_locations:
            places = [os.path.dirname(os.path.realpath(p)) for p in spec.submodule_search_locations]
        elif spec.origin and os.path.isabs(spec.origin):
            places = [os.path.dirname(os.path.realpath(spec.origin))]
        else:
            places = []
        if not places or not all(self._installed_root(p, top) for p in places):
            where = ", ".join(places) or str(spec.origin)
            raise self._refuse(
                path,
                f"{top!r} would be imported from {where}, which is not where an installed distribution provides it "
                "(modules in the working directory or beside the loaded file are never imported)",
            )
        self._checked[top] = None

    def resolve(self, path: str, kind: str = "step") -> Any:
        """The object named `path`; `kind` is "class", "function" or "step" (either)."""
        module, qual = split_name(path)
        registered = _registered(module, qual)
        if registered is not None:
            return registered
        if not self.in_allow_list(module):
            raise self._refuse(path, f"module {module!r} is not in the allow-list")
        self.check_installed(path, module)
        try:
            obj: Any = importlib.import_module(module)
        except ImportError as e:
            raise self._refuse(path, f"module {module!r} cannot be imported ({e})") from None
        for part in qual.split("."):
            obj = vars(obj).get(part) if hasattr(obj, "__dict__") else None
            if obj is None:
                raise self._refuse(path, f"{module!r} defines no {qual!r}")
        if getattr(obj, "__module__", None) != module or getattr(obj, "__qualname__", None) != qual:
            raise self._refuse(
                path,
                f"it is {getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}, not an object defined "
                "under that name (names are never followed through a module's attributes)",
            )
        is_class = isinstance(obj, type)
        is_function = callable(obj) and not is_class and hasattr(obj, "__code__")
        if kind == "class" and not is_class:
            raise self._refuse(path, "it is not a class")
        if kind == "function" and not is_function:
            raise self._refuse(path, "it is not a module-level function")
        if kind == "step" and not (is_class or is_function):
            raise self._refuse(path, "it is neither a class nor a function")
        if not is_config_safe(obj):
            raise self._refuse(path, "it is not marked `config_safe = True`")
        return obj
