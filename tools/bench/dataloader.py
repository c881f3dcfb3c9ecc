"""Throughput of datablock's DataLoader vs torchvision ImageFolder + torch DataLoader, and of the in-memory fast path.

Images: 2,000 generated 96x96 PNGs in 10 class folders (a temp dir), resized to 64x64 and made tensors per
item, floats per batch; one full shuffled epoch (bs=64) with 0 and 2 workers, worker start-up included
for both. Items go DataBlock -> Datasets -> Pipeline -> DataLoader on our side (with a minimal PIL image
block defined here). In memory: batches/s over 50,000 x 64 float rows (bs=256, shuffled) through our
fast path vs TensorDataset + torch DataLoader. Every figure is the median of interleaved repeats in this
process. Besides wall-clock img/s it prints the CPU time an epoch costs (this process plus its workers),
which a machine shared with other jobs disturbs much less than wall time.
Usage: python tools/bench/dataloader.py [--repeats 5] [--n-images 2000]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

SIZE, OUT, BS = 96, 64, 64

PIPELINES = f"""pipelines (both: PIL decode, PIL bilinear resize {SIZE}->{OUT}, uint8 HWC->CHW tensor per item, bs={BS},
shuffled, float/255 per batch in the main process):
  datablock : get_files -> [open_image = Image.open(p).convert('RGB')] + [parent_label -> Categorize]
              -> after_item [Resize = img.resize(({OUT},{OUT}), BILINEAR), ToTensor] -> collate -> IntToFloatTensor
  torch     : ImageFolder(pil_loader = Image.open(f).convert('RGB'), transform=Compose([Resize(({OUT},{OUT}),
              BILINEAR), PILToTensor()])) -> default_collate -> x.float() / 255
  fastai    : DataBlock(ImageBlock, CategoryBlock, item_tfms=Resize({OUT}, method='squish'))"""


def make_images(root: Path, n: int, n_classes: int = 10) -> None:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / f"class{i % n_classes}"
        folder.mkdir(exist_ok=True)
        arr = rng.integers(0, 256, (SIZE, SIZE, 3), dtype=np.uint8)
        Image.fromarray(arr).save(folder / f"{i:05d}.png")


def _cpu() -> float:
    """CPU seconds used so far by this process and its finished children (the loader workers)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def epoch_time(loader: Iterable[Any], to_float: Callable[[Any], Any] | None = None) -> tuple[float, int, float]:
    """Wall seconds, items and CPU seconds (workers included: they have exited when a pass ends) of one pass."""
    cpu, start = _cpu(), time.perf_counter()
    n = 0
    for b in loader:
        x = b[0] if to_float is None else to_float(b[0])
        n += x.shape[0]
    return time.perf_counter() - start, n, _cpu() - cpu


def ours_images(root: Path, workers: int) -> Any:
    from datablock import CategoryBlock, DataBlock, IntToFloatTensor, ToTensor, TransformBlock, get_files, parent_label
    from dispatch_transforms import Transform

    class Resize(Transform):  # minimal PIL resize, same op as torchvision's Resize on a PIL image
        order = 1

        def encodes(self, x: Image.Image) -> Image.Image:
            return x.resize((OUT, OUT), Image.Resampling.BILINEAR)

    def open_image(p: Path) -> Image.Image:
        return Image.open(p).convert("RGB")

    def image_block() -> TransformBlock:
        return TransformBlock(type_tfms=[open_image], batch_tfms=[IntToFloatTensor()])

    dblock = DataBlock(
        blocks=(image_block, CategoryBlock),
        get_items=lambda p: get_files(p, extensions=[".png"]),
        get_y=parent_label,
        splitter=lambda items: (list(range(len(items))), []),
        item_tfms=[Resize(), ToTensor()],
    )
    return dblock.dataloaders(root, bs=BS, num_workers=workers, drop_last=False).train


def torch_images(root: Path, workers: int) -> Any:
    from torchvision import datasets, transforms

    tfm = transforms.Compose(
        [transforms.Resize((OUT, OUT), interpolation=transforms.InterpolationMode.BILINEAR), transforms.PILToTensor()]
    )
    ds = datasets.ImageFolder(str(root), transform=tfm)
    return torch.utils.data.DataLoader(ds, batch_size=BS, shuffle=True, num_workers=workers)


def fastai_images(root: Path, workers: int) -> Any:
    from fastai.vision.all import CategoryBlock, DataBlock, ImageBlock, Resize, get_image_files, parent_label

    dblock = DataBlock(
        blocks=(ImageBlock, CategoryBlock),
        get_items=get_image_files,
        get_y=parent_label,
        splitter=lambda items: (list(range(len(items))), []),
        item_tfms=Resize(OUT, method="squish"),
    )
    return dblock.dataloaders(root, bs=BS, num_workers=workers, drop_last=False).train


def bench_images(root: Path, repeats: int) -> None:
    makers = {"datablock": ours_images, "torch ImageFolder": torch_images, "fastai": fastai_images}
    for workers in (0, 2):
        loaders = {}
        for name, make in makers.items():
            try:
                loaders[name] = make(root, workers)
            except ImportError:
                loaders[name] = None
        times: dict[str, list[float]] = {k: [] for k, v in loaders.items() if v is not None}
        cpus: dict[str, list[float]] = {k: [] for k in times}
        counts: dict[str, int] = {}
        for _ in range(repeats):  # interleaved: each repeat runs every loader once
            for name in times:
                to_float = (lambda x: x.float() / 255) if name == "torch ImageFolder" else None
                t, n, cpu = epoch_time(loaders[name], to_float)
                times[name].append(t)
                cpus[name].append(cpu)
                counts[name] = n
        ref, ref_cpu = statistics.median(times["torch ImageFolder"]), statistics.median(cpus["torch ImageFolder"])
        for name, dl in loaders.items():
            if dl is None:
                print(f"images  workers={workers}  {name:18s} peer not installed")
                continue
            med, cpu = statistics.median(times[name]), statistics.median(cpus[name])
            print(
                f"images  workers={workers}  {name:18s} {counts[name] / med:9.0f} img/s  "
                f"(epoch {med * 1000:7.1f} ms)  x{ref / med:.2f} vs torch  |  "
                f"cpu {cpu * 1e6 / counts[name]:6.0f} us/img  x{ref_cpu / cpu:.2f} vs torch"
            )


def bench_memory(repeats: int, n: int = 50_000, bs: int = 256) -> None:
    from torch.utils.data import TensorDataset

    from datablock import DataLoader

    x, y = torch.randn(n, 64), torch.randint(0, 10, (n,))
    ours = DataLoader((x, y), bs=bs, shuffle=True)
    ref = torch.utils.data.DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=True)
    times: dict[str, list[float]] = {"datablock fast path": [], "TensorDataset": []}
    nb = {}
    for _ in range(repeats):
        for name, dl in (("datablock fast path", ours), ("TensorDataset", ref)):
            start = time.perf_counter()
            nb[name] = sum(1 for _ in dl)
            times[name].append(time.perf_counter() - start)
    base = statistics.median(times["TensorDataset"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"memory  workers=0  {name:20s} {nb[name] / med:9.0f} batches/s  x{base / med:.2f} vs torch")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--n-images", type=int, default=2000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    print(PIPELINES)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        make_images(root, args.n_images)
        bench_images(root, args.repeats)
    bench_memory(args.repeats)


if __name__ == "__main__":
    main()
