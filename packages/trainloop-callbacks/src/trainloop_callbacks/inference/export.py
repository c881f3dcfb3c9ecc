"""Safe export: weights in torch's weights-only format; the model, loss, data pipeline and learner class
described as data.

Loading never unpickles arbitrary objects: `torch.load(weights_only=True)` reads the file, and every name in
it (model and loss classes, the learner class, the data's classes and pipeline steps) resolves through a
`SafeResolver`: a registered `torch.nn` layer, or a class or function marked `config_safe = True` that is
defined under that name in an installed module of the tiers packages or of `allow=`; anything else is
refused before it is imported. What cannot be described as data is refused by name at export;
`export(..., pickle=True)` with `load_learner(..., unsafe_pickle=True)` (`trainloop_callbacks.loading`) is the
explicit opt-in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from trainloop_callbacks.inference.resolver import TIERS_PACKAGES, ExportError, SafeResolver, is_config_safe
from trainloop_callbacks.loop.protocols import Configurable, HasTestDl, n_inp_of

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["ALLOWED_MODULES", "ExportError", "describe_module", "build_module", "export_learner"]

FORMAT, PICKLE_FORMAT, VERSION = "tiers-export", "tiers-pickle", 2

ALLOWED_MODULES: tuple[str, ...] = TIERS_PACKAGES
"""Packages whose marked (`config_safe`) classes and functions an export file may name; `load_learner(allow=...)`
adds more. The `torch.nn` layers of `TORCH_LAYERS` and the builders of `TORCHVISION_BUILDERS` are allowed by name."""

_CONV = (
    "in_channels",
    "out_channels",
    "kernel_size",
    "stride",
    "padding",
    "dilation",
    "groups",
    "bias",
    "padding_mode",
)
_BATCHNORM = ("num_features", "eps", "momentum", "affine", "track_running_stats")
# torch.nn layers rebuilt from their attributes: class name -> constructor arguments read back from the module
_LAYER_ARGS: dict[str, tuple[str, ...]] = {
    "Linear": ("in_features", "out_features", "bias"),
    "Conv1d": _CONV,
    "Conv2d": _CONV,
    "Conv3d": _CONV,
    "BatchNorm1d": _BATCHNORM,
    "BatchNorm2d": _BATCHNORM,
    "BatchNorm3d": _BATCHNORM,
    "LayerNorm": ("normalized_shape", "eps", "elementwise_affine"),
    "Embedding": ("num_embeddings", "embedding_dim", "padding_idx"),
    "ReLU": ("inplace",),
    "LeakyReLU": ("negative_slope", "inplace"),
    "GELU": ("approximate",),
    "SiLU": ("inplace",),
    "Sigmoid": (),
    "Tanh": (),
    "Identity": (),
    "Softmax": ("dim",),
    "LogSoftmax": ("dim",),
    "Flatten": ("start_dim", "end_dim"),
    "Dropout": ("p",),
    "Dropout2d": ("p",),
    "MaxPool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode"),
    "AvgPool2d": ("kernel_size", "stride", "padding", "ceil_mode"),
    "AdaptiveAvgPool2d": ("output_size",),
    "AdaptiveMaxPool2d": ("output_size",),
    "AdaptiveAvgPool1d": ("output_size",),
    "Upsample": ("size", "scale_factor", "mode"),
    "CrossEntropyLoss": ("reduction", "ignore_index", "label_smoothing"),
    "MSELoss": ("reduction",),
    "L1Loss": ("reduction",),
    "BCEWithLogitsLoss": ("reduction",),
    "NLLLoss": ("reduction", "ignore_index"),
}


def _qualname(cls: type) -> str:
    module = cls.__module__
    if module.startswith("torch.nn.modules"):
        module = "torch.nn"  # the public home of every torch.nn layer
    return f"{module}:{cls.__qualname__}"


def _name(text: Any) -> Any:
    """Names as written by version 1 (`"torch.nn.Linear"`) in today's form (`"torch.nn:Linear"`)."""
    if isinstance(text, str) and ":" not in text and "." in text:
        module, _, attr = text.rpartition(".")
        return f"{module}:{attr}"
    return text


def _check_plain(x: Any, where: str) -> Any:
    if x is None or isinstance(x, (bool, int, float, str, Tensor)):
        return x
    if isinstance(x, (list, tuple)):
        return [_check_plain(o, where) for o in x]
    if isinstance(x, dict) and all(isinstance(k, str) for k in x):
        return {k: _check_plain(v, where) for k, v in x.items()}
    raise ExportError(
        f"{where}: {type(x).__name__} is not plain data (None, bool, int, float, str, tensor, list, dict)"
    )


def describe_module(m: Any, where: str = "model") -> dict[str, Any]:
    """Describe a module (or loss) as data: `to_config()`, a known torch.nn layer, or a Sequential of those."""
    cls = type(m)
    if callable(getattr(m, "to_config", None)) and callable(getattr(cls, "from_config", None)) and is_config_safe(cls):
        return {"type": _qualname(cls), "config": _check_plain(m.to_config(), where)}
    if isinstance(m, nn.Sequential) and cls is nn.Sequential:
        return {
            "type": "torch.nn.Sequential",
            "children": [describe_module(c, f"{where}[{i}]") for i, c in enumerate(m)],
        }
    if cls.__module__.startswith("torch.nn.modules") and cls.__name__ in _LAYER_ARGS:
        kwargs = {a: getattr(m, a) for a in _LAYER_ARGS[cls.__name__]}
        if "bias" in kwargs:
            kwargs["bias"] = m.bias is not None
        return {"type": _qualname(cls), "kwargs": _check_plain(kwargs, where)}
    config = getattr(m, "config", None)
    if isinstance(config, dict) and is_config_safe(cls):
        return {"type": _qualname(cls), "kwargs": _check_plain(config, where)}
    raise ExportError(
        f"cannot export {where} ({_qualname(cls)}) as data: give its class to_config()/from_config() and mark it "
        "`config_safe = True`, build it from torch.nn layers, or use export(..., pickle=True)"
    )


def _resolver(allow: Sequence[str] | SafeResolver) -> SafeResolver:
    return allow if isinstance(allow, SafeResolver) else SafeResolver(allow)


def build_module(desc: dict[str, Any], allow: Sequence[str] | SafeResolver = ()) -> Any:
    """Rebuild what `describe_module` described; every class resolves through a `SafeResolver` (the tiers
    packages and registered torch.nn layers, plus the modules in `allow`)."""
    resolver = _resolver(allow)
    if not isinstance(desc, dict) or not isinstance(desc.get("type"), str):
        raise ExportError(f"malformed module description: {desc!r:.200}")
    cls = resolver.resolve(_name(desc["type"]), kind="class")
    if "children" in desc:
        if not isinstance(desc["children"], list):
            raise ExportError(f"malformed module description: children of {desc['type']!r} must be a list")
        return cls(*[build_module(c, resolver) for c in desc["children"]])
    if "config" in desc:
        if not callable(getattr(cls, "from_config", None)):
            raise ExportError(f"{desc['type']!r} has no from_config to rebuild it from its config")
        return cls.from_config(desc["config"])
    kwargs = desc.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise ExportError(f"malformed module description: kwargs of {desc['type']!r} must be a dict")
    return cls(**kwargs)


def export_learner(learn: Learner, fname: str | Path = "export.pth", pickle: bool = False) -> Path:
    """Write what inference needs (model, weights, loss, data pipeline) to `learn.path/fname`."""
    file = Path(fname) if Path(fname).is_absolute() else learn.path / fname
    file.parent.mkdir(parents=True, exist_ok=True)
    dls = learn.dls
    if pickle:
        pickled = dls if isinstance(dls, HasTestDl) else None
        torch.save({"format": PICKLE_FORMAT, "model": learn.model, "loss_func": learn.loss_func, "dls": pickled}, file)
        return file
    data: dict[str, Any] | None = None
    if isinstance(dls, Configurable):
        data = {"type": _qualname(type(dls)), "config": _check_plain(dls.to_config(), "dls.to_config()")}
    if not is_config_safe(type(learn)):
        raise ExportError(f"cannot export a {_qualname(type(learn))}: the learner class is not marked config_safe")
    state = {
        "format": FORMAT,
        "version": VERSION,
        "learner": _qualname(type(learn)),
        "model": describe_module(learn.model, "model"),
        "weights": {k: v.detach().cpu() for k, v in learn.model.state_dict().items()},
        "loss_func": describe_module(learn.loss_func, "loss_func"),
        "data": data,
        "n_inp": n_inp_of(dls),
    }
    torch.save(state, file)
    return file
