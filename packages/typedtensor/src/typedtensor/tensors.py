"""The semantic tensor types: images, masks, points, boxes, categories and text."""

from __future__ import annotations

from typing import Any

import torch

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


class TensorImage(TensorBase):
    """An image or a batch of images, channels first: (..., C, H, W); float in [0, 1] or uint8 in [0, 255]."""


class TensorImageBW(TensorImage):
    """A one-channel (grey-scale) image: (..., 1, H, W) or (H, W)."""


class TensorMask(TensorBase):
    """A segmentation mask of integer class codes, (..., H, W); 0 is drawn as background. `codes` names them."""

    _meta = ("codes",)


class TensorPoint(TensorBase):
    """Points as (..., 2) x/y in pixels (pixel centres at i + 0.5); `canvas_size` is (h, w) of their image."""

    _meta = ("canvas_size",)

    @classmethod
    def _check_shape(cls, t: torch.Tensor) -> None:
        if t.ndim == 0 or t.shape[-1] != 2:
            raise ValueError(f"{cls.__name__}: expected shape (..., 2) of x, y coordinates, got {tuple(t.shape)}")

    @classmethod
    def _check_meta_value(cls, name: str, value: Any) -> Any:
        return _canvas_size(cls.__name__, value) if name == "canvas_size" else value


class TensorBBox(TensorBase):
    """Boxes as (..., 4) x1, y1, x2, y2 in pixels; `canvas_size` is (h, w) of their image."""

    _meta = ("canvas_size",)

    @classmethod
    def _check_shape(cls, t: torch.Tensor) -> None:
        if t.ndim == 0 or t.shape[-1] != 4:
            raise ValueError(f"{cls.__name__}: expected shape (..., 4) of x1, y1, x2, y2, got {tuple(t.shape)}")

    @classmethod
    def _check_meta_value(cls, name: str, value: Any) -> Any:
        return _canvas_size(cls.__name__, value) if name == "canvas_size" else value


class TensorCategory(TensorBase):
    """A class index (or a batch of them); `vocab` maps an index to its name."""

    _meta = ("vocab",)


class TensorMultiCategory(TensorBase):
    """Multi-label targets: a one-hot (..., n_classes) vector; `vocab` names the classes."""

    _meta = ("vocab",)


class TensorText(TensorBase):
    """Token ids of a text (or a batch of them); `vocab` maps an id to its token."""

    _meta = ("vocab",)


# Masking an image (image * mask, mask * image, torch.where(mask, img, 0)) gives an image.
register_mixed_rule(TensorImage, TensorMask, TensorImage)
