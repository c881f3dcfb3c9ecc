"""Public contract checks for typed tensors, used by this package's tests and by downstream packages.

`check_typed_op(op, x)` runs `op(x)` and asserts that every tensor it returns keeps the semantic type
and the metadata of `x`, and survives pickling and `torch.save` / `typedtensor.load` unchanged.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from typing import Any

import torch

from typedtensor.core import TensorBase
from typedtensor.serialize import load

__all__ = ["check_typed_op", "assert_same_typed"]


def _meta_equal(a: Any, b: Any) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    return a == b


def assert_same_typed(actual: Any, expected: Any, what: str = "result") -> None:
    """Assert `actual` has exactly the type, metadata, shape, dtype and values of the typed tensor `expected`."""
    if type(actual) is not type(expected):
        raise AssertionError(f"{what}: expected type {type(expected).__name__}, got {type(actual).__name__}")
    if isinstance(expected, TensorBase):
        if actual.meta.keys() != expected.meta.keys() or not all(
            _meta_equal(actual.meta[k], v) for k, v in expected.meta.items()
        ):
            raise AssertionError(f"{what}: expected metadata {expected.meta}, got {actual.meta}")
    a, e = actual.as_subclass(torch.Tensor), expected.as_subclass(torch.Tensor)
    if a.shape != e.shape or a.dtype != e.dtype:
        raise AssertionError(f"{what}: expected {tuple(e.shape)} {e.dtype}, got {tuple(a.shape)} {a.dtype}")
    if not torch.equal(a.detach().cpu(), e.detach().cpu()):
        raise AssertionError(f"{what}: values differ")


def _tensors(out: Any) -> list[torch.Tensor]:
    if isinstance(out, torch.Tensor):
        return [out]
    if isinstance(out, (tuple, list)):
        return [t for t in out if isinstance(t, torch.Tensor)]
    return []


def check_typed_op(
    op: Callable[[Any], Any],
    x: TensorBase,
    *,
    expected_type: type[TensorBase] | None = None,
    round_trip: bool = True,
) -> Any:
    """Run `op(x)`; assert each tensor it returns is `expected_type` (default `type(x)`) with `x`'s metadata.

    Only the metadata names `expected_type` declares are compared (e.g. none for an image made by masking).

    With `round_trip`, each result must also come back identical (type, metadata, values) from
    `pickle` and from `torch.save` + `typedtensor.load` (weights_only). Returns `op(x)`.
    """
    if not isinstance(x, TensorBase):
        raise TypeError(f"check_typed_op: x must be a typed tensor, got {type(x).__name__}")
    want = expected_type or type(x)
    meta = {n: v for n, v in x.meta.items() if n in want._meta}  # what `want` declares of x's metadata
    out = op(x)
    results = _tensors(out)
    if not results:
        raise AssertionError(f"check_typed_op: {op!r} returned no tensor ({type(out).__name__})")
    for i, r in enumerate(results):
        what = f"{getattr(op, '__name__', 'op')} result {i}"
        if type(r) is not want:
            raise AssertionError(f"{what}: expected type {want.__name__}, got {type(r).__name__}")
        got = {n: r.meta[n] for n in meta if n in r.meta}
        if got.keys() != meta.keys() or not all(_meta_equal(got[k], v) for k, v in meta.items()):
            raise AssertionError(f"{what}: expected metadata {meta}, got {r.meta}")
        if round_trip:
            r = r.detach()
            assert_same_typed(pickle.loads(pickle.dumps(r)), r, f"{what} after pickle")
            buf = io.BytesIO()
            torch.save(r, buf)
            buf.seek(0)
            assert_same_typed(load(buf), r, f"{what} after torch.save/typedtensor.load")
    return out
