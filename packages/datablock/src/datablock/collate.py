"""Collation that keeps types: samples → batch (typed tensors stay typed, tuples stay tuples) and back."""

from __future__ import annotations

import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch._C import DisableTorchFunctionSubclass
from torch.utils.data import get_worker_info

from datablock.errors import CollateError

__all__ = ["collate", "decollate", "retype"]


def retype(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """`t` re-typed as `like`'s class with its metadata: `type(like).wrap(t, like=like)` when the class has it."""
    typ = type(like)
    if typ is torch.Tensor or type(t) is typ:
        return t
    wrap = getattr(typ, "wrap", None)
    return wrap(t, like=like) if wrap is not None else t.as_subclass(typ)


def _plain(t: torch.Tensor) -> torch.Tensor:
    return t if type(t) is torch.Tensor else t.as_subclass(torch.Tensor)


def _shape_advice(samples: Sequence[torch.Tensor]) -> str:
    shapes = [tuple(s.shape) for s in samples]
    first = shapes[0]
    odd = next((i for i, s in enumerate(shapes) if s != first), 0)  # called when one differs
    return (
        f"items of one batch have different shapes: item 0 is {first}, item {odd} is {shapes[odd]}. "
        "Add an item transform that gives every item one size (e.g. a resize or crop in item_tfms) "
        "so they can be stacked, or use bs=1."
    )


def _stack(samples: Sequence[torch.Tensor]) -> torch.Tensor:
    elem = samples[0]
    shape = elem.shape
    out = None
    if get_worker_info() is not None and elem.device.type == "cpu":
        # in a worker, stack straight into shared memory so the batch reaches the main process without a copy
        first = _plain(elem)
        storage = first._typed_storage()._new_shared(first.numel() * len(samples), device=first.device)
        out = first.new(storage).resize_(len(samples), *shape)
    try:
        # typed tensors are stacked as plain data (no per-item unwrapping), then the batch is re-typed once
        with DisableTorchFunctionSubclass():
            stacked = torch.stack(samples if isinstance(samples, list | tuple) else list(samples), 0, out=out)
    except RuntimeError as e:
        if any(s.shape != shape for s in samples):
            raise CollateError(_shape_advice(samples)) from None
        raise CollateError(f"cannot stack items of one batch: {e}") from e  # dtype or device mismatch
    return retype(stacked, elem)


def collate(samples: Sequence[Any]) -> Any:
    """Stack a list of samples into a batch, element by element.

    Tensors (typed ones keep their type and metadata), numpy arrays and numbers become stacked
    tensors; a tuple or list sample gives a tuple (so batch transforms dispatch per element);
    dicts stay dicts; strings, paths and other objects become lists.
    """
    if len(samples) == 0:
        raise CollateError("collate: no items to collate")
    elem = samples[0]
    if isinstance(elem, torch.Tensor):
        return _stack(samples)
    if isinstance(elem, (tuple, list)):
        n = len(elem)
        if any(len(s) != n for s in samples):
            lens = sorted({len(s) for s in samples})
            raise CollateError(f"collate: samples of one batch have different lengths {lens}; expected {n} each")
        return tuple(collate([s[i] for s in samples]) for i in range(n))
    if isinstance(elem, Mapping):
        return {k: collate([s[k] for s in samples]) for k in elem}
    if isinstance(elem, bool) or isinstance(elem, numbers.Number):
        return torch.tensor(samples)
    if type(elem).__module__ == "numpy" and hasattr(elem, "shape"):
        return _stack([torch.as_tensor(s) for s in samples])
    if type(elem).__module__.startswith("PIL"):
        raise CollateError(
            "collate: items are PIL images, which cannot be stacked; add a transform that turns them into "
            "tensors (e.g. ToTensor in item_tfms, after a resize so they share one size)"
        )
    return list(samples)


def _unbind(t: torch.Tensor, n: int) -> list[Any]:
    plain = _plain(t)
    return [retype(plain[i], t) for i in range(min(n, plain.shape[0]))]


def decollate(batch: Any, max_n: int | None = None) -> list[Any]:
    """The inverse of `collate`: a batch back into a list of samples (at most `max_n`), types kept."""
    if isinstance(batch, torch.Tensor):
        return _unbind(batch, batch.shape[0] if max_n is None else max_n)
    if isinstance(batch, (tuple, list)):
        if all(isinstance(b, (str, bytes)) or not isinstance(b, (torch.Tensor, tuple, list, Mapping)) for b in batch):
            return list(batch if max_n is None else batch[:max_n])  # a list of plain objects is one element
        cols = [decollate(b, max_n) for b in batch]
        return [tuple(c[i] for c in cols) for i in range(min(len(c) for c in cols))]
    if isinstance(batch, Mapping):
        fields = {k: decollate(v, max_n) for k, v in batch.items()}
        n = min(len(c) for c in fields.values())
        return [{k: c[i] for k, c in fields.items()} for i in range(n)]
    raise TypeError(f"decollate: cannot split a batch of type {type(batch).__name__}")
