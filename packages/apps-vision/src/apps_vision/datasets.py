"""Data that ship with the package, written as ordinary image folders on first use (never into site-packages).

- `digits()`: the 8x8 handwritten digits (1,797 real images, 10 classes; from scikit-learn, BSD licence, see
  `data_files/DIGITS_LICENSE.txt`), as `digits/<label>/<n>.png` for `ImageDataLoaders.from_folder`.
- `shapes()`: a generated, seeded segmentation set: noisy pictures with circles and squares and their masks,
  as `shapes/images/<n>.png` and `shapes/labels/<n>.png`, for `SegmentationDataLoaders.from_label_func`.

Both go under the tiers cache directory: `$TIERS_HOME`, default `~/.tiers`.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from datablock import config_safe, tiers_home

__all__ = ["tiers_home", "digits", "shapes", "shapes_label", "SHAPES_CODES"]

SHAPES_CODES: list[str] = ["background", "circle", "square"]
"""The classes of the `shapes` masks, by code."""


def _publish(dest: Path, write: object) -> Path:
    """Run `write(tmp_dir)` and move the result to `dest` in one rename: a failed write leaves nothing behind."""
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}-", dir=dest.parent))
    try:
        write(tmp)  # type: ignore[operator]
        try:
            tmp.rename(dest)
        except OSError:
            if not dest.exists():  # another process may have published it first: then theirs is used
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def digits(dest: str | os.PathLike[str] | None = None, max_per_class: int | None = None) -> Path:
    """The handwritten digits as `<dest>/<digit>/<n>.png` (8x8 grey images, 0..16 scaled to 0..255).

    `max_per_class` keeps only the first images of each digit (a small set for quick examples). `dest` defaults
    to `tiers_home()/data/digits` (`digits_<max_per_class>` for a subset); written once, then reused.
    """
    if max_per_class is not None and max_per_class < 1:
        raise ValueError(f"digits: max_per_class must be a positive int or None, got {max_per_class!r}")
    name = "digits" if max_per_class is None else f"digits_{max_per_class}"
    out = Path(dest) if dest is not None else tiers_home() / "data" / name

    def write(tmp: Path) -> None:
        raw = resources.files("apps_vision").joinpath("data_files", "digits.csv.gz").read_bytes()
        table = np.loadtxt(gzip.decompress(raw).decode().splitlines(), delimiter=",", dtype=np.int64)
        pixels, labels = table[:, :64], table[:, 64]
        for d in range(10):
            (tmp / str(d)).mkdir()
        counts = dict.fromkeys(range(10), 0)
        for n, (p, y) in enumerate(zip(pixels, labels, strict=True)):
            counts[int(y)] += 1
            if max_per_class is not None and counts[int(y)] > max_per_class:
                continue
            img = np.round(p.reshape(8, 8) * (255 / 16)).astype(np.uint8)
            Image.fromarray(img, mode="L").save(tmp / str(int(y)) / f"{n:04d}.png")

    return _publish(out, write)


def shapes(n: int = 200, size: int = 64, seed: int = 0, dest: str | os.PathLike[str] | None = None) -> Path:
    """`n` generated pictures with 1 to 3 circles and squares on a noisy background, and their masks (codes:
    `SHAPES_CODES`), as `<dest>/images/<k>.png` and `<dest>/labels/<k>.png`; the same `seed` gives the same set.

    Circles are drawn in warm colours and squares in cool ones (jittered), so shape and colour both tell the
    class. `dest` defaults to `tiers_home()/data/shapes_<n>_<size>_<seed>`.
    """
    out = Path(dest) if dest is not None else tiers_home() / "data" / f"shapes_{n}_{size}_{seed}"

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        (tmp / "images").mkdir()
        (tmp / "labels").mkdir()
        for k in range(n):
            bg = rng.integers(40, 120, 3)
            img = np.clip(bg + rng.normal(0, 18, (size, size, 3)), 0, 255).astype(np.uint8)
            picture, mask = Image.fromarray(img), Image.new("L", (size, size), 0)
            draw_img, draw_mask = ImageDraw.Draw(picture), ImageDraw.Draw(mask)
            for _ in range(int(rng.integers(1, 4))):
                code = int(rng.integers(1, 3))
                r = int(rng.integers(size // 10, size // 4))
                cx, cy = (int(v) for v in rng.integers(r, size - r, 2))
                box = (cx - r, cy - r, cx + r, cy + r)
                warm = (int(rng.integers(190, 256)), int(rng.integers(60, 160)), int(rng.integers(0, 60)))
                cool = (int(rng.integers(0, 60)), int(rng.integers(120, 220)), int(rng.integers(190, 256)))
                if code == 1:
                    draw_img.ellipse(box, fill=warm)
                    draw_mask.ellipse(box, fill=1)
                else:
                    draw_img.rectangle(box, fill=cool)
                    draw_mask.rectangle(box, fill=2)
            picture.save(tmp / "images" / f"{k:04d}.png")
            mask.save(tmp / "labels" / f"{k:04d}.png")
        (tmp / "codes.txt").write_text("\n".join(SHAPES_CODES) + "\n")

    return _publish(out, write)


@config_safe
def shapes_label(fn: str | os.PathLike[str]) -> Path:
    """The mask of a `shapes` picture: `images/<k>.png` → `labels/<k>.png` (a module-level label function,
    so loaders using it export as data)."""
    p = Path(fn)
    return p.parent.parent / "labels" / p.name
