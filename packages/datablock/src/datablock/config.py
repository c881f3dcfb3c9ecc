"""Pipelines as plain data (`to_config`) and back (`from_config`), for export without pickle.

A step is `{"type": "module:QualName", "args": {...}}` for a Transform subclass (its constructor
arguments, read from same-named attributes) or a getter class marked `config_safe = True`,
`{"function": "module:qualname"}` for a module-level function, or `{"type": ..., "enc": ..., "dec": ...}`
for a `Transform(enc=f, dec=g)` built from module-level functions. Loading imports the named module and
only instantiates those classes or looks up module-level functions: no code travels in the data.
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path, PurePath
from typing import Any

import torch

from datablock._pipe import ItemFunc, item_step
from datablock.vocab import CategoryMap
from dispatch_transforms import ItemTransform, Pipeline, Transform

__all__ = ["step_to_config", "step_from_config", "pipeline_to_config", "pipeline_from_config"]

_PATH_KEY = "__path__"


def _data(value: Any, where: str) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, CategoryMap):
        return [_data(v, where) for v in value.items]
    if isinstance(value, (list, tuple)):
        return [_data(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _data(v, where) for k, v in value.items()}
    if isinstance(value, PurePath):
        return {_PATH_KEY: value.as_posix()}  # tagged, so it comes back a Path (a str prefix joins differently)
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    raise TypeError(f"to_config: {where} holds a {type(value).__name__}, which cannot be written as plain data")


def _from_data(value: Any) -> Any:
    """Undo the tagging of `_data` (paths come back as `Path`)."""
    if isinstance(value, dict):
        if set(value) == {_PATH_KEY}:
            return Path(value[_PATH_KEY])
        return {k: _from_data(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_data(v) for v in value]
    return value


def _qualname(obj: Any) -> str:
    """`module:name` under which `obj` can be found again (builtins may report a private qualname)."""
    for name in (obj.__qualname__, obj.__name__):
        path = f"{obj.__module__}:{name}"
        try:
            if "<" not in path and _resolve(path) is obj:
                return path
        except (AttributeError, ImportError, ValueError):
            continue
    return f"{obj.__module__}:{obj.__qualname__}"


def _wrapped_function(tfm: Transform) -> Any:
    """The function a plain `Transform(f)` / `Transform(enc=f)` wraps (dispatch_transforms exposes it as `.enc`)."""
    return getattr(tfm, "enc", None)


def step_to_config(tfm: Any) -> dict[str, Any]:
    """One pipeline step as plain data."""
    if isinstance(tfm, ItemFunc):
        return step_to_config(tfm.func)
    if type(tfm) in (Transform, ItemTransform):
        func = _wrapped_function(tfm)
        if func is None:
            raise TypeError(f"to_config: cannot find the function behind transform {tfm.name!r}")
        dec = getattr(tfm, "dec", None)
        if dec is None and type(tfm) is Transform:
            return step_to_config(func)  # a plain function step: `Pipeline` wraps it the same way again
        step = {"type": _qualname(type(tfm)), "enc": step_to_config(func)["function"]}
        if dec is not None:
            step["dec"] = step_to_config(dec)["function"]
        return step
    if inspect.isfunction(tfm) or inspect.isbuiltin(tfm):
        name = _qualname(tfm)
        if "<" in name:
            raise TypeError(
                f"to_config: step {name!r} is a lambda or a local function, which cannot be written as data; "
                "define it at module level"
            )
        return {"function": name}
    if callable(tfm):
        cls = type(tfm)
        args = {}
        for name, p in list(inspect.signature(cls.__init__).parameters.items())[1:]:
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            if name in tfm.__dict__ and tfm.__dict__[name] is p.default:
                continue  # the default needs no saving (and may be a private sentinel)
            if name in tfm.__dict__:
                args[name] = _data(tfm.__dict__[name], f"argument {name!r} of {cls.__qualname__}")
            elif p.default is p.empty:
                raise TypeError(
                    f"to_config: {cls.__qualname__} does not keep its required argument {name!r} as an attribute"
                )
        return {"type": _qualname(cls), "args": args}
    raise TypeError(f"to_config: cannot describe {tfm!r} as data")


def _resolve(path: str) -> Any:
    module, _, qual = path.partition(":")
    if not module or not qual or "<" in qual:
        raise ValueError(
            f"from_config: {path!r} is not a module-level name (lambdas and local functions cannot be "
            "exported as data; define them at module level)"
        )
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    return obj


def step_from_config(step: dict[str, Any]) -> Any:
    """Rebuild one step: only `Transform` subclasses are instantiated, only functions are returned."""
    if "function" in step:
        func = _resolve(step["function"])
        if not callable(func) or isinstance(func, type):
            raise TypeError(f"from_config: {step['function']!r} is not a function")
        return func
    cls = _resolve(step["type"])
    if cls in (Transform, ItemTransform) and "enc" in step:  # `Transform(enc=f, dec=g)` from module-level functions
        funcs = {k: step_from_config({"function": step[k]}) for k in ("enc", "dec") if k in step}
        return cls(**funcs)
    if not (isinstance(cls, type) and (issubclass(cls, Transform) or getattr(cls, "config_safe", False))):
        raise TypeError(
            f"from_config: {step['type']!r} is neither a dispatch_transforms.Transform subclass nor a class "
            "marked `config_safe = True` (only those are rebuilt from data)"
        )
    return cls(**{k: _from_data(v) for k, v in step.get("args", {}).items()})


def pipeline_to_config(p: Any) -> list[dict[str, Any]]:
    """A pipeline (or a single callable, or None) as a list of steps."""
    if p is None:
        return []
    fs = p.fs if isinstance(p, Pipeline) else [p]
    return [step_to_config(f) for f in fs]


def pipeline_from_config(
    steps: list[dict[str, Any]], split_idx: int | None = None, whole_items: bool = False
) -> Pipeline | None:
    """A `Pipeline` from a list of steps (None when empty).

    `whole_items`: plain functions receive whole items (a dataset's getters) instead of each tuple element.
    """
    fs = [step_from_config(s) for s in steps]
    if whole_items:
        fs = [item_step(f) for f in fs]
    return Pipeline(fs, split_idx=split_idx) if fs else None
