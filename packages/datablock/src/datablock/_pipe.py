"""Turning the transform arguments users pass (None, a callable, a list) into one callable, and undoing it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["as_pipeline", "decode_with", "tfm_name"]


def as_pipeline(
    tfms: Callable[[Any], Any] | Sequence[Callable[[Any], Any]] | None, split_idx: int | None = None
) -> Any:
    """None stays None (nothing to run), a list becomes a `dispatch_transforms.Pipeline`, a callable stays itself."""
    if tfms is None:
        return None
    if isinstance(tfms, (list, tuple)):
        from dispatch_transforms import Pipeline

        return Pipeline(list(tfms), split_idx=split_idx) if tfms else None
    if not callable(tfms):
        raise TypeError(f"expected a transform, a callable or a list of them, got {type(tfms).__name__}")
    return tfms


def decode_with(tfm: Any, o: Any) -> Any:
    """`tfm.decode(o)` when `tfm` can decode, else `o` unchanged."""
    dec = getattr(tfm, "decode", None)
    return o if dec is None else dec(o)


def tfm_name(tfm: Any) -> str:
    """A short readable name of a transform or function, for messages."""
    name = getattr(tfm, "name", None)
    if isinstance(name, str):
        return name
    return getattr(tfm, "__qualname__", None) or type(tfm).__name__
