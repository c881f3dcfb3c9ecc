"""Public contract checks for batch augmentations, used by this package's tests and by downstream packages."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["check_kernel"]


def _elements(sample: Any) -> tuple[Any, ...]:
    return tuple(sample) if isinstance(sample, tuple) else (sample,)


def _same(a: torch.Tensor, b: torch.Tensor, atol: float, what: str, mismatch: float = 0.0) -> None:
    a, b = a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
    if a.is_floating_point():
        diff = (a.double() - b.double()).abs().max().item() if a.numel() else 0.0
        if diff > atol:
            raise AssertionError(f"{what}: values differ by up to {diff:.3g} (tolerance {atol})")
    elif not torch.equal(a, b):
        # labels resampled with nearest sampling may round differently on another device at exact ties
        frac = (a != b).double().mean().item()
        if frac > mismatch:
            raise AssertionError(f"{what}: {frac:.2%} of the values differ")


def check_kernel(kernel: Any, sample: Any, *, atol: float = 1e-4, compare_devices: bool = True) -> Any:
    """Check the batch-augmentation contract of `kernel` (a transform with `draw`/`params=`) on `sample`.

    `sample` is a batch or a tuple of batches of one sample (image, mask, points, boxes). Checks that:
    the inputs are not modified in place; every output keeps its input's type, dtype and device; the
    batched result equals the stack of single-item results under the same draw (`params.select`); and,
    when CUDA is available and `compare_devices`, that the same draw on the GPU gives the CPU's result.
    Returns the batched output. Raises AssertionError naming the element and the broken property.
    """
    items = _elements(sample)
    before = [e.clone() if isinstance(e, torch.Tensor) else e for e in items]
    out = kernel(sample)
    params = kernel.last_params
    outs = _elements(out)
    if len(outs) != len(items):
        raise AssertionError(f"check_kernel: {len(items)} elements in, {len(outs)} out")
    for j, (e, b, o) in enumerate(zip(items, before, outs, strict=True)):
        if not isinstance(e, torch.Tensor):
            continue
        name = f"element {j} ({type(e).__name__})"
        _same(e, b, 0.0, f"{name} modified in place")
        if type(o) is not type(e):
            raise AssertionError(f"{name}: output type {type(o).__name__}, expected {type(e).__name__}")
        if o.dtype != e.dtype or o.device != e.device:
            raise AssertionError(f"{name}: output {o.dtype} on {o.device}, expected {e.dtype} on {e.device}")
    n = next(e.shape[0] for e in items if isinstance(e, torch.Tensor))
    for i in range(n):
        one = tuple(e[i : i + 1] if isinstance(e, torch.Tensor) else e for e in items)
        single = _elements(kernel(one if isinstance(sample, tuple) else one[0], params=params.select([i])))
        for j, (o, s) in enumerate(zip(outs, single, strict=True)):
            if isinstance(o, torch.Tensor):
                _same(o[i : i + 1], s, atol, f"element {j} ({type(o).__name__}), item {i}: batched vs single")
    if compare_devices and torch.cuda.is_available():
        moved = tuple(e.cuda() if isinstance(e, torch.Tensor) else e for e in items)
        on_gpu = _elements(kernel(moved if isinstance(sample, tuple) else moved[0], params=params))
        for j, (o, g) in enumerate(zip(outs, on_gpu, strict=True)):
            if isinstance(o, torch.Tensor):
                if g.device.type != "cuda":
                    raise AssertionError(f"element {j}: a CUDA input came back on {g.device}")
                _same(o, g.cpu(), atol, f"element {j} ({type(o).__name__}): CPU vs CUDA", mismatch=1e-3)
    return out
