"""Points and boxes of an image sample: creating them, giving them their image's canvas, and moving them with the
item transforms (resize, crop, pad, flip, dihedral) exactly as the picture moves.

Coordinates are pixels (pixel (i, j) spans [j, j + 1) x [i, i + 1), so pixel centres sit at i + 0.5), both here
and in the batch transforms of gpu-augment; the model-facing scaling to [-1, 1] is the last batch step
(`gpu_augment.PointScaler`). A box is (x1, y1, x2, y2); a box with no area left on the canvas becomes the padding
box (0, 0, 0, 0) (gpu-augment's convention), which `DropEmptyBoxes` removes with its label.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

import numpy as np
import torch

from apps_vision.core import PILBase
from datablock import Category, CategoryMap
from dispatch_transforms import DisplayedTransform, ItemTransform
from typedtensor import TensorBBox, TensorCategory, TensorImage, TensorPoint

__all__ = [
    "PointCreate",
    "BBoxCreate",
    "BBoxLabels",
    "CanvasFromImage",
    "canvas_of",
    "map_coords",
    "window_coords",
    "dihedral_coords",
]


def _as_float_tensor(x: Any, owner: str, width: int, what: str) -> torch.Tensor:
    """`x` (a tensor, an array, or nested lists of numbers) as a float32 (k, width) tensor, or a clear error."""
    try:
        t = x.detach().as_subclass(torch.Tensor) if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
        t = t.to(torch.float32)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{owner}: expected {what}, got {x!r} ({e})") from None
    if t.numel() == 0:
        return t.reshape(0, width)
    if t.ndim == 1 and t.shape[0] == width:
        t = t[None]
    if t.ndim != 2 or t.shape[1] != width:
        raise ValueError(f"{owner}: expected {what}, got shape {tuple(t.shape)} from {x!r}")
    if not torch.isfinite(t).all():
        raise ValueError(f"{owner}: coordinates must be finite, got {t.tolist()}")
    return t


class PointCreate(DisplayedTransform):
    """Key points of an item ([[x, y], ...] pixels, as a list, array or tensor) → a `TensorPoint` (k, 2).

    `c` (2 * points, the model's outputs) is learned from the first training item, and every item must have
    as many points (one batch stacks them). The canvas size comes later, from the sample's image
    (`CanvasFromImage`, which `PointBlock` adds to the item transforms).
    """

    config_safe = True  # rebuilt from plain data by an export (plain arguments only)

    retain = False  # encodes builds the typed tensor it returns (no re-typing to the input's type)
    target_type = TensorPoint  # a model's plain predictions are typed as points, so they decode to pixels
    order = 1
    train_setup = True
    loss_kind = "mse"

    def __init__(self, c: int | None = None) -> None:
        super().__init__()
        self.c = c

    def setups(self, items: Any) -> None:
        if self.c is None and items is not None and len(items):
            self.c = 2 * _as_float_tensor(items[0], "PointBlock", 2, "points [[x, y], ...]").shape[0]

    def encodes(self, x: object) -> TensorPoint:
        if isinstance(x, TensorPoint):
            return x
        t = _as_float_tensor(x, "PointBlock", 2, "points [[x, y], ...]")
        if self.c is not None and 2 * t.shape[0] != self.c:
            raise ValueError(
                f"PointBlock: an item has {t.shape[0]} points but the training items have {self.c // 2}; every "
                "item needs as many points (a batch stacks them; the model has 2 outputs per point)"
            )
        return TensorPoint(t)


class BBoxCreate(DisplayedTransform):
    """Boxes of an item ([[x1, y1, x2, y2], ...] pixels; any number, none included) → a `TensorBBox` (k, 4).

    A box with x2 < x1 or y2 < y1 is refused (it would be silently read as another box).
    """

    config_safe = True  # rebuilt from plain data by an export (plain arguments only)

    retain = False  # encodes builds the typed tensor it returns (no re-typing to the input's type)
    target_type = TensorBBox
    order = 1

    def encodes(self, x: object) -> TensorBBox:
        if isinstance(x, TensorBBox):
            return x
        t = _as_float_tensor(x, "BBoxBlock", 4, "boxes [[x1, y1, x2, y2], ...]")
        bad = ((t[:, 2] < t[:, 0]) | (t[:, 3] < t[:, 1])).nonzero().flatten().tolist()
        if bad:
            raise ValueError(
                f"BBoxBlock: box {bad[0]} {t[bad[0]].tolist()} has x2 < x1 or y2 < y1; boxes are (x1, y1, x2, y2) "
                "pixels (convert COCO's [x, y, w, h] with get_annotations)"
            )
        return TensorBBox(t)


class BBoxLabels(DisplayedTransform):
    """The labels of an item's boxes (a list of names) → a `TensorCategory` (k,) of indices into `vocab`.

    The vocab is learned from the training labels (sorted) unless given; with `add_na` (fastai's default for
    box labels) index 0 is '#na#', the label of padding boxes (see `bb_pad`). A label outside the vocab is
    refused rather than mapped to '#na#' (that would silently turn an object into padding).
    Decodes to the list of names.
    """

    config_safe = True  # rebuilt from plain data by an export (plain arguments only)

    retain = False  # results as returned: encodes builds the typed tensor, decodes a list of names
    target_type = TensorCategory
    order = 1
    train_setup = True

    def __init__(self, vocab: Iterable[Hashable] | None = None, add_na: bool = True) -> None:
        super().__init__()
        self.add_na = add_na
        self.vocab = None if vocab is None else CategoryMap(list(vocab), sort=False, add_na=add_na)

    def setups(self, items: Any) -> None:
        if self.vocab is None and items is not None:
            self.vocab = CategoryMap((o for labels in items for o in labels), sort=True, add_na=self.add_na)

    def encodes(self, x: object) -> TensorCategory:
        if isinstance(x, TensorCategory):
            return x
        if self.vocab is None:
            raise RuntimeError("BBoxLblBlock: no vocab yet; set it up on the training labels or pass vocab=")
        if isinstance(x, (str, bytes)) or not isinstance(x, Iterable):
            raise ValueError(
                f"BBoxLblBlock: expected a list of labels (one per box), got {x!r}: give a list, e.g. [{x!r}] for one "
                "box (a tuple of labels reaches this step one label at a time, as a sample's parts do)"
            )
        labels = list(x)
        unknown = [o for o in labels if o not in self.vocab]
        if unknown:
            raise ValueError(
                f"BBoxLblBlock: label {unknown[0]!r} is not in the vocab {list(self.vocab)}; it appears only "
                "outside the training split, or pass vocab= with every class"
            )
        ids = torch.tensor([self.vocab.index(o) for o in labels], dtype=torch.long)
        return TensorCategory(ids, vocab=self.vocab)

    def decodes(self, x: torch.Tensor) -> list[Category]:
        vocab = self.vocab if self.vocab is not None else getattr(x, "vocab", None)
        ids = x.detach().cpu().flatten().tolist()
        return [Category(vocab[int(i)]) if vocab is not None else Category(str(int(i))) for i in ids]


def _image_size(sample: tuple, owner: str) -> tuple[int, int]:
    """(height, width) shared by the images of a sample (PIL images or `TensorImage`s)."""
    sizes = set()
    for o in sample:
        if isinstance(o, PILBase):
            sizes.add((o.height, o.width))
        elif isinstance(o, TensorImage):
            sizes.add((int(o.shape[-2]), int(o.shape[-1])))
    if not sizes:
        names = ", ".join(type(o).__name__ for o in sample)
        raise ValueError(f"{owner}: the sample ({names}) has no image to take the points' and boxes' canvas from")
    if len(sizes) > 1:
        raise ValueError(f"{owner}: the images of one sample have different sizes {sorted(sizes)} (height, width)")
    return sizes.pop()


class CanvasFromImage(ItemTransform):
    """Give the points and boxes of a sample the canvas size (h, w) of the sample's image.

    The first item step (order -10), so the item transforms that follow know where the points lie on their
    image. Points keep their pixel values (a point may lie off its image); boxes are clipped to the image as every
    item transform clips them, so a box partly outside is the same with or without a transform, and a box wholly
    outside is refused (it is a data error: x and y swapped, another image's box). A canvas size they already
    carry must match the image.
    """

    config_safe = True  # rebuilt from plain data by an export (plain arguments only)

    order = -10

    def encodes(self, x: tuple) -> tuple:
        if not any(isinstance(o, (TensorPoint, TensorBBox)) for o in x):
            return x
        size = _image_size(x, "CanvasFromImage")
        out = []
        for o in x:
            if isinstance(o, (TensorPoint, TensorBBox)):
                have = getattr(o, "canvas_size", None)
                if have is not None and tuple(have) != size:
                    raise ValueError(
                        f"CanvasFromImage: the {type(o).__name__} says its canvas is {tuple(have)} but its image is "
                        f"{size} (height, width)"
                    )
                t = o.as_subclass(torch.Tensor)
                if isinstance(o, TensorBBox):
                    t = _clip_to_image(t, size)
                o = type(o).wrap(t, like=o, canvas_size=size)
            out.append(o)
        return tuple(out)


def _clip_to_image(t: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """An item's boxes (k, 4) clipped to their image (h, w) as every item transform clips them (so the boxes are the
    same with or without one); a box with area that lies wholly outside the image is refused."""
    b = t.reshape(-1, 4).double()
    clipped = _clip_boxes(b, size, empty=(b == 0).all(-1))
    has_area = (b[:, 2] > b[:, 0]) & (b[:, 3] > b[:, 1])
    outside = (has_area & (clipped == 0).all(-1)).nonzero().flatten().tolist()
    if outside:
        raise ValueError(
            f"CanvasFromImage: box {outside[0]} {b[outside[0]].tolist()} lies wholly outside its image of {size} "
            "(height, width); boxes are (x1, y1, x2, y2) pixels of their own image (x the column, y the row)"
        )
    return clipped.reshape(t.shape).to(t.dtype)


def canvas_of(x: TensorPoint | TensorBBox, owner: str) -> tuple[int, int]:
    """The (h, w) canvas size a point or box tensor carries, or an error saying how to give it one."""
    size = getattr(x, "canvas_size", None)
    if size is None:
        raise ValueError(
            f"{owner}: the {type(x).__name__} has no canvas_size; put CanvasFromImage() first in the item "
            "transforms (PointBlock and BBoxBlock do) or build it with canvas_size=(h, w)"
        )
    return (int(size[0]), int(size[1]))


def map_coords(
    x: TensorPoint | TensorBBox,
    scale: tuple[float, float],
    shift: tuple[float, float],
    canvas_size: tuple[int, int],
) -> TensorPoint | TensorBBox:
    """Points or boxes moved by x' = (x + shift_x) * scale_x, y' = (y + shift_y) * scale_y onto a new canvas (h, w).

    Points are kept even when they leave the canvas; boxes are clipped to it and a box left with no area becomes
    the padding box (0, 0, 0, 0), as in gpu-augment's batch transforms.
    """
    t = x.as_subclass(torch.Tensor)
    shape = t.shape
    xy = t.reshape(-1, 2).double()
    moved = (xy + xy.new_tensor(shift)) * xy.new_tensor(scale)
    if isinstance(x, TensorBBox):
        moved = _clip_boxes(moved.reshape(-1, 4), canvas_size, empty=(t.reshape(-1, 4) == 0).all(-1))
    return type(x).wrap(moved.reshape(shape).to(t.dtype), like=x, canvas_size=canvas_size)


def _clip_boxes(b: torch.Tensor, canvas_size: tuple[int, int], empty: torch.Tensor) -> torch.Tensor:
    """Boxes (k, 4) re-ordered (x1 <= x2, y1 <= y2), clipped to the canvas; empty ones and `empty` → zeros."""
    h, w = canvas_size
    x1, x2 = torch.minimum(b[:, 0], b[:, 2]).clamp(0, w), torch.maximum(b[:, 0], b[:, 2]).clamp(0, w)
    y1, y2 = torch.minimum(b[:, 1], b[:, 3]).clamp(0, h), torch.maximum(b[:, 1], b[:, 3]).clamp(0, h)
    out = torch.stack([x1, y1, x2, y2], -1)
    gone = empty | (x2 <= x1) | (y2 <= y1)
    return out.masked_fill(gone[:, None], 0)


def dihedral_coords(x: TensorPoint | TensorBBox, k: int) -> TensorPoint | TensorBBox:
    """Points or boxes moved as Pillow's transpose number k (1..7 in `DihedralItem`'s order; 0: unchanged) moves the
    image they lie on; the canvas (h, w) swaps for the quarter turns and transposes."""
    h, w = canvas_of(x, "DihedralItem")
    t = x.as_subclass(torch.Tensor)
    shape = t.shape
    xy = t.reshape(-1, 2).double()
    px, py = xy[:, 0], xy[:, 1]
    maps = {  # (new x, new y, new canvas) for each of Pillow's transposes
        0: (px, py, (h, w)),
        1: (w - px, py, (h, w)),  # FLIP_LEFT_RIGHT
        2: (px, h - py, (h, w)),  # FLIP_TOP_BOTTOM
        3: (py, w - px, (w, h)),  # ROTATE_90 (counter-clockwise)
        4: (w - px, h - py, (h, w)),  # ROTATE_180
        5: (h - py, px, (w, h)),  # ROTATE_270
        6: (py, px, (w, h)),  # TRANSPOSE
        7: (h - py, w - px, (w, h)),  # TRANSVERSE
    }
    nx, ny, size = maps[int(k)]
    moved = torch.stack([nx, ny], -1)
    if isinstance(x, TensorBBox):
        moved = _clip_boxes(moved.reshape(-1, 4), size, empty=(t.reshape(-1, 4) == 0).all(-1))
    return type(x).wrap(moved.reshape(shape).to(t.dtype), like=x, canvas_size=size)


def window_coords(
    x: TensorPoint | TensorBBox,
    size: tuple[int, int],
    tl: tuple[int, int],
    resize_to: tuple[int, int] | None = None,
) -> TensorPoint | TensorBBox:
    """Points or boxes as `crop_pad` moves their image: the (width, height) `size` window at top-left `tl`, then
    resized to `resize_to` (width, height) when given (the coordinate twin of `apps_vision.crop_pad`)."""
    (sw, sh), (left, top) = size, tl
    tw, th = resize_to if resize_to is not None else (sw, sh)
    return map_coords(x, (tw / sw, th / sh), (-left, -top), (th, tw))
