"""Cheap unwrapping of tensor subclasses to plain `torch.Tensor`."""

from __future__ import annotations

from typing import Any

import torch
from torch._C import DisableTorchFunctionSubclass

__all__ = ["as_plain"]

_Tensor = torch.Tensor


def _unwrap(x: Any) -> Any:
    tx = type(x)
    if tx is _Tensor:
        return x
    if tx is tuple:
        return tuple([_unwrap(o) for o in x])
    if tx is list:
        return [_unwrap(o) for o in x]
    if isinstance(x, _Tensor):
        return x.as_subclass(_Tensor)
    if tx is dict:
        return {k: _unwrap(v) for k, v in x.items()}
    if isinstance(x, tuple) and hasattr(x, "_fields"):  # a namedtuple keeps its type
        return tx(*[_unwrap(o) for o in x])
    return x


def as_plain(x: Any) -> Any:
    """Return `x` with every tensor subclass viewed as a plain `torch.Tensor` (same memory, same autograd graph).

    Recurses into tuples, lists, dicts and namedtuples so a whole batch can be unwrapped before it
    reaches a model; anything that is not a tensor is returned as is.
    """
    if type(x) is _Tensor:
        return x
    with DisableTorchFunctionSubclass():
        return _unwrap(x)
