"""Image types: `PILImage`, `PILImageBW`, `PILMask` (Pillow images that know what they are), and their tensors.

A `PILImage` is a Pillow image whose class says how it becomes a tensor and how item transforms treat it
(a mask is resampled with nearest, never blended). The classes add nothing to Pillow: an image opened by
Pillow is re-typed by setting its class to the subclass, as fastai does.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import numpy as np
import torch
from PIL import Image, ImageOps

from datablock import ToTensor, to_tensor
from dispatch_transforms import DisplayedTransform
from typedtensor import Canvas, TensorBase, TensorImage, TensorImageBW, TensorMask

__all__ = [
    "PILBase",
    "PILImage",
    "PILImageBW",
    "PILMask",
    "load_image",
    "ImageToTensor",
    "AddMaskCodes",
]

ImageSource = str | os.PathLike | bytes | np.ndarray | torch.Tensor | Image.Image


def load_image(fn: str | os.PathLike | io.BytesIO, mode: str | None = None) -> Image.Image:
    """Open an image file fully (the file is closed), turned upright by its EXIF orientation, in `mode`."""
    try:
        with Image.open(fn) as opened:
            opened.load()
            im = ImageOps.exif_transpose(opened)  # a phone photo tagged "rotate 90" is shown upright, as viewers do
    except (OSError, ValueError) as e:
        name = "<bytes>" if isinstance(fn, io.BytesIO) else os.fspath(fn)
        raise OSError(f"load_image: cannot open {name!r} as an image: {e}") from e
    if mode is not None and im.mode != mode:
        im = im.convert(mode)
    return im


def _array_of(t: torch.Tensor) -> np.ndarray:
    """A tensor as the array Pillow expects: (H, W) or (H, W, C) uint8; float images in [0, 1] are scaled."""
    t = t.detach().cpu().as_subclass(torch.Tensor)
    if isinstance(t, torch.Tensor) and t.ndim == 3 and t.shape[0] in (1, 3, 4) and t.shape[-1] not in (1, 3, 4):
        t = t.permute(1, 2, 0)  # channels first (a TensorImage) -> channels last
    if t.is_floating_point():
        if t.numel() and (t.min() < 0 or t.max() > 1):
            raise ValueError(
                f"cannot make an image from a float tensor with values in [{float(t.min()):.3g}, {float(t.max()):.3g}]:"
                " float images must be in [0, 1] (or pass uint8)"
            )
        t = (t * 255).round()
    a = t.to(torch.uint8).numpy()
    return a[..., 0] if a.ndim == 3 and a.shape[-1] == 1 else a


class PILBase(Image.Image):
    """A Pillow image that knows its role; `create` makes one from a path, bytes, an array, a tensor or an image."""

    _open_mode: ClassVar[str | None] = "RGB"
    _tensor_cls: ClassVar[type[TensorBase]] = TensorImage

    @classmethod
    def wrap(cls, im: Image.Image, like: Any = None) -> PILBase:  # noqa: ARG003 (the re-typing protocol's signature)
        """`im` re-typed as this class (the protocol dispatch_transforms uses to keep an item's type)."""
        if not isinstance(im, Image.Image):
            return im
        if type(im) is not Image.Image and not isinstance(im, cls):
            im = im.copy()  # a format-specific image (PngImageFile...) becomes a plain one first
        im.__class__ = cls
        return cast(PILBase, im)  # re-typed in place just above

    @classmethod
    def create(cls, fn: ImageSource, mode: str | None = None) -> PILBase:
        """Open or convert `fn` (path, bytes, (H, W[, C]) array, tensor, PIL image) as this class.

        Files are read fully and turned upright by their EXIF orientation; the mode is `mode` or the class's
        (RGB for `PILImage`, L for `PILImageBW` and `PILMask`).
        """
        mode = mode if mode is not None else cls._open_mode
        if isinstance(fn, torch.Tensor):
            fn = _array_of(fn)
        if isinstance(fn, np.ndarray):
            if fn.dtype != np.uint8:
                if np.issubdtype(fn.dtype, np.integer) and fn.size and (fn.min() < 0 or fn.max() > 255):
                    raise ValueError(f"{cls.__name__}.create: integer array values must be in [0, 255]")
                fn = fn.astype(np.uint8) if np.issubdtype(fn.dtype, np.integer) else _array_of(torch.from_numpy(fn))
            im = Image.fromarray(np.ascontiguousarray(fn))
        elif isinstance(fn, bytes):
            im = load_image(io.BytesIO(fn))
        elif isinstance(fn, Image.Image):
            im = fn
        elif isinstance(fn, (str, os.PathLike)):
            im = load_image(fn)
        else:
            raise TypeError(
                f"{cls.__name__}.create: expected a path, bytes, a numpy array, a tensor or a PIL image, "
                f"got {type(fn).__name__}"
            )
        if mode is not None and im.mode != mode:
            im = im.convert(mode)
        return cls.wrap(im.copy() if im is fn else im)

    def to_tensor(self) -> TensorBase:
        """This image as its typed tensor (uint8, channels first; masks (H, W))."""
        a = np.asarray(self)
        if self._tensor_cls is TensorMask:
            return TensorMask.wrap(torch.from_numpy(a.copy()))
        t = torch.from_numpy(a.copy())
        t = t[None] if t.ndim == 2 else t.permute(2, 0, 1)
        return self._tensor_cls.wrap(t)

    def show(self, ctx: Canvas | None = None, **kwargs: Any) -> Canvas:  # type: ignore[override]  # PIL's opens a viewer
        """Draw on a canvas (a new one when `ctx` is None) and return it; it saves to PNG or shows in Jupyter."""
        return self.to_tensor().show(ctx=ctx, **kwargs)

    def __repr__(self) -> str:
        return f"{type(self).__name__} mode={self.mode} size={self.width}x{self.height}"


class PILImage(PILBase):
    """An RGB image (becomes a `TensorImage`)."""


class PILImageBW(PILImage):
    """A grey-scale image, mode L (becomes a `TensorImageBW`)."""

    _open_mode = "L"
    _tensor_cls = TensorImageBW


class PILMask(PILBase):
    """A segmentation mask, mode L, one class code per pixel (becomes a `TensorMask`; resampled with nearest)."""

    _open_mode = "L"
    _tensor_cls = TensorMask


@to_tensor.register
def _pil_base_to_tensor(x: PILBase) -> TensorBase:  # to_tensor's table never re-types (retain=False)
    """datablock's `to_tensor` extended (its extension point): each image class converts to its own tensor
    type, so a `PILMask` becomes a `TensorMask` (Pillow's L mode alone would read as a grey-scale image)."""
    return x.to_tensor()


class ImageToTensor(ToTensor):
    """datablock's `ToTensor` under the name files exported before it took the image types: the same table
    (`to_tensor`, which this package extends), so `PILImage`/`PILImageBW`/`PILMask` → `TensorImage`/
    `TensorImageBW`/`TensorMask`. New pipelines use `ToTensor` itself."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)


class AddMaskCodes(DisplayedTransform):
    """Carries a mask's class `codes`: the loaders' `vocab` (so `dls.c` is the number of classes) and, when
    decoding, the `codes` of the `TensorMask` (for showing). With `codes`, a mask holding a value outside
    0..len(codes)-1 (e.g. 255 borders) is refused when its item is built, naming the values: map such pixels
    to a code first (fastai lets them through to the loss, which then fails on the device)."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 0
    retain = False  # decodes builds the `TensorMask` it returns
    loss_kind: ClassVar[dict[str, Any]] = {"kind": "cross_entropy", "axis": 1}  # class scores on axis 1 of a mask

    def __init__(self, codes: Sequence[str] | None = None) -> None:
        super().__init__()
        if isinstance(codes, (str, bytes)):  # "abc" would be read as the three codes 'a', 'b', 'c'
            raise TypeError(
                f"MaskBlock/AddMaskCodes: codes must be a sequence of class names, got the string {codes!r}"
            )
        self.codes = None if codes is None else [str(c) for c in codes]
        self.vocab = self.codes

    def encodes(self, x: PILMask) -> PILMask:
        if self.codes is not None:
            extrema: Any = x.getextrema()  # (min, max), or one pair per band
            hi = extrema[1] if isinstance(extrema[1], (int, float)) else max(band[1] for band in extrema)
            if hi >= len(self.codes):
                raise ValueError(
                    f"mask values must be codes 0..{len(self.codes) - 1} ({len(self.codes)} codes: {self.codes}), "
                    f"got values up to {hi}; map the other values (e.g. 255 borders) to a code first"
                )
        return x

    def decodes(self, x: TensorMask) -> TensorMask:
        if self.codes is None:
            return x
        return TensorMask.wrap(x.as_subclass(torch.Tensor), codes=self.codes)
