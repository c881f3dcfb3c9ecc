"""Images/s of batch augmentation of images with boxes and key points: tiers (gpu_augment) vs peers.

A 64x3x224x224 float batch with 8 boxes and 4 key points per image goes through the batch augmentation, the
boxes and points moved with the pixels. Rows, side by side in one process, medians of interleaved repeats, with
torch on 1 thread and on the default number of threads (and on CUDA when present):
  - tiers aug_transforms() defaults (flip, rotate, zoom, warp, lighting) on (TensorImage, TensorBBox, TensorPoint),
    with `PadEmptyBoxes` giving boxes pushed off the canvas the padding label, and without warp;
  - tiers configured like the torchvision pipeline (zero padding, linear brightness/contrast), same elements;
  - torchvision.transforms.v2 applied per item to tv_tensors.Image + BoundingBoxes + KeyPoints with the
    equivalent operations;
  - fastai aug_transforms on (TensorImage, TensorBBox, TensorPoint), when importable (bench environment only).
Targets: (a) tiers like torchvision >= 1.0x torchvision v2 per item; (b) tiers aug_transforms() >= 3x fastai's
batch augmentation of the same batch. When fastai is missing, its images-only figures measured on the reference
machine (tools/bench/batch_augment.py: 322 img/s without warp, 225 with, single-threaded) are used: boxes and
points only add work to fastai's pipeline, so the ratio against them is a lower bound.

Usage: python tools/bench/detection_augment.py [--repeats 5] [--bs 64] [--threads 1 2] [--no-cpu]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch

from gpu_augment import (
    AffineCoordTfm,
    Brightness,
    Contrast,
    Flip,
    LightingTfm,
    PadEmptyBoxes,
    Rotate,
    Warp,
    Zoom,
    aug_transforms,
)
from typedtensor import TensorBBox, TensorCategory, TensorImage, TensorPoint

FASTAI_REFERENCE = {"no warp": 322.0, "warp": 225.0}  # images only, 1 thread, reference machine (issue 9)
TORCHVISION_REFERENCE = {"no warp": 1260.0, "warp": 605.0}  # torchvision v2 per item, images only, same machine

Batch = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def make_batch(bs: int, size: int = 224, n_boxes: int = 8, n_points: int = 4) -> Batch:
    """Images in [0, 1], boxes (x1, y1, x2, y2) inside the canvas, their labels, and key points, in pixels."""
    g = torch.Generator().manual_seed(0)
    x = torch.rand(bs, 3, size, size, generator=g)
    xy = torch.rand(bs, n_boxes, 2, generator=g) * (size * 0.7)
    wh = 8 + torch.rand(bs, n_boxes, 2, generator=g) * (size * 0.25)
    boxes = torch.cat([xy, xy + wh], -1)
    labels = torch.randint(1, 5, (bs, n_boxes), generator=g)
    points = 8 + torch.rand(bs, n_points, 2, generator=g) * (size - 16)
    return x, boxes, labels, points


def tiers_pipeline(tfms: list) -> Callable[[Batch], Any]:
    fs = sorted([*tfms, PadEmptyBoxes()], key=lambda t: t.order)

    def run(b: Batch) -> Any:
        x, boxes, labels, points = b
        size = tuple(x.shape[-2:])
        out: Any = (
            TensorImage(x),
            TensorBBox(boxes, canvas_size=size),
            TensorCategory(labels),
            TensorPoint(points, canvas_size=size),
        )
        for t in fs:
            out = t(out, split_idx=0)
        return out

    return run


def tiers_like_torchvision(warp: bool) -> Callable[[Batch], Any]:
    """Flip p=0.5; rotate 10 deg + zoom 1..1.1 together with p=0.75 (and warp 0.2 with p=0.75); linear brightness
    and contrast 0.2 on every item; zero padding: the torchvision pipeline below."""
    parts = [Flip(p=0.5), AffineCoordTfm([Rotate(10, p=1.0), Zoom(1.0, 1.1, p=1.0)], p=0.75)]
    if warp:
        parts.append(Warp(0.2, p=0.75))
    affine = AffineCoordTfm(parts, pad_mode="zeros")
    light = LightingTfm([Brightness(0.2, p=1.0), Contrast(0.2, p=1.0)], space="linear")
    return tiers_pipeline([affine, light])


def torchvision_per_item(warp: bool) -> Callable[[Batch], Any] | None:
    try:
        from torchvision import tv_tensors
        from torchvision.transforms import v2
    except ImportError:
        return None
    if not hasattr(tv_tensors, "KeyPoints"):  # torchvision < 0.23
        return None
    tfms = [v2.RandomHorizontalFlip(0.5), v2.RandomApply([v2.RandomAffine(degrees=10, scale=(1.0, 1.1))], p=0.75)]
    if warp:
        tfms.append(v2.RandomPerspective(distortion_scale=0.2, p=0.75))
    tfms.append(v2.ColorJitter(brightness=0.2, contrast=0.2))
    tfms.append(v2.SanitizeBoundingBoxes(labels_getter=lambda inputs: inputs[1]["labels"]))  # drops emptied boxes
    pipe = v2.Compose(tfms)

    def run(b: Batch) -> Any:
        x, boxes, labels, points = b
        size = tuple(x.shape[-2:])
        out = []
        for i in range(x.shape[0]):
            target = {
                "boxes": tv_tensors.BoundingBoxes(boxes[i], format="XYXY", canvas_size=size),
                "labels": labels[i],
                "keypoints": tv_tensors.KeyPoints(points[i], canvas_size=size),
            }
            out.append(pipe(tv_tensors.Image(x[i]), target))
        return torch.stack([o[0] for o in out]), [o[1] for o in out]

    return run


def fastai_pipeline(warp: bool) -> Callable[[Batch], Any] | None:
    try:
        from fastai.vision.augment import aug_transforms as fa_aug
        from fastai.vision.core import TensorBBox as FaBBox
        from fastai.vision.core import TensorImage as FaImage
        from fastai.vision.core import TensorPoint as FaPoint
        from fasttransform import Pipeline as FaPipeline
    except ImportError:
        return None
    pipe = FaPipeline(fa_aug(max_warp=0.2 if warp else 0.0), split_idx=0)

    def run(b: Batch) -> Any:
        x, boxes, labels, points = b
        size = x.shape[-1]
        # fastai keeps coordinates in [-1, 1] (its PointScaler runs per item, before the batch)
        scaled_boxes = FaBBox(boxes / size * 2 - 1, img_size=(size, size))
        scaled_points = FaPoint(points / size * 2 - 1, img_size=(size, size))
        return pipe((FaImage(x), scaled_boxes, labels, scaled_points))

    return run


def measure(rows: dict[str, Callable | None], b: Batch, repeats: int) -> dict[str, tuple[float, float] | None]:
    """Median images/s per row over `repeats` interleaved rounds (one warm-up round first), by wall time and by
    this process's CPU time (on a machine loaded by other jobs, CPU time on one thread is the steadier figure)."""
    walls: dict[str, list[float]] = {k: [] for k, f in rows.items() if f is not None}
    cpus: dict[str, list[float]] = {k: [] for k in walls}
    sync = torch.cuda.synchronize if b[0].is_cuda else (lambda: None)
    for r in range(repeats + 1):
        for name in walls:
            sync()
            start, start_cpu = time.perf_counter(), time.process_time()
            rows[name](b)  # type: ignore[misc]
            sync()
            if r:
                walls[name].append(time.perf_counter() - start)
                cpus[name].append(time.process_time() - start_cpu)
    n = b[0].shape[0]
    return {
        k: ((n / statistics.median(walls[k]), n / statistics.median(cpus[k])) if k in walls else None) for k in rows
    }


def report(title: str, speeds: dict[str, tuple[float, float] | None], cpu_time: bool) -> None:
    print(f"\n## {title}")
    print(f"{'pipeline (images + 8 boxes + 4 points each)':<48} {'img/s':>9} {'img/CPU-s':>10}")
    for name, v in speeds.items():
        print(f"{name:<48} {'peer not installed' if v is None else f'{v[0]:9.0f} {v[1]:10.0f}'}")
    col, unit = (1, "CPU time") if cpu_time else (0, "wall time")

    def rate(name: str) -> float | None:
        v = speeds[name]
        return None if v is None else v[col]

    for warp in ("no warp", "warp"):
        tiers, tv = rate(f"tiers like torchvision ({warp})"), rate(f"torchvision v2 per item ({warp})")
        if tv and tiers:
            print(f"(a) {warp}: tiers like torchvision / torchvision v2 per item = {tiers / tv:.2f}x by {unit}"
                  " (target >= 1.0x)")  # fmt: skip
        fa = rate(f"fastai aug_transforms ({warp})")
        base, src = (fa, "measured") if fa else (FASTAI_REFERENCE[warp], "images-only reference figure")
        tiers_def = rate(f"tiers aug_transforms() ({warp})")
        assert tiers_def is not None
        print(
            f"(b) {warp}: tiers aug_transforms() / fastai ({src}, {base:.0f} img/s) = {tiers_def / base:.2f}x by {unit}"
        )
        if not fa and tv:
            print(
                "    (this machine's torchvision speed on images alone is what tools/bench/batch_augment.py scales"
                " the reference figure by)"
            )
        print("    (target >= 3x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--bs", type=int, default=64)
    parser.add_argument("--threads", type=int, nargs="*", help="CPU thread counts to measure (default: 1 and all)")
    parser.add_argument("--no-cpu", action="store_true", help="CUDA rows only (when a GPU is present)")
    args = parser.parse_args()
    torch.manual_seed(0)
    b = make_batch(args.bs)
    rows: dict[str, Callable | None] = {}
    for warp, label in ((False, "no warp"), (True, "warp")):
        rows[f"tiers aug_transforms() ({label})"] = tiers_pipeline(aug_transforms(max_warp=0.2 if warp else 0.0))
        rows[f"tiers like torchvision ({label})"] = tiers_like_torchvision(warp)
        rows[f"torchvision v2 per item ({label})"] = torchvision_per_item(warp)
        rows[f"fastai aug_transforms ({label})"] = fastai_pipeline(warp)
    if not (args.no_cpu and torch.cuda.is_available()):
        default_threads = torch.get_num_threads()
        for threads in sorted(set(args.threads or (1, default_threads))):
            torch.set_num_threads(threads)
            speeds = measure(rows, b, args.repeats)
            report(f"CPU, {threads} thread(s), batch {tuple(b[0].shape)}", speeds, cpu_time=threads == 1)
        torch.set_num_threads(default_threads)
    if torch.cuda.is_available():
        cuda = tuple(t.cuda() for t in b)
        speeds = measure(rows, cuda, args.repeats)  # type: ignore[arg-type]
        report(f"CUDA ({torch.cuda.get_device_name()})", speeds, cpu_time=False)


if __name__ == "__main__":
    main()
