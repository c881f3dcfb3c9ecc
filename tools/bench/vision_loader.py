"""Images/s of a full training epoch of image loading: apps_vision `ImageDataLoaders.from_folder` vs peers.

The data: `--n` generated 96x96 PNGs in 10 class folders (written once to a temporary folder). Each loader
reads the files, resizes to 64 per item, and augments with flips, rotation up to 10 degrees, zoom up to 1.1 and
brightness/contrast 0.2:
  - tiers: `ImageDataLoaders.from_folder(item_tfms=Resize(64), batch_tfms=aug_transforms(max_warp=0))`;
  - torchvision: `ImageFolder` + torch `DataLoader` + transforms v2 per item (`Resize`, `CenterCrop`,
    `RandomHorizontalFlip`, `RandomAffine(degrees=10, scale=(1, 1.1))`, `ColorJitter(0.2, 0.2)`);
  - fastai's `ImageDataLoaders.from_folder` with the same settings, when fastai is importable.
Like with like: every loader is built before timing (fastai runs one batch then, outside the timing), gives
the same images per epoch (`valid_pct=0.01` of `--n`, the rest in full batches of `--bs`, drop_last) in
uint8 -> float batches, shuffled; an epoch is timed from the first `iter()` to the last batch, worker start-up
included (workers are not persistent, the default of all three). fastai builds every item of the epoch and then
drops the incomplete last batch; that cost is part of its epoch as users see it.

Each row runs with 0 and 2 workers; a figure is the median of `--repeats` epochs, interleaved (the order of the
loaders rotates between repeats). Besides wall-clock images/s it prints images per CPU-second (this process plus
its workers, which have exited when an epoch ends): a machine shared with other jobs disturbs it far less.
`--no-lighting all` drops brightness/contrast from every loader (tiers and fastai `max_lighting=0`, torchvision
without `ColorJitter`); `--no-lighting tiers` from tiers only, as if its lighting step cost nothing: an upper bound
on what a faster lighting step could give (not a like-with-like comparison).
Targets (issue 15): tiers >= 1.0x torchvision and >= 2x fastai.

Usage: python tools/bench/vision_loader.py [--n 2000] [--repeats 5] [--bs 64] [--no-lighting all|tiers]
"""

from __future__ import annotations

import argparse
import os
import resource
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


def tiers_loader(path: Path, bs: int, workers: int, lighting: bool = True) -> Iterable:
    from apps_vision import ImageDataLoaders, Resize
    from gpu_augment import aug_transforms

    dls = ImageDataLoaders.from_folder(
        path, valid_pct=0.01, seed=0, item_tfms=Resize(64),
        batch_tfms=aug_transforms(max_warp=0, max_lighting=0.2 if lighting else 0.0), bs=bs, num_workers=workers,
    )  # fmt: skip
    return dls.train


def torchvision_loader(path: Path, bs: int, workers: int, lighting: bool = True) -> Iterable:
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
            *([v2.ColorJitter(0.2, 0.2)] if lighting else []),
        ]
    )
    return torch.utils.data.DataLoader(
        ImageFolder(str(path), transform=tfm), batch_size=bs, shuffle=True, drop_last=True, num_workers=workers
    )


def fastai_loader(path: Path, bs: int, workers: int, lighting: bool = True) -> Iterable | None:
    try:
        from fastai.vision.all import ImageDataLoaders, Resize, aug_transforms
    except ImportError:
        return None
    dls = ImageDataLoaders.from_folder(
        path, valid_pct=0.01, seed=0, item_tfms=Resize(64),
        batch_tfms=aug_transforms(max_warp=0, max_lighting=0.2 if lighting else 0.0), bs=bs, num_workers=workers,
    )  # fmt: skip
    return dls.train


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the loader workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def epoch(dl: Iterable) -> tuple[float, float]:
    """(images per wall second, images per CPU second) of one pass over `dl`."""
    cpu, t, n = _cpu(), time.perf_counter(), 0
    for b in dl:
        n += len(b[0])
    return n / (time.perf_counter() - t), n / max(_cpu() - cpu, 1e-9)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument(
        "--no-lighting", choices=("all", "tiers"), help="drop brightness/contrast from every loader, or from tiers only"
    )
    args = ap.parse_args()
    import torch

    lighting = {"all": "off everywhere", "tiers": "off in tiers only (an upper bound)"}.get(args.no_lighting, "on")
    print(f"torch threads {torch.get_num_threads()}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '-')}; "
          f"lighting {lighting}; load average {os.getloadavg()[0]:.1f} at start")  # fmt: skip

    def keeps_lighting(name: str) -> bool:
        return args.no_lighting is None or (args.no_lighting == "tiers" and name != "tiers")

    with tempfile.TemporaryDirectory() as tmp:
        path = make_images(Path(tmp), args.n)
        makers: dict[str, Callable[..., Iterable | None]] = {
            "tiers": tiers_loader,
            "torchvision v2": torchvision_loader,
            "fastai": fastai_loader,
        }
        for workers in (0, 2):
            loaders = {k: f(path, args.bs, workers, keeps_lighting(k)) for k, f in makers.items()}
            names = [k for k, dl in loaders.items() if dl is not None]
            wall: dict[str, list[float]] = {k: [] for k in names}
            cpu: dict[str, list[float]] = {k: [] for k in names}
            for r in range(args.repeats):
                for k in names[r % len(names) :] + names[: r % len(names)]:
                    w, c = epoch(loaders[k])  # type: ignore[arg-type]  # None loaders are not in `names`
                    wall[k].append(w)
                    cpu[k].append(c)
            for title, rates, suffix in (("images/s", wall, ""), ("images per CPU-second", cpu, " (CPU)")):
                med = {k: statistics.median(v) for k, v in rates.items()}
                print(f"\n{workers} workers, {title} (median of {args.repeats})")
                for k, v in med.items():
                    ratio = f"  tiers/{k} = {med['tiers'] / v:.2f}x" if k != "tiers" else ""
                    print(f"  {k + suffix:22s} {v:8.1f}{ratio}")
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
