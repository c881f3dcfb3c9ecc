"""`load_learner`: rebuild a `Learner` for inference from a file `Learner.export` wrote (see `inference.export`)."""

from __future__ import annotations

import inspect
import pickle
from collections.abc import Sequence
from pathlib import Path

import torch

from trainloop_callbacks.inference.export import FORMAT, PICKLE_FORMAT, _name, build_module
from trainloop_callbacks.inference.resolver import ExportError, SafeResolver
from trainloop_callbacks.learner import Learner
from trainloop_callbacks.loop.data import DataLoaderPair

__all__ = ["load_learner"]


def load_learner(
    fname: str | Path, cpu: bool = True, allow: Sequence[str] = (), unsafe_pickle: bool = False
) -> Learner:
    """Load an exported learner for inference. Safe by default (see the module docstring); modules named in
    `allow` join the allow-list; `unsafe_pickle=True` reads a `pickle=True` export (only for files you trust)."""
    file = Path(fname)
    try:
        state = torch.load(file, map_location="cpu" if cpu else None, weights_only=True)
    except pickle.UnpicklingError as e:
        if not unsafe_pickle:
            raise ExportError(
                f"{file} holds pickled Python objects, which could run arbitrary code; it was not loaded. "
                f"If you made it yourself with export(pickle=True) and trust it, pass unsafe_pickle=True. ({e})"
            ) from None
        state = torch.load(file, map_location="cpu" if cpu else None, weights_only=False)
        if not isinstance(state, dict) or state.get("format") != PICKLE_FORMAT:
            raise ExportError(f"{file} is not a tiers export") from None
        dls = state["dls"] if state["dls"] is not None else DataLoaderPair([], [])
        return Learner(dls, state["model"], state["loss_func"], default_cbs=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise ExportError(f"{file} is not a tiers export (no format {FORMAT!r})")
    resolver = SafeResolver(allow, near=file.resolve().parent)
    learner_cls = Learner
    if state.get("learner") is not None:
        learner_cls = resolver.resolve(_name(state["learner"]), kind="class")
        if not issubclass(learner_cls, Learner):
            raise ExportError(f"{file}: the learner class {state['learner']!r} is not a Learner")
    model = build_module(state["model"], resolver)
    model.load_state_dict(state["weights"])
    loss_func = build_module(state["loss_func"], resolver)
    data = state.get("data")
    if data is not None:
        if not isinstance(data, dict):
            raise ExportError(f"{file}: malformed data description")
        cls = resolver.resolve(_name(data.get("type")), kind="class")
        if not callable(getattr(cls, "from_config", None)):
            raise ExportError(f"{file}: the data class {data['type']!r} has no from_config")
        params = inspect.signature(cls.from_config).parameters
        passed = {"allow": resolver.allow, "near": resolver.near}  # its own resolver applies the same rules
        try:
            dls = cls.from_config(data["config"], **{k: v for k, v in passed.items() if k in params})
        except (ValueError, TypeError) as e:  # the data's own resolver refused a name, or the config is malformed
            raise ExportError(f"{file}: the data pipeline cannot be loaded: {e}") from e
    else:
        dls = DataLoaderPair([], [])
        dls.n_inp = state.get("n_inp", 1)
    learn = learner_cls(dls, model, loss_func)
    model.eval()
    return learn
