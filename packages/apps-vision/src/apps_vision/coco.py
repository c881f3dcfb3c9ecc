"""Reading COCO-style annotation files: boxes and labels (`get_annotations`), key points (`get_keypoints`).

A file is data, never code: it is parsed as JSON and every field used is checked; a bad entry raises a
`ValueError` naming it (e.g. "annotations[3] (id 17): bbox must be [x, y, w, h] ...").
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

__all__ = ["get_annotations", "get_keypoints"]


def _load(json_path: str | os.PathLike[str]) -> tuple[list[dict], list[dict], dict[Any, str], str]:
    """The checked images, annotations and category names (by id) of a COCO-style file."""
    path = Path(json_path)
    where = str(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{where}: expected a JSON object with 'images', 'annotations', 'categories'")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise ValueError(f"{where}: '{key}' must be a list, got {type(data.get(key)).__name__}")
    names: dict[Any, str] = {}
    for i, c in enumerate(data["categories"]):
        if not isinstance(c, dict) or "id" not in c or not isinstance(c.get("name"), str):
            raise ValueError(f"{where}: categories[{i}] must be an object with 'id' and a string 'name', got {c!r}")
        if c["id"] in names:
            raise ValueError(f"{where}: categories[{i}] repeats id {c['id']!r}")
        names[c["id"]] = c["name"]
    seen: set[Any] = set()
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or not isinstance(im.get("file_name"), str):
            raise ValueError(f"{where}: images[{i}] must be an object with 'id' and a string 'file_name', got {im!r}")
        if im["id"] in seen:
            raise ValueError(f"{where}: images[{i}] repeats id {im['id']!r}")
        seen.add(im["id"])
    for i, a in enumerate(data["annotations"]):
        if not isinstance(a, dict):
            raise ValueError(f"{where}: annotations[{i}] must be an object, got {a!r}")
        label = f"{where}: annotations[{i}]" + (f" (id {a['id']!r})" if "id" in a else "")
        if a.get("image_id") not in seen:
            raise ValueError(f"{label}: image_id {a.get('image_id')!r} is not the id of any entry of 'images'")
        if a.get("category_id") not in names:
            raise ValueError(f"{label}: category_id {a.get('category_id')!r} is not the id of any category")
    return data["images"], data["annotations"], names, where


def _numbers(value: Any, n: int | None) -> list[float] | None:
    """`value` as a list of finite floats (of length `n` when given), or None when it is not one."""
    if not isinstance(value, list) or (n is not None and len(value) != n):
        return None
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value):
        return None
    return [float(v) for v in value]


def get_annotations(json_path: str | os.PathLike[str]) -> tuple[list[str], list[list[list[float]]], list[list[str]]]:
    """Boxes and labels of a COCO-style file: `(file_names, boxes, labels)`, one entry per image of the file.

    `boxes[i]` lists image i's boxes as [x1, y1, x2, y2] pixels (COCO's [x, y, w, h] converted, as fastai does) and
    `labels[i]` their category names, in the file's annotation order; an image without annotations gets empty
    lists (fastai's `get_annotations` returns `(file_names, [(boxes, labels), ...])` and skips such images).
    `iscrowd` annotations are kept. A bad entry (missing field, unknown image or category id, a bbox that is not
    four finite numbers with w, h >= 0) raises a `ValueError` naming it.
    """
    images, annotations, names, where = _load(json_path)
    index = {im["id"]: k for k, im in enumerate(images)}
    boxes: list[list[list[float]]] = [[] for _ in images]
    labels: list[list[str]] = [[] for _ in images]
    for i, a in enumerate(annotations):
        b = _numbers(a.get("bbox"), 4)
        if b is None or b[2] < 0 or b[3] < 0:
            label = f"{where}: annotations[{i}]" + (f" (id {a['id']!r})" if "id" in a else "")
            raise ValueError(
                f"{label}: bbox must be [x, y, w, h] of finite numbers with w, h >= 0, got {a.get('bbox')!r}"
            )
        k = index[a["image_id"]]
        boxes[k].append([b[0], b[1], b[0] + b[2], b[1] + b[3]])
        labels[k].append(names[a["category_id"]])
    return [im["file_name"] for im in images], boxes, labels


def get_keypoints(json_path: str | os.PathLike[str]) -> tuple[list[str], list[list[list[float]]]]:
    """Key points of a COCO-style file: `(file_names, points)`, one entry per image of the file.

    `points[i]` lists image i's labelled key points as [x, y] pixels: each annotation's `keypoints`
    (x, y, visibility triples) in order, annotations in file order; points of visibility 0 (not labelled) are left
    out. A `keypoints` field that is not a list of triples of finite numbers raises a `ValueError` naming the entry.
    """
    images, annotations, _, where = _load(json_path)
    index = {im["id"]: k for k, im in enumerate(images)}
    points: list[list[list[float]]] = [[] for _ in images]
    for i, a in enumerate(annotations):
        kp = _numbers(a.get("keypoints", []), None)
        if kp is None or len(kp) % 3:
            label = f"{where}: annotations[{i}]" + (f" (id {a['id']!r})" if "id" in a else "")
            raise ValueError(
                f"{label}: keypoints must be a list of (x, y, visibility) numbers, got {a.get('keypoints')!r}"
            )
        k = index[a["image_id"]]
        points[k].extend([x, y] for x, y, v in zip(kp[::3], kp[1::3], kp[2::3], strict=True) if v > 0)
    return [im["file_name"] for im in images], points
