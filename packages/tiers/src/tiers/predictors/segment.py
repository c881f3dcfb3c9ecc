"""`tiers predict` for segmenters: image files or folders -> the share of pixels of each class per image, and a
picture of each image with its predicted mask."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from apps_vision import PILImage
from tiers.predict import PredictError
from tiers.predictors.vision import MAX_PICTURED, image_inputs, picture_scale
from typedtensor import TensorMask, show_images

__all__ = ["predict"]


def predict(learn: Any, inputs: Sequence[str], out: Path) -> list[dict[str, Any]]:
    """Predict a mask per image; print the share of each predicted class; write `out/predictions.png`."""
    codes = [str(c) for c in (getattr(learn.dls, "vocab", None) or [])]
    rows: list[dict[str, Any]] = []
    pictures: list[tuple[Any, TensorMask]] = []  # (image, mask) pairs, shown together
    titles: list[str] = []
    for f in image_inputs(inputs):
        try:
            image = PILImage.create(f)
        except OSError as e:
            raise PredictError(f"{f}: cannot read the image ({e})") from None
        mask = learn.predict(f)[0]
        mask = torch.as_tensor(mask).as_subclass(torch.Tensor).long()
        counts = torch.bincount(mask.reshape(-1), minlength=max(len(codes), 1)).tolist()
        names = codes if len(codes) == len(counts) else [str(c) for c in range(len(counts))]
        shares = {n: c / mask.numel() for n, c in zip(names, counts, strict=True)}
        rows.append({"input": str(f), **shares})
        print(f"{f}: " + ", ".join(f"{n} {s:.1%}" for n, s in shares.items()))
        if len(pictures) < MAX_PICTURED:
            h, w = mask.shape[-2:]
            resized = PILImage.create(image.resize((w, h))) if image.size != (w, h) else image
            pictures.append((resized.to_tensor(), TensorMask(mask, codes=codes or None)))
            titles.append(f.name)
    out.mkdir(parents=True, exist_ok=True)
    scale = picture_scale([tuple(p[0].shape[-2:]) for p in pictures])
    picture = show_images(pictures, ncols=min(4, len(pictures)), titles=titles, scale=scale).save(
        out / "predictions.png"
    )
    print(f"wrote {picture}")
    return rows
