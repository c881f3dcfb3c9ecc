"""Data that ship with the package, written as ordinary image folders on first use (never into site-packages).

- `digits()`: the 8x8 handwritten digits (1,797 real images, 10 classes; from scikit-learn, BSD licence, see
  `data_files/DIGITS_LICENSE.txt`), as `digits/<label>/<n>.png` for `ImageDataLoaders.from_folder`.
- `shapes()`: a generated, seeded segmentation set: noisy pictures with circles and squares and their masks,
  as `shapes/images/<n>.png` and `shapes/labels/<n>.png`, for `SegmentationDataLoaders.from_label_func`.
- `detection_shapes()`: a generated, seeded detection and key-point set: circles, squares and triangles on
  textured backgrounds with COCO-style JSON (boxes, labels, key points of each shape's centre and corners).

Both go under the tiers cache directory: `$TIERS_HOME`, default `~/.tiers`.
"""

from __future__ import annotations

import gzip
import json
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from datablock import config_safe, tiers_home, write_folder_once

__all__ = [
    "tiers_home",
    "digits",
    "shapes",
    "shapes_label",
    "SHAPES_CODES",
    "detection_shapes",
    "DETECTION_CLASSES",
    "DETECTION_KEYPOINTS",
]

SHAPES_CODES: list[str] = ["background", "circle", "square"]
"""The classes of the `shapes` masks, by code."""


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
        # one path part per joinpath call: several at once need Python 3.11
        raw = resources.files("apps_vision").joinpath("data_files").joinpath("digits.csv.gz").read_bytes()
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

    return write_folder_once(out, write)


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

    return write_folder_once(out, write)


DETECTION_CLASSES: list[str] = ["circle", "square", "triangle"]
"""The classes of `detection_shapes`, in category-id order (id 1, 2, 3)."""

DETECTION_KEYPOINTS: dict[str, list[str]] = {
    "circle": ["centre"],
    "square": ["centre", "top_left", "top_right", "bottom_right", "bottom_left"],
    "triangle": ["centre", "top", "bottom_right", "bottom_left"],
}
"""The key points of each `detection_shapes` class, in the order they are listed in the annotations."""

# Fill colours (r, g, b) ranges per class: warm circles, cool squares, green triangles (jittered), so colour as
# well as shape tells the class; backgrounds are darker and greyer.
_FILL = {
    "circle": ((200, 256), (60, 150), (0, 50)),
    "square": ((0, 50), (110, 200), (200, 256)),
    "triangle": ((40, 110), (200, 256), (30, 100)),
}
_SUPER = 4  # subsamples per pixel side: shapes are anti-aliased by their exact coverage of each pixel


def _texture(rng: np.random.Generator, size: int) -> np.ndarray:
    """A textured background (size, size, 3) in 0..255: smooth colour blobs, stripes and pixel noise."""
    base = rng.uniform(30, 110, 3)
    coarse = rng.normal(0, 22, (5, 5, 3))
    blobs = np.asarray(
        Image.fromarray(np.clip(coarse + 128, 0, 255).astype(np.uint8)).resize((size, size), Image.Resampling.BICUBIC),
        dtype=np.float64,
    )
    yy, xx = np.mgrid[0:size, 0:size]
    angle, period = rng.uniform(0, np.pi), rng.uniform(4, 12)
    stripes = 12 * np.sin((xx * np.cos(angle) + yy * np.sin(angle)) * 2 * np.pi / period)[..., None]
    return base + (blobs - 128) + stripes + rng.normal(0, 8, (size, size, 3))


def _polygon(kind: str, cx: float, cy: float, r: float, angle: float) -> np.ndarray:
    """The corners (k, 2) of a square or triangle of circumradius `r` around (cx, cy), turned by `angle` (radians),
    in the order of `DETECTION_KEYPOINTS[kind][1:]` (clockwise on screen, y pointing down)."""
    if kind == "square":
        local = np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]) * (r / np.sqrt(2))
    else:  # an equilateral triangle, apex up
        a = np.deg2rad([-90.0, 30.0, 150.0])
        local = np.stack([np.cos(a), np.sin(a)], 1) * r
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return local @ rot.T + [cx, cy]


def _coverage(kind: str, geom: tuple, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """The fraction of each pixel of rows y0..y1-1, columns x0..x1-1 that the shape covers (exact geometry,
    sampled `_SUPER`² times per pixel; pixel (i, j) spans [j, j + 1) x [i, i + 1))."""
    offs = (np.arange(_SUPER) + 0.5) / _SUPER
    ys = (np.arange(y0, y1)[:, None] + offs).ravel()
    xs = (np.arange(x0, x1)[:, None] + offs).ravel()
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    if kind == "circle":
        cx, cy, r = geom
        inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    else:
        pts = geom[0]
        inside = np.ones_like(xx, dtype=bool)
        for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, 0), strict=True):  # clockwise on screen: inside is right
            inside &= (bx - ax) * (yy - ay) - (by - ay) * (xx - ax) >= 0
    h, w = y1 - y0, x1 - x0
    return inside.reshape(h, _SUPER, w, _SUPER).mean(axis=(1, 3))


def _draw_detection_image(
    rng: np.random.Generator, size: int, n_shapes: tuple[int, int], kinds: Sequence[str]
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """One picture and its shapes: kind, box (x1, y1, x2, y2) and key points [(x, y), ...], in pixels."""
    img = _texture(rng, size)
    shapes_out: list[dict[str, Any]] = []
    boxes: list[np.ndarray] = []
    for _ in range(int(rng.integers(n_shapes[0], n_shapes[1] + 1))):
        for _attempt in range(50):  # shapes never overlap, so every key point is visible
            kind = kinds[int(rng.integers(len(kinds)))]
            r = rng.uniform(size * 0.1, size * 0.22)
            cx, cy = rng.uniform(r + 1, size - r - 1, 2)
            if kind == "circle":
                geom: tuple = (cx, cy, r)
                box, points = np.array([cx - r, cy - r, cx + r, cy + r]), [(cx, cy)]
            else:
                corners = _polygon(kind, cx, cy, r, rng.uniform(-np.pi / 9, np.pi / 9))
                geom = (corners,)
                box = np.concatenate([corners.min(0), corners.max(0)])
                centre = corners.mean(0)
                points = [(float(centre[0]), float(centre[1]))] + [(float(x), float(y)) for x, y in corners]
            gap = 2.0
            if all(
                box[0] > b[2] + gap or b[0] > box[2] + gap or box[1] > b[3] + gap or b[1] > box[3] + gap for b in boxes
            ):
                break
        else:
            continue  # no free place found: the picture gets fewer shapes
        boxes.append(box)
        x0, y0 = int(np.floor(box[0])), int(np.floor(box[1]))
        x1, y1 = int(np.ceil(box[2])), int(np.ceil(box[3]))
        cover = _coverage(kind, geom, x0, y0, x1, y1)[..., None]
        fill = np.array([rng.uniform(lo, hi) for lo, hi in _FILL[kind]])
        img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - cover) + fill * cover
        shapes_out.append(
            {"kind": kind, "box": [float(v) for v in box], "points": [(float(x), float(y)) for x, y in points]}
        )
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), shapes_out


def detection_shapes(
    n_train: int = 200,
    n_valid: int = 50,
    size: int = 128,
    seed: int = 0,
    n_shapes: tuple[int, int] = (1, 3),
    classes: Sequence[str] = tuple(DETECTION_CLASSES),
    dest: str | os.PathLike[str] | None = None,
) -> Path:
    """A generated, seeded object-detection set written like a user's own COCO data: `train/<k>.png`,
    `valid/<k>.png` and, per split, `train.json` / `valid.json` (COCO-style; `file_name`s relative to the set's
    folder, e.g. "train/0000.png"), the set's folder returned.

    Each picture holds `n_shapes` (min, max) non-overlapping circles, squares and triangles (`classes`, a subset of
    `DETECTION_CLASSES`) on a textured background. Each annotation has the shape's `bbox` ([x, y, w, h] in pixels,
    the tight box of its exact geometry), `category_id` (1-based, in `DETECTION_CLASSES` order) and `keypoints`
    (x, y, visibility 2 per point: the centre, then the corners, as named by the category's `keypoints`).
    Read it with `get_annotations` / `get_keypoints`. Coordinates are continuous pixels (pixel (i, j) spans
    [j, j + 1) x [i, i + 1)). `dest` defaults to `tiers_home()/data/detection_shapes_<n_train>_<n_valid>_<size>_
    <seed>` (plus the shape counts and classes when not the defaults); written once, then reused.
    """
    for name, v in (("n_train", n_train), ("n_valid", n_valid)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            raise ValueError(f"detection_shapes: {name} must be an int >= 0, got {v!r}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 16:
        raise ValueError(f"detection_shapes: size must be an int >= 16 pixels, got {size!r}")
    lo, hi = (int(v) for v in n_shapes)
    if not 0 <= lo <= hi:
        raise ValueError(f"detection_shapes: n_shapes must be (min, max) with 0 <= min <= max, got {n_shapes!r}")
    classes = list(classes)
    unknown = [c for c in classes if c not in DETECTION_CLASSES]
    if unknown or not classes:
        raise ValueError(f"detection_shapes: classes must be a non-empty subset of {DETECTION_CLASSES}, got {classes}")
    name = f"detection_shapes_{n_train}_{n_valid}_{size}_{seed}"
    if (lo, hi) != (1, 3) or classes != DETECTION_CLASSES:
        name += f"_{lo}-{hi}_" + "-".join(classes)
    out = Path(dest) if dest is not None else tiers_home() / "data" / name
    categories = [
        {"id": i + 1, "name": c, "supercategory": "shape", "keypoints": DETECTION_KEYPOINTS[c]}
        for i, c in enumerate(DETECTION_CLASSES)
    ]

    def write(tmp: Path) -> None:
        rng = np.random.default_rng(seed)
        for split, n in (("train", n_train), ("valid", n_valid)):
            (tmp / split).mkdir()
            images: list[dict[str, Any]] = []
            annotations: list[dict[str, Any]] = []
            for k in range(n):
                img, found = _draw_detection_image(rng, size, (lo, hi), classes)
                file_name = f"{split}/{k:04d}.png"
                Image.fromarray(img).save(tmp / file_name)
                images.append({"id": k, "file_name": file_name, "height": size, "width": size})
                for s in found:
                    x1, y1, x2, y2 = s["box"]
                    annotations.append(
                        {
                            "id": len(annotations),
                            "image_id": k,
                            "category_id": DETECTION_CLASSES.index(s["kind"]) + 1,
                            "bbox": [round(v, 4) for v in (x1, y1, x2 - x1, y2 - y1)],
                            "area": round((x2 - x1) * (y2 - y1), 4),
                            "iscrowd": 0,
                            "keypoints": [round(v, 4) for x, y in s["points"] for v in (x, y, 2)],
                            "num_keypoints": len(s["points"]),
                        }
                    )
            coco = {"images": images, "annotations": annotations, "categories": categories}
            (tmp / f"{split}.json").write_text(json.dumps(coco, indent=1))

    return write_folder_once(out, write)


@config_safe
def shapes_label(fn: str | os.PathLike[str]) -> Path:
    """The mask of a `shapes` picture: `images/<k>.png` → `labels/<k>.png` (a module-level label function,
    so loaders using it export as data)."""
    p = Path(fn)
    return p.parent.parent / "labels" / p.name
