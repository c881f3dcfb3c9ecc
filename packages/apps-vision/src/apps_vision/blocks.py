"""Blocks for the DataBlock API: `ImageBlock` (an input image), `MaskBlock` (a segmentation target), `PointBlock`
(key points), `BBoxBlock` and `BBoxLblBlock` (boxes and their labels)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from apps_vision.coords import BBoxCreate, BBoxLabels, CanvasFromImage, PointCreate
from apps_vision.core import AddMaskCodes, ImageSource, PILBase, PILImage, PILMask
from datablock import IntToFloatTensor, ToTensor, TransformBlock
from dispatch_transforms import Transform
from gpu_augment import DropEmptyBoxes, PadEmptyBoxes, PointScaler, bb_pad

__all__ = ["ImageCreate", "ImageBlock", "MaskBlock", "PointBlock", "BBoxBlock", "BBoxLblBlock"]


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class ImageCreate(Transform):
    """An item (path, bytes, array, tensor, PIL image) → the image class `img_cls` (`PILImage` by default).

    `img_cls` is kept as "module:QualName" so the step exports as plain data; loading it back imports that
    module and accepts only a subclass of `PILBase`.
    """

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)
    retain = False  # the created image as it is

    def __init__(self, img_cls: type[PILBase] | str = PILImage) -> None:
        super().__init__()
        self.img_cls = img_cls if isinstance(img_cls, str) else _class_path(img_cls)
        self._cls = _load_class(self.img_cls)

    def encodes(self, x: object) -> PILBase:
        if not isinstance(x, ImageSource):
            raise TypeError(
                f"ImageCreate: cannot make an image from a {type(x).__name__}; expected a path, bytes, an "
                "array, a tensor or a PIL image"
            )
        return self._cls.create(x)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_cls", None)  # a class is found again by name (pickles across worker processes either way)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._cls = _load_class(self.img_cls)


def _load_class(path: str) -> type[PILBase]:
    module, _, qual = path.partition(":")
    obj: Any = importlib.import_module(module)
    for part in qual.split("."):
        obj = getattr(obj, part)
    if not (isinstance(obj, type) and issubclass(obj, PILBase)):
        raise TypeError(f"ImageCreate: {path!r} is not a subclass of apps_vision.PILBase")
    return obj


def ImageBlock(cls: type[PILBase] = PILImage) -> TransformBlock:
    """An image input: items open as `cls`, become uint8 tensors per item and floats in [0, 1] per batch."""
    return TransformBlock(type_tfms=[ImageCreate(cls)], item_tfms=[ToTensor()], batch_tfms=[IntToFloatTensor()])


def MaskBlock(codes: Sequence[str] | None = None) -> TransformBlock:
    """A segmentation target: items open as `PILMask` (one class code per pixel), become `TensorMask` (long per
    batch); `codes` name the classes and are the loaders' `vocab`."""
    return TransformBlock(
        type_tfms=[ImageCreate(PILMask), AddMaskCodes(codes=codes)],
        item_tfms=[ToTensor()],
        batch_tfms=[IntToFloatTensor()],
    )


def PointBlock() -> TransformBlock:
    """Key points as a regression target: each item's [[x, y], ...] pixels → `TensorPoint` (k, 2) on its image's
    canvas, moved with the image by the item and batch transforms, and scaled to [-1, 1] as the last batch step
    (decoded back to pixels). `dls.c` is 2 * points and the loss is MSE: use `vision_learner(dls, arch,
    y_range=(-1, 1))`.
    """
    return TransformBlock(type_tfms=[PointCreate()], item_tfms=[CanvasFromImage()], batch_tfms=[PointScaler()])


def BBoxBlock() -> TransformBlock:
    """Boxes: each item's [[x1, y1, x2, y2], ...] pixels → `TensorBBox` (k, 4) on its image's canvas, moved with
    the image by the item and batch transforms (clipped to the canvas; a box with no area left becomes the
    padding box (0, 0, 0, 0)), padded per batch by `bb_pad`. Boxes stay in pixels (fastai scales them to
    [-1, 1]; detection models read pixels). Put `BBoxLblBlock` right after it for the labels.
    """
    return TransformBlock(type_tfms=[BBoxCreate()], item_tfms=[CanvasFromImage()], dls_kwargs={"before_batch": bb_pad})


def BBoxLblBlock(vocab: Sequence[str] | None = None, add_na: bool = True) -> TransformBlock:
    """The labels of the boxes of the block before it: each item's list of names → `TensorCategory` (k,) indices
    into `vocab` (learned from the training labels unless given; with `add_na`, index 0 is '#na#', the label of
    padding boxes). Boxes emptied by an item transform are dropped with their labels; labels of boxes emptied by
    a batch transform become 0, like `bb_pad`'s padding. With `add_na=False` index 0 is a real class, so tell
    padding by its empty box (`gpu_augment.empty_boxes`), not by its label.
    """
    return TransformBlock(
        type_tfms=[BBoxLabels(vocab=vocab, add_na=add_na)],
        item_tfms=[DropEmptyBoxes()],
        batch_tfms=[PadEmptyBoxes(pad_idx=0)],
    )
