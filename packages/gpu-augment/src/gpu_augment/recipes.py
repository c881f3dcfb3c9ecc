"""Recipes: `aug_transforms()` with fastai's defaults, and `setup_aug_tfms` that fuses a list of transforms.

The building blocks live in `gpu_augment.affine` and `gpu_augment.lighting`; a recipe is a short
composition of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gpu_augment.affine import AffineCoordTfm, Dihedral, Flip, RandomResizedCropGPU, Resize, Rotate, Warp, Zoom
from gpu_augment.lighting import Brightness, Contrast, LightingTfm

__all__ = ["aug_transforms", "setup_aug_tfms"]


def _parts(t: Any, kind: type[AffineCoordTfm] | type[LightingTfm]) -> list[Any]:
    """The leaf transforms of a (possibly already fused) transform of `kind`; a composite with its own
    probability stays one part, so that probability keeps applying to its parts together."""
    if type(t) is kind and t.p == 1 and not t.batch:
        return [p for sub in t.tfms for p in _parts(sub, kind)]
    return [t]


def setup_aug_tfms(tfms: Sequence[Any]) -> list[Any]:
    """Fuse the geometric transforms into one `AffineCoordTfm` and the lighting ones into one `LightingTfm`.

    Transforms are fused only with others of the same `split_idx` (a deterministic `Resize` stays
    separate from training-only ones). The fused transform takes its `size`, `mode`, `pad_mode` and
    `generator` from the first part that sets them, and its lighting space from the first lighting part.
    Other transforms are kept as they are; the result keeps the order of first appearance.
    """
    groups: dict[tuple[type, Any], list[Any]] = {}
    out: list[Any] = []
    for t in tfms:
        kind = AffineCoordTfm if isinstance(t, AffineCoordTfm) else LightingTfm if isinstance(t, LightingTfm) else None
        if kind is None:
            out.append(t)
            continue
        key = (kind, t.split_idx)
        if key not in groups:
            groups[key] = []
            out.append(key)
        groups[key].extend(_parts(t, kind))
    fused = []
    for item in out:
        if not isinstance(item, tuple):
            fused.append(item)
            continue
        kind, split_idx = item
        parts = groups[item]
        generator = next((p.generator for p in parts if p.generator is not None), None)
        if kind is AffineCoordTfm:
            size = next((p.size for p in reversed(parts) if p.size is not None), None)
            first = parts[0]
            tfm: Any = AffineCoordTfm(
                parts, size=size, mode=first.mode, pad_mode=first.pad_mode, generator=generator, split_idx=split_idx
            )
        else:
            tfm = LightingTfm(parts, space=parts[0].space, generator=generator)
        tfm.split_idx = split_idx
        fused.append(tfm)
    return fused


def aug_transforms(
    mult: float = 1.0,
    do_flip: bool = True,
    flip_vert: bool = False,
    max_rotate: float = 10.0,
    min_zoom: float = 1.0,
    max_zoom: float = 1.1,
    max_lighting: float = 0.2,
    max_warp: float = 0.2,
    p_affine: float = 0.75,
    p_lighting: float = 0.75,
    xtra_tfms: Sequence[Any] | None = None,
    size: int | tuple[int, int] | None = None,
    mode: str = "bilinear",
    pad_mode: str = "reflection",
    batch: bool = False,
    min_scale: float = 1.0,
    lighting_space: str = "logit",
) -> list[Any]:
    """The default batch augmentations, with fastai's defaults: flip, warp, rotate, zoom, brightness, contrast.

    `mult` scales rotation, lighting and warp; `p_affine`/`p_lighting` are per-item probabilities; `size`
    sets the output size; `min_scale < 1` adds a `RandomResizedCropGPU(size, min_scale, ratio=(1, 1))`.
    `lighting_space="linear"` switches to torchvision's brightness/contrast definitions. Returns the
    transforms fused by `setup_aug_tfms`: one resampling and one lighting pass per batch.

    With `size`, validation batches get the deterministic resize to the same size (as fastai's affine
    transforms give them), a `Resize` with `split_idx=1`: squished to `size`, or, with `min_scale < 1`,
    its centred crop (the random crop's validation counterpart). When no geometric transform is left to
    resize the training batches, that `Resize` runs on both splits.
    """
    max_rotate, max_lighting, max_warp = max_rotate * mult, max_lighting * mult, max_warp * mult
    kw: dict[str, Any] = {"size": size, "mode": mode, "pad_mode": pad_mode, "batch": batch}
    res: list[Any] = []
    if do_flip:
        res.append(Dihedral(p=0.5, **kw) if flip_vert else Flip(p=0.5, **kw))
    if max_warp:
        res.append(Warp(magnitude=max_warp, p=p_affine, **kw))
    if max_rotate:
        res.append(Rotate(max_deg=max_rotate, p=p_affine, **kw))
    if min_zoom < 1 or max_zoom > 1:
        res.append(Zoom(min_zoom=min_zoom, max_zoom=max_zoom, p=p_affine, **kw))
    if max_lighting:
        res.append(Brightness(max_lighting=max_lighting, p=p_lighting, space=lighting_space, batch=batch))
        res.append(Contrast(max_lighting=max_lighting, p=p_lighting, space=lighting_space, batch=batch))
    xtra = list(xtra_tfms or [])
    if min_scale != 1:
        if size is None:
            raise ValueError("aug_transforms: min_scale < 1 adds a random resized crop, which needs size=")
        xtra = [RandomResizedCropGPU(size, min_scale=min_scale, ratio=(1, 1), mode=mode, batch=batch), *xtra]
    if size is not None:
        # training batches leave the fused geometric transform at `size`; validation ones need the same shape
        resizes_train = any(isinstance(t, AffineCoordTfm) and t.split_idx == 0 for t in res + xtra)
        method = "squish" if min_scale == 1 else "crop"
        res.append(Resize(size, method, mode=mode, pad_mode=pad_mode, split_idx=1 if resizes_train else None))
    return setup_aug_tfms(res + xtra)
