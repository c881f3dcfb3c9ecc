"""The semantic tensor types: images, masks, points, boxes, categories and text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from typedtensor.canvas import Canvas, Color, blend_mask, draw_boxes, draw_points, image_to_rgb
from typedtensor.core import TensorBase, register_mixed_rule

__all__ = [
    "TensorImage",
    "TensorImageBW",
    "TensorMask",
    "TensorPoint",
    "TensorBBox",
    "TensorCategory",
    "TensorMultiCategory",
    "TensorText",
]


def _canvas_size(owner: str, value: Any) -> tuple[int, int]:
    """`value` as an (height, width) tuple of two non-negative ints, or a ValueError naming `owner`."""
    try:
        h, w = (int(v) for v in value)
    except (TypeError, ValueError):
        raise ValueError(f"{owner}: canvas_size must be (height, width), got {value!r}") from None
    if h < 0 or w < 0:
        raise ValueError(f"{owner}: canvas_size must be non-negative (height, width), got {value!r}")
    return (h, w)


def _blank_for(x: TensorBase, ctx: Canvas | None) -> Canvas:
    if ctx is not None and not ctx.is_empty:
        return ctx
    size = getattr(x, "canvas_size", None)
    if size is None:
        raise ValueError(f"{type(x).__name__}.show: give a ctx canvas or build the tensor with canvas_size=(h, w)")
    return Canvas(*size) if ctx is None else ctx.resize_blank(*size)


def _names(ids: Sequence[Any], vocab: Sequence[Any] | None) -> list[str]:
    if vocab is None:
        return [str(i) for i in ids]
    out = []
    for i in ids:
        if not 0 <= int(i) < len(vocab):
            raise IndexError(f"index {i} is outside the vocab of {len(vocab)} items")
        out.append(str(vocab[int(i)]))
    return out


class TensorImage(TensorBase):
    """An image or a batch of images, channels first: (..., C, H, W); float in [0, 1] or uint8 in [0, 255]."""

    def show(self, ctx: Canvas | None = None, *, alpha: float = 1.0, **kwargs: Any) -> Canvas:
        """Paint the image on `ctx` (blended by `alpha`), or on a new canvas of its size; returns the canvas."""
        del kwargs
        rgb = image_to_rgb(self, type(self).__name__)
        if ctx is None:
            return Canvas.from_array(rgb)
        if ctx.is_empty:  # e.g. a title drawn first: the picture takes the image's size
            ctx.image = Canvas.from_array(rgb).image
            return ctx
        if ctx.size != rgb.shape[:2]:
            raise ValueError(f"{type(self).__name__}.show: image is {rgb.shape[:2]} but the canvas is {ctx.size}")
        mixed = (1 - alpha) * ctx.to_array().astype(np.float32) + alpha * rgb.astype(np.float32)
        ctx.image = Canvas.from_array(np.rint(mixed).astype(np.uint8)).image
        return ctx


class TensorImageBW(TensorImage):
    """A one-channel (grey-scale) image: (..., 1, H, W) or (H, W)."""


class TensorMask(TensorBase):
    """A segmentation mask of integer class codes, (..., H, W); 0 is drawn as background. `codes` names them."""

    _meta = ("codes",)

    def show(self, ctx: Canvas | None = None, *, alpha: float = 0.5, **kwargs: Any) -> Canvas:
        """Overlay the non-zero codes in palette colours (`alpha` opaque); code 0 leaves pixels untouched."""
        del kwargs
        if ctx is None or ctx.is_empty:
            h, w = self.shape[-2], self.shape[-1]
            ctx, alpha = (Canvas(h, w) if ctx is None else ctx.resize_blank(h, w)), 1.0
        blend_mask(ctx, self, alpha, type(self).__name__)
        return ctx


class _CanvasCoords(TensorBase):
    """What points and boxes share: a last dimension of `_width` pixel coordinates, and the `canvas_size`
    (h, w) of their image, both checked the same way (constructors, `cast`, metadata updates)."""

    _meta = ("canvas_size",)
    _width: ClassVar[int]  # the size of the last dimension
    _coords: ClassVar[str]  # what it holds, for error messages
    canvas_size: tuple[int, int] | None

    @classmethod
    def _check_shape(cls, t: torch.Tensor) -> None:
        if t.ndim == 0 or t.shape[-1] != cls._width:
            shape = tuple(t.shape)
            raise ValueError(f"{cls.__name__}: expected shape (..., {cls._width}) of {cls._coords}, got {shape}")

    @classmethod
    def _check_meta_value(cls, name: str, value: Any) -> Any:
        return _canvas_size(cls.__name__, value) if name == "canvas_size" else value


class TensorPoint(_CanvasCoords):
    """Points as (..., 2) x/y in pixels (pixel centres at i + 0.5); `canvas_size` is (h, w) of their image."""

    _width, _coords = 2, "x, y coordinates"

    def show(self, ctx: Canvas | None = None, *, color: Color = (255, 0, 0), radius: int = 1, **kwargs: Any) -> Canvas:
        """Draw each point as a dot of `radius` pixels on `ctx`, or on a blank canvas of `canvas_size`."""
        del kwargs
        ctx = _blank_for(self, ctx)
        draw_points(ctx, self, color, radius)
        return ctx


class TensorBBox(_CanvasCoords):
    """Boxes as (..., 4) x1, y1, x2, y2 in pixels; `canvas_size` is (h, w) of their image."""

    _width, _coords = 4, "x1, y1, x2, y2"

    def show(
        self,
        ctx: Canvas | None = None,
        *,
        labels: Sequence[str] | None = None,
        color: Color | None = None,
        width: int = 1,
        **kwargs: Any,
    ) -> Canvas:
        """Draw each box as a rectangle (palette colour per box unless `color`), with optional `labels`."""
        del kwargs
        ctx = _blank_for(self, ctx)
        draw_boxes(ctx, self, labels, color, width)
        return ctx


class TensorCategory(TensorBase):
    """A class index (or a batch of them); `vocab` maps an index to its name."""

    _meta = ("vocab",)
    vocab: Sequence[Any] | None

    def show(self, ctx: Canvas | None = None, **kwargs: Any) -> Canvas:
        """Set the canvas title to the class name (or index when there is no vocab)."""
        del kwargs
        ctx = Canvas(0, 0) if ctx is None else ctx
        ctx.title = "; ".join(_names(self.detach().cpu().flatten().tolist(), self.vocab))
        return ctx


class TensorMultiCategory(TensorBase):
    """Multi-label targets: a one-hot (..., n_classes) vector; `vocab` names the classes."""

    _meta = ("vocab",)
    vocab: Sequence[Any] | None

    def show(self, ctx: Canvas | None = None, **kwargs: Any) -> Canvas:
        """Set the canvas title to the names of the classes that are on (value > 0.5), joined by ';'."""
        del kwargs
        ctx = Canvas(0, 0) if ctx is None else ctx
        on = (self.detach().cpu().flatten() > 0.5).nonzero().flatten().tolist()
        ctx.title = "; ".join(_names(on, self.vocab))
        return ctx


class TensorText(TensorBase):
    """Token ids of a text (or a batch of them); `vocab` maps an id to its token."""

    _meta = ("vocab",)
    vocab: Sequence[Any] | None

    def show(self, ctx: Canvas | None = None, *, max_len: int = 60, **kwargs: Any) -> Canvas:
        """Set the canvas title to the tokens (ids when there is no vocab), cut after `max_len` of them."""
        del kwargs
        ctx = Canvas(0, 0) if ctx is None else ctx
        ids = self.detach().cpu().flatten().tolist()
        words = _names(ids[:max_len], self.vocab)
        ctx.title = " ".join(words) + (" ..." if len(ids) > max_len else "")
        return ctx


# Masking an image (image * mask, mask * image, torch.where(mask, img, 0)) gives an image.
register_mixed_rule(TensorImage, TensorMask, TensorImage)
