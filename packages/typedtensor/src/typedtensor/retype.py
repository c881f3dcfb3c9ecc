"""Giving a tensor the type of another: `wrap`, `retain_type`, `cast`."""

from __future__ import annotations

from typing import Any, TypeVar, overload

import torch

from typedtensor.core import TensorBase, _plain

__all__ = ["wrap", "retain_type", "cast"]

T = TypeVar("T", bound=TensorBase)


def wrap(t: Any, like: Any) -> Any:
    """`t` with the type and metadata of `like`: calls `type(like).wrap(t, like=like)` (see `TensorBase.wrap`)."""
    return type(like).wrap(t, like=like)


def retain_type(new: Any, like: Any) -> Any:
    """`new` with the semantic type and metadata of `like`, element-wise for tuples and lists.

    Follows fastai's rule: only a tensor whose type is a base of `like`'s (a plain tensor) is re-typed;
    a tensor that already has a semantic type keeps it. When `like` is not typed, `new` is returned as is.
    """
    if isinstance(like, TensorBase):
        return type(like).wrap(new, like=like)
    if isinstance(like, (tuple, list)) and isinstance(new, (tuple, list)) and len(like) == len(new):
        return type(new)(retain_type(n, o) for n, o in zip(new, like, strict=True))
    return new


@overload
def cast(x: torch.Tensor, typ: type[T], **meta: Any) -> T: ...
@overload
def cast(x: torch.Tensor, typ: type[torch.Tensor], **meta: Any) -> torch.Tensor: ...
def cast(x: torch.Tensor, typ: type[torch.Tensor], **meta: Any) -> torch.Tensor:
    """View `x` as `typ` (sharing memory), keeping the metadata `typ` declares that `x` has, updated with `meta`.

    Unlike `wrap`, the shape is checked (e.g. a `TensorPoint` needs a last dimension of 2), and an already
    typed `x` is re-typed too.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"cast: expected a torch.Tensor, got {type(x).__name__}")
    if not (isinstance(typ, type) and issubclass(typ, torch.Tensor)):
        raise TypeError(f"cast: expected a tensor type, got {typ!r}")
    plain = _plain(x)
    if typ is torch.Tensor:
        return plain
    if not issubclass(typ, TensorBase):
        raise TypeError(f"cast: {typ.__name__} is not a typed tensor type (a TensorBase subclass) nor torch.Tensor")
    typ._check_meta_names(meta)
    typ._check_shape(plain)
    out = plain.as_subclass(typ)
    if isinstance(x, TensorBase):
        src = x.__dict__
        out._set_meta({n: src[n] for n in typ._meta if n in src})
    out._set_meta(meta)
    return out
