"""Blocks for the DataBlock API: `ImageBlock` (an input image) and `MaskBlock` (a segmentation target)."""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from typing import Any

from apps_vision.core import AddMaskCodes, PILBase, PILImage, PILMask
from datablock import IntToFloatTensor, ToTensor, TransformBlock
from dispatch_transforms import Transform

__all__ = ["ImageCreate", "ImageBlock", "MaskBlock"]


def _class_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


class ImageCreate(Transform):
    """An item (path, bytes, array, tensor, PIL image) → the image class `img_cls` (`PILImage` by default).

    `img_cls` is kept as "module:QualName" so the step exports as plain data; loading it back imports that
    module and accepts only a subclass of `PILBase`.
    """

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    def __init__(self, img_cls: type[PILBase] | str = PILImage) -> None:
        super().__init__()
        self.img_cls = img_cls if isinstance(img_cls, str) else _class_path(img_cls)
        self._cls = _load_class(self.img_cls)

    def encodes(self, x: object) -> None:
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
