"""Annealing functions: value at position `pos` in [0, 1] going from `start` to `end`."""

from __future__ import annotations

import math

__all__ = ["sched_cos", "sched_lin"]


def sched_lin(start: float, end: float, pos: float) -> float:
    """Linear interpolation from `start` (pos=0) to `end` (pos=1)."""
    return start + pos * (end - start)


def sched_cos(start: float, end: float, pos: float) -> float:
    """Cosine annealing from `start` (pos=0) to `end` (pos=1), flat at both ends."""
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2
