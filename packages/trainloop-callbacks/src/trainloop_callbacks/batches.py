"""Helpers on batches (tuples and lists of tensors): device moves, plain-tensor views, retyping, batch size."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["to_device", "to_plain", "retype_like", "find_bs"]


def to_device(x: Any, device: torch.device) -> Any:
    """Move every tensor in `x` (tensors, tuples, lists, dicts) to `device`, keeping tensor subclasses."""
    if isinstance(x, Tensor):
        return x if x.device == device else x.to(device, non_blocking=True)
    if isinstance(x, (tuple, list)):
        return (
            type(x)(to_device(o, device) for o in x) if type(x) in (tuple, list) else [to_device(o, device) for o in x]
        )
    if isinstance(x, dict):
        return {k: to_device(v, device) for k, v in x.items()}
    return x


def to_plain(x: Any) -> Any:
    """Strip tensor subclasses (`t.as_subclass(torch.Tensor)`), recursing into tuples, lists and dicts.

    The model and the loss see plain tensors so forward/backward pay no `__torch_function__` cost.
    """
    if isinstance(x, Tensor):
        return x if type(x) is Tensor else x.as_subclass(Tensor)
    if isinstance(x, tuple):
        return tuple(to_plain(o) for o in x)
    if isinstance(x, list):
        return [to_plain(o) for o in x]
    if isinstance(x, dict):
        return {k: to_plain(v) for k, v in x.items()}
    return x


def retype_like(x: Any, like: Any) -> Any:
    """Give `x` the tensor type of `like`: `type(like).wrap(x, like=like)` if it has `wrap`, else `as_subclass`."""
    if isinstance(x, (tuple, list)):
        if isinstance(like, (tuple, list)) and len(like) == len(x):
            return type(x)(retype_like(o, lk) for o, lk in zip(x, like, strict=False))
        return type(x)(retype_like(o, like) for o in x)
    if not isinstance(x, Tensor) or not isinstance(like, Tensor) or type(like) is Tensor:
        return x
    cls = type(like)
    wrap = getattr(cls, "wrap", None)
    if callable(wrap):
        try:
            return wrap(x, like=like)
        except (TypeError, ValueError, RuntimeError):
            pass  # metadata that does not fit the prediction's shape: the bare type still helps decoding
    return x.as_subclass(cls)


def find_bs(b: Any) -> int:
    """Batch size of `b`: the first dimension of its first tensor."""
    if isinstance(b, Tensor):
        return b.shape[0] if b.ndim else 1
    if isinstance(b, (tuple, list)) and b:
        return find_bs(b[0])
    if isinstance(b, dict) and b:
        return find_bs(next(iter(b.values())))
    raise ValueError(f"cannot find a batch size in {type(b).__name__}")
