"""Geometric batch transforms: each draws one sampling matrix per item; a chain composes into one resampling.

`AffineCoordTfm(tfms=[Flip(), Rotate(), Warp()])` (what `setup_aug_tfms` builds) multiplies the parts'
matrices into one per item, builds one grid and calls `grid_sample` once for the batch. Every transform
dispatches on the element type, so the image (bilinear), its mask (nearest), its points and its boxes
of one sample move together.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from gpu_augment.draws import BatchRandTransform, batch_geometry, bernoulli, uniform
from gpu_augment.grid import MODES, PAD_MODES
from gpu_augment.kernels import AffineParams, affine_boxes, affine_image, affine_mask, affine_points
from gpu_augment.matrices import (
    crop_matrix,
    dihedral_matrix,
    flip_matrix,
    identity_matrix,
    perspective_matrix,
    rotation_matrix,
    zoom_matrix,
)
from typedtensor import TensorBBox, TensorImage, TensorMask, TensorPoint

__all__ = ["AffineCoordTfm", "Flip", "Dihedral", "Rotate", "Zoom", "Warp", "RandomResizedCropGPU", "Resize"]


def _size(size: int | Sequence[int] | None, owner: str) -> tuple[int, int] | None:
    if size is None:
        return None
    pair = (size, size) if isinstance(size, int) else tuple(size)
    if len(pair) != 2 or not all(isinstance(s, int) and s > 0 for s in pair):
        raise ValueError(f"{owner}: size must be a positive int or (height, width), got {size!r}")
    return (int(pair[0]), int(pair[1]))


def _keep(matrix: torch.Tensor, apply: torch.Tensor) -> torch.Tensor:
    """Identity for the items not applied, so they can skip resampling."""
    return torch.where(apply[:, None, None], matrix, torch.eye(3, dtype=matrix.dtype))


class AffineCoordTfm(BatchRandTransform):
    """Resample a batch through per-item sampling matrices: composes its `tfms` (other `AffineCoordTfm`s).

    Images use `mode` (bilinear) and `pad_mode` ("reflection", "border" or "zeros"); masks use nearest
    sampling and the same padding, so their labels stay on the pixels they label; points and boxes are
    mapped exactly (see `affine_points`, `affine_boxes`). `size` (h, w) sets the output canvas. `p` is the
    probability per item; `params=` replays a draw (`tfm.last_params`, or `params.inverse()` to undo one).
    """

    config_safe = True  # its subclasses too: an export may name them (plain arguments only)

    order = 30

    def __init__(
        self,
        tfms: Sequence[AffineCoordTfm] = (),
        *,
        size: int | Sequence[int] | None = None,
        mode: str = "bilinear",
        pad_mode: str = "reflection",
        p: float = 1.0,
        batch: bool = False,
        generator: torch.Generator | None = None,
        split_idx: int | None = None,
    ) -> None:
        super().__init__(p=p, batch=batch, generator=generator, split_idx=split_idx)
        name = type(self).__name__
        if mode not in MODES:
            raise ValueError(f"{name}: mode must be one of {MODES}, got {mode!r}")
        if pad_mode not in PAD_MODES:
            raise ValueError(f"{name}: pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
        for i, t in enumerate(tfms):
            if not isinstance(t, AffineCoordTfm):
                raise TypeError(f"{name}: tfms[{i}] must be an AffineCoordTfm (Flip, Rotate, ...), got {t!r}")
        self.tfms = list(tfms)
        self.size = _size(size, name)
        self.mode, self.pad_mode = mode, pad_mode

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        """(n, 3, 3) sampling matrices for one batch: here the product of the parts' draws."""
        matrix = identity_matrix(n)
        for t in self.tfms:
            part = t.draw_matrix(n, canvas_size, generator)
            matrix = matrix @ _keep(part, bernoulli(n, t.p, generator, t.batch))
        return matrix

    def output_size(self, canvas_size: tuple[int, int]) -> tuple[int, int]:
        """The output canvas (h, w): `size` when set, else the last part's, else the input's."""
        if self.size is not None:
            return self.size
        for t in reversed(self.tfms):
            if t.size is not None:
                return t.size
        return canvas_size

    def draw(self, x: Any, generator: torch.Generator) -> AffineParams:
        """Draw one matrix per item of the batch `x` (a batch or a tuple of batches of one sample)."""
        n, canvas_size = batch_geometry(x, type(self).__name__)
        matrix = _keep(self.draw_matrix(n, canvas_size, generator), bernoulli(n, self.p, generator, self.batch))
        return AffineParams(matrix, canvas_size, self.output_size(canvas_size))


@AffineCoordTfm.encodes.dispatch
def _affine_image(self: AffineCoordTfm, x: TensorImage) -> TensorImage:
    return TensorImage.wrap(
        affine_image(x.as_subclass(torch.Tensor), self.params, mode=self.mode, pad_mode=self.pad_mode), like=x
    )


@AffineCoordTfm.encodes.dispatch
def _affine_mask(self: AffineCoordTfm, x: TensorMask) -> TensorMask:
    return TensorMask.wrap(affine_mask(x.as_subclass(torch.Tensor), self.params, pad_mode=self.pad_mode), like=x)


@AffineCoordTfm.encodes.dispatch
def _affine_points(self: AffineCoordTfm, x: TensorPoint) -> TensorPoint:
    out = affine_points(x.as_subclass(torch.Tensor), self.params)
    return type(x).wrap(out, like=x, canvas_size=self.params.out_size)


@AffineCoordTfm.encodes.dispatch
def _affine_boxes(self: AffineCoordTfm, x: TensorBBox) -> TensorBBox:
    out = affine_boxes(x.as_subclass(torch.Tensor), self.params)
    return type(x).wrap(out, like=x, canvas_size=self.params.out_size)


class Flip(AffineCoordTfm):
    """Mirror each item left-right with probability `p` (top-bottom instead with `vertical=True`)."""

    def __init__(self, p: float = 0.5, *, vertical: bool = False, **kwargs: Any) -> None:
        super().__init__(p=p, **kwargs)
        self.vertical = vertical

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:  # noqa: ARG002
        """A mirror for every item (which items apply is decided by `p`)."""
        yes = torch.ones(n, dtype=torch.bool)
        return flip_matrix(~yes, yes) if self.vertical else flip_matrix(yes)


class Dihedral(AffineCoordTfm):
    """One of the 8 flips/quarter turns of the square per item, uniformly, with probability `p`."""

    def __init__(self, p: float = 0.5, **kwargs: Any) -> None:
        super().__init__(p=p, **kwargs)

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:  # noqa: ARG002
        """A uniformly drawn symmetry k in 0..7 per item."""
        k = torch.randint(0, 8, (1 if self.batch else n,), generator=generator).expand(n)
        return dihedral_matrix(k)


class Rotate(AffineCoordTfm):
    """Rotate each item by an angle uniform in [-max_deg, max_deg] degrees, with probability `p`."""

    def __init__(self, max_deg: float = 10.0, p: float = 0.5, **kwargs: Any) -> None:
        super().__init__(p=p, **kwargs)
        self.max_deg = float(max_deg)

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        """An angle per item; the rotation is done in pixel units so non-square canvases do not shear."""
        return rotation_matrix(uniform(n, -self.max_deg, self.max_deg, generator, self.batch), canvas_size)


class Zoom(AffineCoordTfm):
    """Zoom each item in by a factor uniform in [min_zoom, max_zoom] about a random centre, with probability `p`."""

    def __init__(self, min_zoom: float = 1.0, max_zoom: float = 1.1, p: float = 0.5, **kwargs: Any) -> None:
        super().__init__(p=p, **kwargs)
        if not 0 < min_zoom <= max_zoom:
            raise ValueError(f"Zoom: need 0 < min_zoom <= max_zoom, got min_zoom={min_zoom}, max_zoom={max_zoom}")
        self.min_zoom, self.max_zoom = float(min_zoom), float(max_zoom)

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:  # noqa: ARG002
        """A scale and a centre (fractions of the canvas) per item."""
        scale = uniform(n, self.min_zoom, self.max_zoom, generator, self.batch)
        col, row = uniform(n, 0, 1, generator, self.batch), uniform(n, 0, 1, generator, self.batch)
        return zoom_matrix(scale, col, row)


class Warp(AffineCoordTfm):
    """Perspective (keystone) warp, magnitudes uniform in [-magnitude, magnitude] on x and y, with probability `p`."""

    def __init__(self, magnitude: float = 0.2, p: float = 0.5, **kwargs: Any) -> None:
        super().__init__(p=p, **kwargs)
        if not 0 <= magnitude < 1:
            raise ValueError(f"Warp: magnitude must be in [0, 1), got {magnitude}")
        self.magnitude = float(magnitude)

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:  # noqa: ARG002
        """A projective matrix per item (applied to the grid's coordinates through the perspective divide)."""
        mx = uniform(n, -self.magnitude, self.magnitude, generator, self.batch)
        my = uniform(n, -self.magnitude, self.magnitude, generator, self.batch)
        return perspective_matrix(mx, my)


class RandomResizedCropGPU(AffineCoordTfm):
    """Crop a random window (area fraction in [min_scale, 1], aspect ratio in `ratio`) and resize it to `size`."""

    def __init__(
        self,
        size: int | Sequence[int],
        min_scale: float = 0.08,
        ratio: tuple[float, float] = (3 / 4, 4 / 3),
        *,
        mode: str = "bilinear",
        **kwargs: Any,
    ) -> None:
        super().__init__(size=size, mode=mode, pad_mode="reflection", **kwargs)
        if not 0 < min_scale <= 1:
            raise ValueError(f"RandomResizedCropGPU: min_scale must be in (0, 1], got {min_scale}")
        if not 0 < ratio[0] <= ratio[1]:
            raise ValueError(f"RandomResizedCropGPU: ratio must be (low, high) with 0 < low <= high, got {ratio}")
        self.min_scale, self.ratio = float(min_scale), (float(ratio[0]), float(ratio[1]))

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:
        """10 candidate windows per item, the first that fits the canvas wins (else the whole canvas)."""
        height, width = canvas_size
        tries = 10
        m = 1 if self.batch else n
        area = self.min_scale + (1 - self.min_scale) * torch.rand(m, tries, generator=generator, dtype=torch.float64)
        low, high = math.log(self.ratio[0]), math.log(self.ratio[1])
        ratio = torch.exp(low + (high - low) * torch.rand(m, tries, generator=generator, dtype=torch.float64))
        wf = torch.sqrt(area * ratio * height / width)  # window width / canvas width
        hf = torch.sqrt(area / ratio * width / height)
        fits = (wf <= 1) & (hf <= 1)
        first = torch.where(fits.any(1), fits.double().argmax(1), 0)
        pick = torch.arange(m)
        wf = torch.where(fits.any(1), wf[pick, first], 1.0)
        hf = torch.where(fits.any(1), hf[pick, first], 1.0)
        left = (1 - wf) * torch.rand(m, generator=generator, dtype=torch.float64)
        top = (1 - hf) * torch.rand(m, generator=generator, dtype=torch.float64)
        return crop_matrix(*(v.float().expand(n) for v in (wf, hf, left, top)))


class Resize(AffineCoordTfm):
    """Resize the batch to `size`; deterministic, so it applies to training and validation (`split_idx=None`).

    `method`: "squish" stretches to `size`; "crop" takes the largest centred window of `size`'s aspect
    ratio; "pad" fits the whole canvas and pads the rest (with `pad_mode`).
    """

    size: tuple[int, int]  # required here (an `AffineCoordTfm` may have none)

    def __init__(
        self,
        size: int | Sequence[int],
        method: str = "squish",
        *,
        mode: str = "bilinear",
        pad_mode: str = "zeros",
        split_idx: int | None = None,
    ) -> None:
        super().__init__(size=size, mode=mode, pad_mode=pad_mode, split_idx=split_idx)
        self.split_idx = split_idx
        if method not in ("squish", "crop", "pad"):
            raise ValueError(f"Resize: method must be 'squish', 'crop' or 'pad', got {method!r}")
        self.method = method

    def draw_matrix(self, n: int, canvas_size: tuple[int, int], generator: torch.Generator) -> torch.Tensor:  # noqa: ARG002
        """The same window for every item: the canvas, or its centred crop or padded frame."""
        height, width = canvas_size
        out_h, out_w = self.size
        wf = hf = 1.0
        source, target = width / height, out_w / out_h
        if self.method == "crop":
            wf, hf = (target / source, 1.0) if source > target else (1.0, source / target)
        elif self.method == "pad":
            wf, hf = (1.0, source / target) if source > target else (target / source, 1.0)
        full = torch.ones(n)
        return crop_matrix(full * wf, full * hf, full * (1 - wf) / 2, full * (1 - hf) / 2)
