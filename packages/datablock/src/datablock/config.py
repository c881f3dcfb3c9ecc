"""Pipelines as plain data (`to_config`) and back (`from_config`), for export without pickle.

A step is `{"type": "module:QualName", "args": {...}}` for a class marked `config_safe = True` (a
`Transform` subclass or a getter; its constructor arguments are read from same-named attributes),
`{"function": "module:qualname"}` for a module-level function marked `config_safe`, or
`{"type": ..., "enc": ..., "dec": ...}` for a `Transform(enc=f, dec=g)` built from such functions.
Arguments are plain data, paths (`{"__path__": ...}`) or steps themselves (`{"__step__": {...}}`, for a
transform holding transforms or functions). Loading resolves every name through a `SafeResolver`
(see `datablock.resolver`): allow-listed, installed, defined under that name and marked; no code travels
in the data.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path, PurePath
from typing import Any

import torch

from datablock._pipe import ItemFunc, item_step
from datablock.resolver import ConfigError, SafeResolver, config_safe, is_config_safe
from datablock.vocab import CategoryMap
from dispatch_transforms import ItemTransform, Pipeline, Transform

__all__ = [
    "step_to_config",
    "step_from_config",
    "pipeline_to_config",
    "pipeline_from_config",
    "LabelGetterNotExported",
    "ConfigError",
    "SafeResolver",
    "config_safe",
]

_PATH_KEY = "__path__"
_OMITTED_KEY = "label_getter_not_exported"
_STEP_KEY = "__step__"
_INSTANCE_ATTRS = ("split_idx", "order")  # Transform settings a step may carry besides its arguments
_WRAPPERS = {f"{c.__module__}:{c.__qualname__}": c for c in (Transform, ItemTransform)}


def _is_step(value: Any) -> bool:
    return (
        isinstance(value, Transform)
        or (inspect.isfunction(value) and is_config_safe(value))
        or (not isinstance(value, type) and is_config_safe(type(value)))
    )


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
    if _is_step(value):  # a transform holding transforms or functions (e.g. AffineCoordTfm(tfms=[Flip(), ...]))
        return {_STEP_KEY: step_to_config(value)}
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    raise TypeError(f"to_config: {where} holds a {type(value).__name__}, which cannot be written as plain data")


def _from_data(value: Any, resolver: SafeResolver) -> Any:
    """Undo the tagging of `_data` (paths come back as `Path`, nested steps are rebuilt)."""
    if isinstance(value, dict):
        if set(value) == {_PATH_KEY}:
            return Path(value[_PATH_KEY])
        if set(value) == {_STEP_KEY}:
            return step_from_config(value[_STEP_KEY], resolver)
        return {k: _from_data(v, resolver) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_data(v, resolver) for v in value]
    return value


def _qualname(obj: Any) -> str:
    """`module:qualname` under which `obj` is defined (the only form a resolver accepts)."""
    return f"{obj.__module__}:{obj.__qualname__}"


def _unmarked(name: str, what: str) -> TypeError:
    return TypeError(
        f"to_config: {what} {name!r} is not marked safe to rebuild from data; if it only computes on its input, "
        "mark it (`config_safe = True` on the class, or `@datablock.config_safe` on the function)"
    )


def _is_default(value: Any, default: Any) -> bool:
    if value is default:
        return True
    if isinstance(value, (list, tuple)) and isinstance(default, (list, tuple)):
        return list(value) == list(default) and all(isinstance(v, (bool, int, float, str)) for v in value)
    return isinstance(value, (bool, int, float, str, type(None))) and type(value) is type(default) and value == default


def _init_params(cls: type) -> list[inspect.Parameter]:
    """The constructor parameters of `cls`, following `**kwargs` into the bases' constructors."""
    params: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        sig = list(inspect.signature(init).parameters.values())[1:]
        for p in sig:
            if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                params.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in sig):
            break
    return list(params.values())


def step_to_config(tfm: Any) -> dict[str, Any]:
    """One pipeline step as plain data."""
    if isinstance(tfm, ItemFunc):
        return step_to_config(tfm.func)
    if type(tfm) in (Transform, ItemTransform):
        func = getattr(tfm, "enc", None)  # the function behind a plain `Transform(f)` / `Transform(enc=f)`
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
        if not is_config_safe(tfm):
            raise _unmarked(name, "function")
        return {"function": name}
    if callable(tfm):
        cls = type(tfm)
        if "<" in cls.__qualname__:
            raise TypeError(f"to_config: {cls.__qualname__} is a local class; define it at module level")
        if not is_config_safe(cls):
            raise _unmarked(_qualname(cls), "class")
        args = {}
        for p in _init_params(cls):
            name = p.name
            if name in tfm.__dict__ and _is_default(tfm.__dict__[name], p.default):
                continue  # the default needs no saving (and may be a private sentinel)
            if name in tfm.__dict__:
                args[name] = _data(tfm.__dict__[name], f"argument {name!r} of {cls.__qualname__}")
            elif p.default is p.empty:
                raise TypeError(
                    f"to_config: {cls.__qualname__} does not keep its required argument {name!r} as an attribute"
                )
        step = {"type": _qualname(cls), "args": args}
        for attr in _INSTANCE_ATTRS:  # set on the instance after construction (e.g. by `setup_aug_tfms`)
            if attr in tfm.__dict__ and attr not in args and tfm.__dict__[attr] != getattr(cls, attr, None):
                step[attr] = _data(tfm.__dict__[attr], f"{attr} of {cls.__qualname__}")
        return step
    raise TypeError(f"to_config: cannot describe {tfm!r} as data")


class LabelGetterNotExported(ItemTransform):
    """Stands in, in a loaded export, for a label function of a target pipeline that could not be written as
    data (a lambda, a local or an unmarked function, e.g. the `label_func` of `from_name_func`).

    Inference never runs it (unlabelled items go through the input pipelines only) and decoding passes through
    it, so `predict`/`get_preds` work; labelling items with it is refused with an error naming the function.
    """

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def encodes(self, x: object) -> Any:  # noqa: ARG002 (it refuses every item)
        raise RuntimeError(
            f"the label function {self.name!r} was not exported (it cannot be written as data), so this loaded "
            "learner cannot label items; unlabelled data (`test_dl(items)`, `predict`) does not need it. To label "
            "data, build the DataLoaders again from the DataBlock (or define the function at module level and "
            "mark it `@datablock.config_safe` before exporting)"
        )


def step_from_config(step: dict[str, Any], resolver: SafeResolver | None = None) -> Any:
    """Rebuild one step; every name goes through `resolver` (default: the tiers packages only)."""
    resolver = resolver or SafeResolver()
    if not isinstance(step, dict):
        raise ConfigError(f"from_config: a step must be a dict, got {type(step).__name__}")
    if _OMITTED_KEY in step:
        if not isinstance(step[_OMITTED_KEY], str):
            raise ConfigError(f"from_config: {_OMITTED_KEY} must be a name, got {type(step[_OMITTED_KEY]).__name__}")
        return LabelGetterNotExported(step[_OMITTED_KEY])
    if "function" in step:
        return resolver.resolve(step["function"], kind="function")
    name = step.get("type")
    if not isinstance(name, str):
        raise ConfigError(f"from_config: a step needs a 'type' (a class path) or a 'function', got keys {sorted(step)}")
    if name in _WRAPPERS and "enc" in step:  # `Transform(enc=f, dec=g)` from marked module-level functions
        funcs = {k: resolver.resolve(step[k], kind="function") for k in ("enc", "dec") if k in step}
        return _WRAPPERS[name](**funcs)
    cls = resolver.resolve(name, kind="class")
    args = step.get("args", {})
    if not isinstance(args, dict):
        raise ConfigError(f"from_config: the args of {name!r} must be a dict, got {type(args).__name__}")
    obj = cls(**{k: _from_data(v, resolver) for k, v in args.items()})
    for attr in _INSTANCE_ATTRS:
        if attr in step:
            if not isinstance(step[attr], (int, type(None))) or isinstance(step[attr], bool):
                raise ConfigError(f"from_config: {attr} of {name!r} must be an int or None, got {step[attr]!r}")
            setattr(obj, attr, step[attr])
    return obj


def _is_label_getter(f: Any) -> bool:
    """A plain callable step (no decodes): what a DataBlock's `get_y` becomes in a target pipeline."""
    return isinstance(f, ItemFunc) or (callable(f) and not isinstance(f, (Transform, type)))


def pipeline_to_config(p: Any, skip_train_only: bool = False, omit_label_getters: bool = False) -> list[dict[str, Any]]:
    """A pipeline (or a single callable, or None) as a list of steps.

    `skip_train_only`: leave out the steps that run on the training split only (`split_idx == 0`, e.g.
    random augmentations): inference never runs them, so an export need not describe them.
    `omit_label_getters` (for target pipelines): a plain label function that cannot be written as data is
    recorded by name only and comes back as a `LabelGetterNotExported` (a warning says so); inference and
    decoding never run it. Transforms with decodes must always be written.
    """
    if p is None:
        return []
    fs = p.fs if isinstance(p, Pipeline) else [p]
    if skip_train_only:
        fs = [f for f in fs if getattr(f, "split_idx", None) != 0]
    steps = []
    for f in fs:
        try:
            steps.append(step_to_config(f))
        except TypeError as e:
            if not (omit_label_getters and _is_label_getter(f)):
                raise
            g = f.func if isinstance(f, ItemFunc) else f
            name = g.__qualname__ if inspect.isfunction(g) else repr(g)
            warnings.warn(
                f"to_config: the label function {name!r} is not written ({e}); the export predicts, but cannot "
                "label new items",
                UserWarning,
                stacklevel=2,
            )
            steps.append({_OMITTED_KEY: name})
    return steps


def pipeline_from_config(
    steps: list[dict[str, Any]],
    split_idx: int | None = None,
    whole_items: bool = False,
    resolver: SafeResolver | None = None,
) -> Pipeline | None:
    """A `Pipeline` from a list of steps (None when empty); names resolve through `resolver`.

    `whole_items`: plain functions receive whole items (a dataset's getters) instead of each tuple element.
    """
    if not isinstance(steps, list):
        raise ConfigError(f"from_config: a pipeline must be a list of steps, got {type(steps).__name__}")
    resolver = resolver or SafeResolver()
    fs = [step_from_config(s, resolver) for s in steps]
    if whole_items:
        fs = [item_step(f) for f in fs]
    return Pipeline(fs, split_idx=split_idx) if fs else None
