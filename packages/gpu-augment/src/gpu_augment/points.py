"""`PointScaler`: the model-facing scaling of key points to [-1, 1], as the last batch step, and back.

Points are pixels everywhere a user sees them (pixel (i, j) spans [j, j + 1) x [i, i + 1)); a regression model
predicts them in [-1, 1] (with `y_range=(-1, 1)`): x = -1 is the left edge of the canvas and 1 its right edge,
as in `grid_sample` with `align_corners=False`.
"""

from __future__ import annotations

from typing import Any

import torch

from dispatch_transforms import ItemTransform
from gpu_augment.grid import to_normalised, to_pixels
from typedtensor import TensorImage, TensorPoint

__all__ = ["PointScaler"]


def _image_size(x: tuple) -> tuple[int, int] | None:
    sizes = {(int(o.shape[-2]), int(o.shape[-1])) for o in x if isinstance(o, TensorImage)}
    return sizes.pop() if len(sizes) == 1 else None


def _canvas(p: TensorPoint, x: tuple, owner: str) -> tuple[int, int]:
    size = getattr(p, "canvas_size", None) or _image_size(x)
    if size is None:
        raise ValueError(
            f"{owner}: the points have no canvas_size and the batch holds no image to take it from; give the "
            "points their image's size (CanvasFromImage in the item transforms, or canvas_size=(h, w))"
        )
    return (int(size[0]), int(size[1]))


class PointScaler(ItemTransform):
    """Batch step: `TensorPoint`s from pixels to [-1, 1] of their canvas; decoding scales them back to pixels.

    The last step of a batch (order 120, after the geometric transforms that move the points in pixels). The
    canvas is the points' `canvas_size`, else the size of the batch's images. Decoding also accepts a model's
    flat predictions (n, 2k) re-typed as points, and returns (n, k, 2) pixels.

    fastai's `PointScaler` runs per item before the item transforms and scales boxes too; here the points stay
    in pixels through every transform and boxes are never scaled (detection models read pixel boxes).
    """

    config_safe = True  # rebuilt from plain data by an export (plain arguments only)

    order = 120

    def encodes(self, x: tuple) -> tuple:
        """Every `TensorPoint` of the batch `x` in [-1, 1] of its canvas."""
        return tuple(self._scale(o, x, to_normalised) if isinstance(o, TensorPoint) else o for o in x)

    def decodes(self, x: tuple) -> tuple:
        """Every `TensorPoint` of `x` back to pixels (flat (n, 2k) predictions reshaped to (n, k, 2))."""
        return tuple(self._scale(o, x, to_pixels) if isinstance(o, TensorPoint) else o for o in x)

    def _scale(self, p: TensorPoint, x: tuple, fn: Any) -> TensorPoint:
        size = _canvas(p, x, "PointScaler")
        t = p.as_subclass(torch.Tensor)
        if t.shape[-1] != 2:
            if t.ndim != 2 or t.shape[-1] % 2:
                raise ValueError(f"PointScaler: expected points (n, k, 2) or flat (n, 2k), got {tuple(t.shape)}")
            t = t.reshape(t.shape[0], -1, 2)
        return TensorPoint.wrap(fn(t, size), like=p, canvas_size=size)
