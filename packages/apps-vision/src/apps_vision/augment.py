"""Item transforms on Pillow images and masks, and the points and boxes on them (CPU, in the loader's workers):
resize, crop, pad, flip.

Each transform draws its random parameters once per sample (`dispatch_transforms.RandTransform`), so an
image and its mask get the same crop and flip; masks are resampled with nearest, so every mask pixel keeps
a class code and stays under the image content it labels. Points and boxes (`TensorPoint`, `TensorBBox` with
their image's `canvas_size`) move exactly as the pixels do (see `apps_vision.coords`). Sizes are given as
fastai does: an int or (height, width); Pillow's own sizes are (width, height).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from PIL import Image

from apps_vision.coords import canvas_of, dihedral_coords, window_coords
from apps_vision.core import PILBase, PILMask
from dispatch_transforms import RandTransform, Transform, TypeDispatch
from typedtensor import TensorBBox, TensorPoint

__all__ = [
    "ResizeMethod",
    "PadMode",
    "crop_pad",
    "Resize",
    "RandomResizedCrop",
    "RatioResize",
    "CropPad",
    "RandomCrop",
    "FlipItem",
    "DihedralItem",
]

Size = int | tuple[int, int]


class ResizeMethod:
    """How `Resize` fits an image to a new aspect ratio: crop it, pad it, or squish it."""

    Squish = "squish"
    Crop = "crop"
    Pad = "pad"


class PadMode:
    """What fills the border when an image is padded: zeros, the edge pixels, or a reflection."""

    Zeros = "zeros"
    Border = "border"
    Reflection = "reflection"


_NP_PAD: dict[str, Literal["constant", "edge", "reflect"]] = {
    PadMode.Zeros: "constant",
    PadMode.Border: "edge",
    PadMode.Reflection: "reflect",
}


def _wh(size: Size, who: str) -> tuple[int, int]:
    """fastai's size (an int, or (height, width)) as Pillow's (width, height)."""
    if isinstance(size, int) and not isinstance(size, bool):
        size = (size, size)
    if not (isinstance(size, (tuple, list)) and len(size) == 2 and all(isinstance(s, int) and s > 0 for s in size)):
        raise ValueError(f"{who}: size must be a positive int or (height, width) of positive ints, got {size!r}")
    return (int(size[1]), int(size[0]))


def _check_choice(value: str, allowed: type, who: str, what: str) -> str:
    names = [v for k, v in vars(allowed).items() if not k.startswith("_")]
    if value not in names:
        raise ValueError(f"{who}: {what} must be one of {names}, got {value!r}")
    return value


def _sample_size(x: Any, who: str) -> tuple[int, int] | None:
    """(width, height) shared by every image of a sample (None when it holds no image)."""
    items = x if isinstance(x, tuple) else (x,)
    sizes = {o.size for o in items if isinstance(o, PILBase)}
    if len(sizes) > 1:
        raise ValueError(
            f"{who}: the images of one sample have different sizes {sorted(sizes)} (width, height); an image and "
            "its mask must be the same size to be cropped together"
        )
    return sizes.pop() if sizes else None


def _resample(x: PILBase) -> Image.Resampling:
    return Image.Resampling.NEAREST if isinstance(x, PILMask) else Image.Resampling.BILINEAR


def crop_pad(
    x: PILBase,
    size: tuple[int, int],
    tl: tuple[int, int],
    pad_mode: str = PadMode.Zeros,
    resize_to: tuple[int, int] | None = None,
    resample: Image.Resampling | None = None,
) -> PILBase:
    """The (width, height) `size` window of `x` whose top-left corner is `tl` (may be negative or past the
    edge: the outside is padded by `pad_mode`), then resized to `resize_to` (width, height) if given.

    Masks are resampled with nearest unless `resample` says otherwise.
    """
    (w, h), (sw, sh), (left, top) = x.size, size, tl
    out: Image.Image = x
    if left > 0 or top > 0 or left + sw < w or top + sh < h:
        out = out.crop((max(left, 0), max(top, 0), min(left + sw, w), min(top + sh, h)))
    pads = (max(-left, 0), max(-top, 0), max(left + sw - w, 0), max(top + sh - h, 0))
    if any(pads):
        a = np.asarray(out)
        widths = [(pads[1], pads[3]), (pads[0], pads[2])] + [(0, 0)] * (a.ndim - 2)
        out = Image.fromarray(np.pad(a, widths, mode=_NP_PAD[pad_mode]), mode=out.mode)
    target = None if resize_to is None else (int(resize_to[0]), int(resize_to[1]))  # a list works too
    if target is not None and out.size != target:
        out = out.resize(target, resample if resample is not None else _resample(x))
    if out is x:
        out = x.copy()
    return type(x).wrap(out)


class _SplitAware(RandTransform):
    """A RandTransform that knows, in `draw`, whether it runs on the validation split (split_idx 1)."""

    split_idx = None  # both splits: training draws at random, validation is deterministic
    _valid = False

    def __call__(self, x: Any, split_idx: int | None = None, *, params: Any = None) -> Any:
        self._valid = split_idx == 1
        return super().__call__(x, split_idx, params=params)


class Resize(_SplitAware):
    """Resize to `size` (int or (height, width)) keeping the aspect ratio by `method`.

    `crop` (default) takes the largest window of the target's aspect ratio (at a random place on training,
    the centre on validation) then resizes; `pad` pads to it (`pad_mode`); `squish` resizes the whole
    image. Images are resampled bilinearly, masks with nearest. fastai's `Resize`, same formulas.
    """

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 1

    def __init__(self, size: Size, method: str = ResizeMethod.Crop, pad_mode: str = PadMode.Reflection) -> None:
        super().__init__()
        self.size = size
        self.method = _check_choice(method, ResizeMethod, "Resize", "method")
        self.pad_mode = _check_choice(pad_mode, PadMode, "Resize", "pad_mode")
        self._wh = _wh(size, "Resize")

    def draw(self, x: Any, generator: Any) -> tuple[float, float]:
        _sample_size(x, "Resize")
        return (0.5, 0.5) if self._valid else (generator.random(), generator.random())

    def window(self, orig: tuple[int, int], pcts: tuple[float, float]) -> tuple[tuple[int, int], tuple[int, int]]:
        """The (size, top-left) window of an image of (width, height) `orig` that this resize reads."""
        (w, h), (tw, th) = orig, self._wh
        if self.method == ResizeMethod.Squish:
            return (w, h), (0, 0)
        by_w = w / tw < h / th if self.method == ResizeMethod.Crop else w / tw > h / th
        m = w / tw if by_w else h / th
        cw, ch = int(m * tw), int(m * th)
        return (cw, ch), (int(pcts[0] * (w - cw)), int(pcts[1] * (h - ch)))

    def encodes(self, x: PILBase):
        size, tl = self.window(x.size, self.params)
        return crop_pad(x, size, tl, self.pad_mode, resize_to=self._wh)


class RandomResizedCrop(_SplitAware):
    """On training, a random window of `min_scale`..`max_scale` of the area and aspect ratio in `ratio`, resized
    to `size`; on validation, the image resized to `size` plus `val_xtra` and centre-cropped (fastai's)."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 1

    def __init__(
        self,
        size: Size,
        min_scale: float = 0.08,
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        val_xtra: float = 0.14,
        max_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0 < min_scale <= max_scale <= 1:
            raise ValueError(f"RandomResizedCrop: need 0 < min_scale <= max_scale <= 1, got {min_scale}, {max_scale}")
        self.size, self.min_scale, self.ratio, self.val_xtra, self.max_scale = (
            size,
            min_scale,
            ratio,
            val_xtra,
            max_scale,
        )
        self._wh = _wh(size, "RandomResizedCrop")

    def draw(self, x: Any, generator: Any) -> dict[str, Any]:
        orig = _sample_size(x, "RandomResizedCrop")
        if orig is None:
            return {}
        w, h = orig
        if self._valid:
            xtra = math.ceil(max(self._wh) * self.val_xtra / 8) * 8
            return {"cp": (w, h), "tl": (0, 0), "final": (self._wh[0] + xtra, self._wh[1] + xtra)}
        for _ in range(10):
            area = generator.uniform(self.min_scale, self.max_scale) * w * h
            ratio = math.exp(generator.uniform(math.log(self.ratio[0]), math.log(self.ratio[1])))
            nw, nh = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
            if nw <= w and nh <= h:
                return {
                    "cp": (nw, nh),
                    "tl": (generator.randint(0, w - nw), generator.randint(0, h - nh)),
                    "final": self._wh,
                }
        if w / h < self.ratio[0]:
            cp = (w, int(w / self.ratio[0]))
        elif w / h > self.ratio[1]:
            cp = (int(h * self.ratio[1]), h)
        else:
            cp = (w, h)
        return {"cp": cp, "tl": ((w - cp[0]) // 2, (h - cp[1]) // 2), "final": self._wh}

    def encodes(self, x: PILBase):
        p = self.params
        res = crop_pad(x, p["cp"], p["tl"], resize_to=p["final"])
        if p["final"] != self._wh:  # validation: one final centre crop
            fw, fh = p["final"]
            res = crop_pad(res, self._wh, ((fw - self._wh[0]) // 2, (fh - self._wh[1]) // 2))
        return res


class RatioResize(_SplitAware):
    """Resize so the longer side is `max_sz`, keeping the aspect ratio (fastai's `RatioResize`)."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 1

    def __init__(self, max_sz: int) -> None:
        super().__init__()
        if not isinstance(max_sz, int) or max_sz < 1:
            raise ValueError(f"RatioResize: max_sz must be a positive int, got {max_sz!r}")
        self.max_sz = max_sz

    def encodes(self, x: PILBase):
        w, h = x.size
        nw, nh = (self.max_sz, h * self.max_sz / w) if w >= h else (w * self.max_sz / h, self.max_sz)
        return crop_pad(x, (w, h), (0, 0), resize_to=(max(int(nw), 1), max(int(nh), 1)))


class CropPad(_SplitAware):
    """Centre crop (or pad, with `pad_mode`) to `size` (int or (height, width)), without resizing."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 0

    def __init__(self, size: Size, pad_mode: str = PadMode.Zeros) -> None:
        super().__init__()
        self.size = size
        self.pad_mode = _check_choice(pad_mode, PadMode, "CropPad", "pad_mode")
        self._wh = _wh(size, "CropPad")

    def encodes(self, x: PILBase):
        (w, h), (tw, th) = x.size, self._wh
        return crop_pad(x, self._wh, ((w - tw) // 2, (h - th) // 2), self.pad_mode)


class RandomCrop(_SplitAware):
    """A random `size` window on training (padded with zeros where the image is smaller), the centre on validation."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 1

    def __init__(self, size: Size) -> None:
        super().__init__()
        self.size = size
        self._wh = _wh(size, "RandomCrop")

    def draw(self, x: Any, generator: Any) -> tuple[int, int]:
        orig = _sample_size(x, "RandomCrop")
        if orig is None:
            return (0, 0)
        wd, hd = orig[0] - self._wh[0], orig[1] - self._wh[1]
        if self._valid:
            return (wd // 2, hd // 2)
        return (
            generator.randint(*((wd, -1) if wd < 0 else (0, wd))),
            generator.randint(*((hd, -1) if hd < 0 else (0, hd))),
        )

    def encodes(self, x: PILBase):
        return crop_pad(x, self._wh, self.params)


class FlipItem(RandTransform):
    """Flip left-right with probability `p` (training only)."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 0

    def __init__(self, p: float = 0.5) -> None:
        super().__init__(p=p)

    def encodes(self, x: PILBase):
        return type(x).wrap(x.transpose(Image.Transpose.FLIP_LEFT_RIGHT))


# k = 1..7 are Pillow's seven transposes in fastai's order; 0 is the identity
_DIHEDRAL: Sequence[Image.Transpose] = (
    Image.Transpose.FLIP_LEFT_RIGHT,
    Image.Transpose.FLIP_TOP_BOTTOM,
    Image.Transpose.ROTATE_90,
    Image.Transpose.ROTATE_180,
    Image.Transpose.ROTATE_270,
    Image.Transpose.TRANSPOSE,
    Image.Transpose.TRANSVERSE,
)


class DihedralItem(RandTransform):
    """One of the 8 flips/rotations of the square, at random, with probability `p` (training only)."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    order = 0

    def __init__(self, p: float = 1.0) -> None:
        super().__init__(p=p)

    def draw(self, x: Any, generator: Any) -> int:  # noqa: ARG002
        return generator.randint(0, 7)

    def encodes(self, x: PILBase):
        k = self.params
        return type(x).wrap(x.copy() if k == 0 else x.transpose(_DIHEDRAL[k - 1]))


# --- points and boxes: each transform moves them exactly as it moves the image of their sample -------------------
# (the coordinate twins of the Pillow operations above; tests/test_coords_align.py checks them against the pixels)
Coords = TensorPoint | TensorBBox


def _encodes_table(cls: type[Transform]) -> TypeDispatch:
    """`cls.encodes` read on the class: its dispatch table, whose `.dispatch` registers an implementation
    (dispatch-transforms' extension point). Read through `type[Transform]` because a type checker reading
    `Resize.encodes` sees the plain `def encodes` of the class body, not the table it becomes."""
    return cls.encodes


def _wh_of(x: Coords, owner: str) -> tuple[int, int]:
    h, w = canvas_of(x, owner)
    return (w, h)


@_encodes_table(Resize).dispatch
def _resize_coords(self: Resize, x: Coords) -> Coords:
    size, tl = self.window(_wh_of(x, "Resize"), self.params)
    return window_coords(x, size, tl, self._wh)


@_encodes_table(RandomResizedCrop).dispatch
def _rrc_coords(self: RandomResizedCrop, x: Coords) -> Coords:
    p = self.params
    if not p:
        return x
    res = window_coords(x, p["cp"], p["tl"], p["final"])
    if p["final"] != self._wh:  # validation: one final centre crop
        fw, fh = p["final"]
        res = window_coords(res, self._wh, ((fw - self._wh[0]) // 2, (fh - self._wh[1]) // 2))
    return res


@_encodes_table(RatioResize).dispatch
def _ratio_resize_coords(self: RatioResize, x: Coords) -> Coords:
    w, h = _wh_of(x, "RatioResize")
    nw, nh = (self.max_sz, h * self.max_sz / w) if w >= h else (w * self.max_sz / h, self.max_sz)
    return window_coords(x, (w, h), (0, 0), (max(int(nw), 1), max(int(nh), 1)))


@_encodes_table(CropPad).dispatch
def _crop_pad_coords(self: CropPad, x: Coords) -> Coords:
    (w, h), (tw, th) = _wh_of(x, "CropPad"), self._wh
    return window_coords(x, self._wh, ((w - tw) // 2, (h - th) // 2))


@_encodes_table(RandomCrop).dispatch
def _random_crop_coords(self: RandomCrop, x: Coords) -> Coords:
    return window_coords(x, self._wh, self.params)


@_encodes_table(FlipItem).dispatch
def _flip_coords(self: FlipItem, x: Coords) -> Coords:  # noqa: ARG001
    return dihedral_coords(x, 1)


@_encodes_table(DihedralItem).dispatch
def _dihedral_coords(self: DihedralItem, x: Coords) -> Coords:
    return dihedral_coords(x, self.params)
