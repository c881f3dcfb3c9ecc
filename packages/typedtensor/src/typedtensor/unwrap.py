"""Cheap unwrapping of tensor subclasses to plain `torch.Tensor`."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["as_plain"]


def as_plain(x: Any) -> Any:
    """Return `x` with every tensor subclass viewed as a plain `torch.Tensor`.

    Recurses into tuples, lists and dicts so a whole batch can be unwrapped
    before it reaches a model; anything that is not a tensor is returned as is.
    """
    if isinstance(x, torch.Tensor):
        return x if type(x) is torch.Tensor else x.as_subclass(torch.Tensor)
    if isinstance(x, tuple):
        return tuple(as_plain(o) for o in x)
    if isinstance(x, list):
        return [as_plain(o) for o in x]
    if isinstance(x, dict):
        return {k: as_plain(v) for k, v in x.items()}
    return x
