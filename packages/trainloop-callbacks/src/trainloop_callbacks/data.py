"""The duck-typed data protocol: anything with `.train`/`.valid`, or a pair of torch DataLoaders."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch
from torch import Tensor

from trainloop_callbacks.protocols import DataProtocol

__all__ = ["DataLoaderPair", "as_dataloaders", "to_device", "to_plain", "retype_like", "find_bs"]


class DataLoaderPair:
    """Two plain iterables of batches (e.g. `torch.utils.data.DataLoader`s) seen through the data protocol."""

    n_inp: int = 1

    def __init__(self, train: Iterable[Any], valid: Iterable[Any]) -> None:
        self.train, self.valid = train, valid

    def __getitem__(self, i: int) -> Iterable[Any]:
        return (self.train, self.valid)[i]

    def __repr__(self) -> str:
        return f"DataLoaderPair(train={self.train!r}, valid={self.valid!r})"


def as_dataloaders(dls: Any) -> DataProtocol:
    """Return `dls` if it follows the data protocol, a `DataLoaderPair` for a `(train, valid)` pair."""
    if isinstance(dls, (tuple, list)):
        if len(dls) != 2:
            raise TypeError(f"dls as a sequence must be a pair (train_dl, valid_dl), got {len(dls)} items")
        return DataLoaderPair(*dls)
    if isinstance(dls, DataProtocol):
        return dls
    raise TypeError(
        "dls must have .train and .valid iterables of batches, or be a pair (train_dl, valid_dl); "
        f"got {type(dls).__name__}"
    )


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
