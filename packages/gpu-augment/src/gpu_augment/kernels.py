"""Geometric kernels on plain tensors: one draw (`AffineParams`) applied to images, masks, points and boxes.

The transforms in `gpu_augment.affine` call these after unwrapping the typed tensors; they are public so a
user can apply a draw to data outside a pipeline (e.g. to merge test-time-augmentation predictions).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gpu_augment.bbox import empty_boxes
from gpu_augment.grid import map_boxes, map_points, resample, to_normalised, to_pixels

__all__ = ["AffineParams", "affine_image", "affine_mask", "affine_points", "affine_boxes", "inside_canvas"]


@dataclass(frozen=True)
class AffineParams:
    """One geometric draw for a batch: per-item sampling matrices and the canvas sizes it maps between.

    `matrix` is (n, 3, 3) on the host (see `gpu_augment.matrices` for the convention); `in_size` and
    `out_size` are (h, w). `inverse()` is the draw that undoes this one.
    """

    matrix: torch.Tensor
    in_size: tuple[int, int]
    out_size: tuple[int, int]

    def __post_init__(self) -> None:
        if self.matrix.ndim != 3 or self.matrix.shape[1:] != (3, 3):
            raise ValueError(f"AffineParams: matrix must be (n, 3, 3), got {tuple(self.matrix.shape)}")

    @property
    def n(self) -> int:
        """Number of items the draw is for."""
        return self.matrix.shape[0]

    def select(self, index: Sequence[int] | torch.Tensor) -> AffineParams:
        """The draw of the items at `index` (to replay it on part of the batch)."""
        return AffineParams(self.matrix[torch.as_tensor(index, dtype=torch.long)], self.in_size, self.out_size)

    def inverse(self) -> AffineParams:
        """The draw mapping this draw's output back onto its input (exact for points; resampling is lossy)."""
        inv = torch.linalg.inv(self.matrix.double()).to(self.matrix.dtype)
        inv = inv / inv[:, 2:, 2:]  # keep the homogeneous scale canonical, so an identity stays exactly one
        return AffineParams(inv, self.out_size, self.in_size)


def _check_batch(name: str, x: torch.Tensor, params: AffineParams, size: Sequence[int] | None) -> None:
    if x.shape[0] != params.n:
        raise ValueError(f"{name}: batch of {x.shape[0]} items but the draw is for {params.n}")
    if size is not None and tuple(size) != tuple(params.in_size):
        raise ValueError(f"{name}: canvas size {tuple(size)} differs from the draw's canvas size {params.in_size}")


def affine_image(
    x: torch.Tensor, params: AffineParams, *, mode: str = "bilinear", pad_mode: str = "reflection"
) -> torch.Tensor:
    """Resample a float image batch (n, c, h, w) through the draw (one `grid_sample`)."""
    if not x.is_floating_point():
        raise TypeError(
            f"affine_image: expected a float image batch in [0, 1], got dtype {x.dtype}; convert with x.float() / 255"
        )
    if x.ndim != 4:
        raise ValueError(f"affine_image: expected an image batch (n, c, h, w), got shape {tuple(x.shape)}")
    _check_batch("affine_image", x, params, x.shape[-2:])
    return resample(x, params.matrix, params.out_size, mode=mode, pad_mode=pad_mode)


def affine_mask(m: torch.Tensor, params: AffineParams, *, pad_mode: str = "reflection") -> torch.Tensor:
    """Resample a mask batch (n, h, w) or (n, 1, h, w) with nearest sampling, keeping its dtype."""
    if m.ndim not in (3, 4):
        raise ValueError(f"affine_mask: expected a mask batch (n, h, w) or (n, 1, h, w), got {tuple(m.shape)}")
    _check_batch("affine_mask", m, params, m.shape[-2:])
    x = m if m.ndim == 4 else m[:, None]
    # float32 holds every integer class code below 2**24 exactly
    out = resample(x.float(), params.matrix, params.out_size, mode="nearest", pad_mode=pad_mode)
    out = out if m.ndim == 4 else out[:, 0]
    return out.to(m.dtype)


def affine_points(p: torch.Tensor, params: AffineParams) -> torch.Tensor:
    """Move pixel points (n, k, 2) with the content; points that leave the canvas are kept (not clipped)."""
    if p.ndim != 3 or p.shape[-1] != 2:
        raise ValueError(f"affine_points: expected points (n, k, 2), got shape {tuple(p.shape)}")
    _check_batch("affine_points", p, params, None)
    if p.shape[1] == 0:
        return p.clone()
    moved = map_points(to_normalised(p.double(), params.in_size), params.matrix)
    return to_pixels(moved, params.out_size).to(p.dtype)


def affine_boxes(b: torch.Tensor, params: AffineParams) -> torch.Tensor:
    """Move pixel boxes (n, k, 4): corners mapped, re-boxed, clipped to the canvas.

    A box that is empty afterwards (no area left on the canvas), or was the padding box (0, 0, 0, 0),
    becomes (0, 0, 0, 0): the padding convention shared with `bb_pad`; `DropEmptyBoxes` removes them.
    """
    if b.ndim != 3 or b.shape[-1] != 4:
        raise ValueError(f"affine_boxes: expected boxes (n, k, 4), got shape {tuple(b.shape)}")
    _check_batch("affine_boxes", b, params, None)
    if b.shape[1] == 0:
        return b.clone()
    pad = (b == 0).all(-1)
    b64 = b.double()
    norm = torch.cat([to_normalised(b64[..., :2], params.in_size), to_normalised(b64[..., 2:], params.in_size)], -1)
    moved = map_boxes(norm, params.matrix)
    out = torch.cat([to_pixels(moved[..., :2], params.out_size), to_pixels(moved[..., 2:], params.out_size)], -1)
    height, width = params.out_size
    limit = out.new_tensor([width, height, width, height])
    out = torch.minimum(out.clamp(min=0), limit)
    empty = pad | empty_boxes(out)
    return out.masked_fill(empty[..., None], 0).to(b.dtype)


def inside_canvas(p: torch.Tensor, canvas_size: tuple[int, int]) -> torch.Tensor:
    """(..., ) bools: which pixel points (..., 2) lie on a canvas (h, w), edges included."""
    height, width = canvas_size
    x, y = p[..., 0], p[..., 1]
    return (x >= 0) & (x <= width) & (y >= 0) & (y <= height)
