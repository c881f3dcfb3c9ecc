"""Batched 3x3 affine matrices in normalised (-1..1) coordinates."""

from __future__ import annotations

import math

import torch

__all__ = ["rotation_matrix"]


def rotation_matrix(degrees: torch.Tensor) -> torch.Tensor:
    """Return a (n, 3, 3) batch of rotations by `degrees` (shape (n,)), counter-clockwise."""
    theta = degrees * (math.pi / 180)
    cos, sin = torch.cos(theta), torch.sin(theta)
    out = torch.zeros(degrees.shape[0], 3, 3, dtype=degrees.dtype, device=degrees.device)
    out[:, 0, 0], out[:, 0, 1] = cos, -sin
    out[:, 1, 0], out[:, 1, 1] = sin, cos
    out[:, 2, 2] = 1
    return out
