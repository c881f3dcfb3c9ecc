"""`tiers predict` for image classifiers: image files or folders of them -> label and probability per image,
and a picture of the images titled with their predictions."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from apps_vision import PILImage, get_image_files, image_extensions
from tiers.predict import PredictError
from typedtensor import show_images

__all__ = ["image_inputs", "picture_scale", "predict"]

MAX_PICTURED = 36  # the result picture shows at most this many images (every prediction is printed)


def image_inputs(inputs: Sequence[str]) -> list[Path]:
    """Every image named: files as given, folders searched recursively for image files (sorted)."""
    files: list[Path] = []
    for text in inputs:
        p = Path(text)
        if p.is_dir():
            found = sorted(get_image_files(p))
            if not found:
                raise PredictError(f"{p}: the folder holds no image files ({', '.join(sorted(image_extensions))})")
            files += found
        elif p.is_file():
            if p.suffix.lower() not in image_extensions:
                raise PredictError(f"{p}: not an image file (expected one of {', '.join(sorted(image_extensions))})")
            files.append(p)
        else:
            raise PredictError(f"{p}: no such file or folder")
    return files


def picture_scale(sizes: Sequence[Sequence[int]], target: int = 96) -> int:
    """An integer zoom that shows the smallest image at about `target` pixels (tiny digits become visible)."""
    smallest = min((min(s) for s in sizes), default=target)
    return max(1, min(8, target // max(1, smallest)))


def predict(learn: Any, inputs: Sequence[str], out: Path) -> list[dict[str, Any]]:
    """Predict each image; print `file: label (probability)`; write `out/predictions.png`."""
    files = image_inputs(inputs)
    rows: list[dict[str, Any]] = []
    pictures: list[Any] = []  # typed tensors, shown together
    titles: list[str] = []
    for f in files:
        try:
            image = PILImage.create(f)
        except OSError as e:
            raise PredictError(f"{f}: cannot read the image ({e})") from None
        label, idx, probs = learn.predict(f)
        prob = float(probs[int(idx)])
        rows.append({"input": str(f), "label": str(label), "probability": prob})
        print(f"{f}: {label} ({prob:.1%})")
        if len(pictures) < MAX_PICTURED:
            pictures.append(image.to_tensor())
            titles.append(f"{label} {prob:.0%}")
    out.mkdir(parents=True, exist_ok=True)
    scale = picture_scale([tuple(p.shape[-2:]) for p in pictures])
    picture = show_images(pictures, ncols=min(6, len(pictures)), titles=titles, scale=scale).save(
        out / "predictions.png"
    )
    print(f"wrote {picture}")
    return rows
