"""Hyper-parameter helpers shared by optimizers and training loops."""

from __future__ import annotations

__all__ = ["spread_slice"]


def spread_slice(s: slice, n_groups: int) -> list[float]:
    """Spread a `slice` of learning rates over `n_groups` parameter groups.

    `slice(lo, hi)` is spread geometrically from `lo` to `hi` (one group gets `hi`);
    `slice(hi)` gives `hi / 10` to every group but the last, which gets `hi`.
    """
    if n_groups < 1:
        raise ValueError(f"spread_slice needs at least one group, got n_groups={n_groups}")
    if s.start is None:
        return [s.stop / 10] * (n_groups - 1) + [s.stop]
    if n_groups == 1:
        return [s.stop]
    ratio = (s.stop / s.start) ** (1 / (n_groups - 1))
    return [s.start * ratio**i for i in range(n_groups)]
