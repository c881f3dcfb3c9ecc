"""Images/s of a full training epoch of image loading: apps_vision `ImageDataLoaders.from_folder` vs peers.

The data: `--n` generated 96x96 PNGs in 10 class folders (written once to a temporary folder). Each loader
reads the files, resizes to 64 per item, and augments with flips, rotation up to 10 degrees, zoom up to 1.1 and
brightness/contrast 0.2:
  - tiers: `ImageDataLoaders.from_folder(item_tfms=Resize(64), batch_tfms=aug_transforms(max_warp=0))`;
  - torchvision: `ImageFolder` + torch `DataLoader` + transforms v2 per item (`Resize`, `CenterCrop`,
    `RandomHorizontalFlip`, `RandomAffine(degrees=10, scale=(1, 1.1))`, `ColorJitter(0.2, 0.2)`);
  - fastai's `ImageDataLoaders.from_folder` with the same settings, when fastai is importable.
Each row runs with 0 and 2 workers; the figure is the median of `--repeats` interleaved epochs.
Targets (issue 15): tiers >= 1.0x torchvision and >= 2x fastai.

Usage: python tools/bench/vision_loader.py [--n 2000] [--repeats 5] [--bs 64]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from PIL import Image


def make_images(root: Path, n: int) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        d = root / "train" / str(i % 10)
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return root / "train"


def tiers_loader(path: Path, bs: int, workers: int) -> Iterable:
    from apps_vision import ImageDataLoaders, Resize
    from gpu_augment import aug_transforms

    dls = ImageDataLoaders.from_folder(
        path, valid_pct=0.01, seed=0, item_tfms=Resize(64), batch_tfms=aug_transforms(max_warp=0), bs=bs,
        num_workers=workers,
    )  # fmt: skip
    return dls.train


def torchvision_loader(path: Path, bs: int, workers: int) -> Iterable:
    import torch
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    tfm = v2.Compose(
        [
            v2.PILToTensor(),
            v2.Resize(64),
            v2.CenterCrop(64),
            v2.RandomHorizontalFlip(),
            v2.RandomAffine(degrees=10, scale=(1, 1.1)),
            v2.ToDtype(torch.float32, scale=True),
            v2.ColorJitter(0.2, 0.2),
        ]
    )
    return torch.utils.data.DataLoader(
        ImageFolder(str(path), transform=tfm), batch_size=bs, shuffle=True, drop_last=True, num_workers=workers
    )


def fastai_loader(path: Path, bs: int, workers: int) -> Iterable | None:
    try:
        from fastai.vision.all import ImageDataLoaders, Resize, aug_transforms
    except ImportError:
        return None
    dls = ImageDataLoaders.from_folder(
        path, valid_pct=0.01, seed=0, item_tfms=Resize(64), batch_tfms=aug_transforms(max_warp=0), bs=bs,
        num_workers=workers,
    )  # fmt: skip
    return dls.train


def epoch_rate(dl: Iterable) -> float:
    t, n = time.perf_counter(), 0
    for b in dl:
        n += len(b[0])
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bs", type=int, default=64)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = make_images(Path(tmp), args.n)
        makers: dict[str, Callable[[Path, int, int], Iterable | None]] = {
            "tiers": tiers_loader,
            "torchvision v2": torchvision_loader,
            "fastai": fastai_loader,
        }
        for workers in (0, 2):
            loaders = {k: f(path, args.bs, workers) for k, f in makers.items()}
            rates: dict[str, list[float]] = {k: [] for k, dl in loaders.items() if dl is not None}
            for _ in range(args.repeats):
                for k in rates:
                    rates[k].append(epoch_rate(loaders[k]))
            med = {k: statistics.median(v) for k, v in rates.items()}
            print(f"\n{workers} workers, images/s (median of {args.repeats})")
            for k, v in med.items():
                ratio = f"  tiers/{k} = {med['tiers'] / v:.2f}x" if k != "tiers" else ""
                print(f"  {k:16s} {v:8.1f}{ratio}")


if __name__ == "__main__":
    main()
