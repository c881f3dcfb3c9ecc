"""The op tables `TensorBase.__torch_function__` consults: what stays plain, what is a values/indices pair."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch

__all__ = ["PLAIN_RESULT_OPS", "PLAIN_GETTERS", "VALUES_INDICES_OPS"]

_Tensor = torch.Tensor
_TensorBaseC = torch._C.TensorBase


def _getter(cls: type, name: str) -> Callable[..., Any]:
    """The `__get__` of the descriptor `name` of `cls`: what `__torch_function__` receives for an attribute read."""
    return inspect.getattr_static(cls, name).__get__


# Ops whose results are indices or masks of positions, not data: they return plain tensors.
PLAIN_RESULT_OPS: frozenset[Callable[..., Any]] = frozenset(
    {
        torch.argmax,
        torch.argmin,
        torch.argsort,
        torch.nonzero,
        torch.argwhere,
        _Tensor.argmax,
        _Tensor.argmin,
        _Tensor.argsort,
        _Tensor.nonzero,
        _Tensor.argwhere,
        _Tensor.__reduce_ex__,
        # a typed tensor made by `as_subclass` is an alias of a plain tensor; that base stays plain,
        # otherwise each read of `_base` would make another alias (torch.compile loops on it).
        _getter(_TensorBaseC, "_base"),
    }
)
# Attribute reads that never return a tensor: the shortest path through __torch_function__. (Overriding
# them as properties on the class would skip __torch_function__ entirely, but torch.compile cannot trace
# such properties in torch 2.14: it recurses or graph-breaks.)
PLAIN_GETTERS: frozenset[Callable[..., Any]] = frozenset(
    {
        _getter(_TensorBaseC, "shape"),
        _getter(_TensorBaseC, "dtype"),
        _getter(_TensorBaseC, "device"),
        _getter(_TensorBaseC, "ndim"),
        _getter(_TensorBaseC, "requires_grad"),
        _getter(_TensorBaseC, "is_cuda"),
        _Tensor.size,
        _Tensor.dim,
        _Tensor.numel,
    }
)
# Ops returning (values, indices): values keep the type, indices are plain.
VALUES_INDICES_OPS: frozenset[Callable[..., Any]] = frozenset(
    {
        torch.max,
        torch.min,
        torch.sort,
        torch.topk,
        torch.kthvalue,
        torch.median,
        torch.mode,
        torch.cummax,
        torch.cummin,
        _Tensor.max,
        _Tensor.min,
        _Tensor.sort,
        _Tensor.topk,
        _Tensor.kthvalue,
        _Tensor.median,
        _Tensor.mode,
        _Tensor.cummax,
        _Tensor.cummin,
    }
)
