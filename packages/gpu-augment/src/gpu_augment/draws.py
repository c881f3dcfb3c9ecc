"""Per-item random draws from a seedable `torch.Generator`, and the batch geometry they are drawn for.

Draws are tiny and made on the host with a CPU generator: the same seed gives the same draw whether the
batch lives on the CPU or a GPU, and deciding which items to skip needs no device synchronisation.
"""

from __future__ import annotations

from typing import Any

import torch

from dispatch_transforms import RandTransform
from typedtensor import TensorBBox, TensorImage, TensorMask, TensorPoint

__all__ = ["BatchRandTransform", "batch_geometry", "uniform", "bernoulli", "check_generator"]


def check_generator(generator: Any, owner: str) -> torch.Generator | None:
    """`generator` if it is None or a CPU `torch.Generator`, else a TypeError naming `owner`."""
    if generator is None:
        return None
    if not isinstance(generator, torch.Generator) or generator.device.type != "cpu":
        raise TypeError(
            f"{owner}: generator must be a CPU torch.Generator (draws are made on the host), got {generator!r}"
        )
    return generator


def uniform(n: int, low: float, high: float, generator: torch.Generator, batch: bool = False) -> torch.Tensor:
    """(n,) float32 values uniform in [low, high); with `batch`, one value repeated for all items."""
    u = torch.rand(1 if batch else n, generator=generator, dtype=torch.float64)
    return (low + (high - low) * u).float().expand(n).clone()


def bernoulli(n: int, p: float, generator: torch.Generator, batch: bool = False) -> torch.Tensor:
    """(n,) bools, true with probability `p` (always drawn, so a replayed seed stays aligned)."""
    u = torch.rand(1 if batch else n, generator=generator, dtype=torch.float64)
    return (u < p).expand(n).clone()


def _elements(x: Any) -> tuple[Any, ...]:
    return tuple(x) if isinstance(x, tuple | list) else (x,)


def batch_geometry(x: Any, owner: str) -> tuple[int, tuple[int, int]]:
    """(batch size, canvas size (h, w)) of a batch or a tuple of batches; every element must agree.

    Images and masks give their last two dimensions, points and boxes their `canvas_size`.
    """
    found: list[tuple[str, int, tuple[int, int]]] = []
    for e in _elements(x):
        if isinstance(e, TensorImage | TensorMask):
            if e.ndim < 3:
                raise ValueError(f"{owner}: expected a batch, got a {type(e).__name__} of shape {tuple(e.shape)}")
            found.append((type(e).__name__, e.shape[0], (int(e.shape[-2]), int(e.shape[-1]))))
        elif isinstance(e, TensorPoint | TensorBBox):
            if e.canvas_size is None:
                raise ValueError(f"{owner}: a {type(e).__name__} needs canvas_size=(h, w) to be transformed")
            if e.ndim != 3:
                raise ValueError(
                    f"{owner}: expected a {type(e).__name__} batch (n, k, {e.shape[-1]}), got {tuple(e.shape)}"
                )
            found.append((type(e).__name__, e.shape[0], e.canvas_size))
    if not found:
        names = ", ".join(type(e).__name__ for e in _elements(x))
        raise TypeError(
            f"{owner}: nothing to augment in ({names}); expected a TensorImage, TensorMask, TensorPoint or TensorBBox"
        )
    sizes = {f[2] for f in found}
    if len(sizes) > 1:
        listed = ", ".join(f"{name} {size}" for name, _, size in found)
        raise ValueError(f"{owner}: the batch mixes canvas sizes ({listed}); resize them to one size first")
    counts = {f[1] for f in found}
    if len(counts) > 1:
        listed = ", ".join(f"{name} {n}" for name, n, _ in found)
        raise ValueError(f"{owner}: the elements hold different numbers of items ({listed})")
    return found[0][1], found[0][2]


class BatchRandTransform(RandTransform):
    """A `RandTransform` for batches: `p` is the probability per item (or per batch with `batch=True`).

    `draw(x, generator)` gets a CPU `torch.Generator` (`generator=` or torch's default one, seeded by
    `torch.manual_seed`) and returns a frozen dataclass of per-item parameters.
    """

    def __init__(
        self,
        p: float = 1.0,
        *,
        batch: bool = False,
        generator: torch.Generator | None = None,
        split_idx: int | None = None,
        order: int | None = None,
    ) -> None:
        super().__init__(p=p, split_idx=split_idx, order=order)
        self.batch = bool(batch)
        self.generator = check_generator(generator, type(self).__name__)

    def get_generator(self, x: Any) -> torch.Generator:  # noqa: ARG002 (the same generator for every input)
        """`self.generator`, else torch's default CPU generator (so `torch.manual_seed` repeats a run)."""
        return self.generator if self.generator is not None else torch.default_generator

    def __repr__(self) -> str:
        """One line: the class and its arguments (composed parts shown the same way)."""
        args = ", ".join(f"{k}={v!r}" for k, v in self._arguments().items() if v is not None and k != "generator")
        return f"{self.name}({args})"

    def decide(self, x: Any, generator: Any) -> bool:  # noqa: ARG002 (decided per item in `draw`)
        """Always draw: whether each item changes is decided per item from `p` inside `draw`."""
        return True
