"""Predict latency of one image: the exported program (`learn.export_program`) vs the eager model + torchvision.

The program takes the decoded uint8 image and does everything inside (Pillow-exact resize and centre crop,
scaling, normalization, the model, softmax and argmax). The reference is what a hand-written deployment does:
torchvision transforms v2 on the uint8 tensor (`Resize(224)`, `CenterCrop(224)`, `ToDtype(float32, scale=True)`,
`Normalize`), then the eager model on the preprocessed tensor, softmax and argmax. Both run in one process
under `torch.no_grad()` on CPU with a fixed number of threads (`--threads`, default 1), resnet18 with 2 classes,
for a 224x224 image (the issue's case) and a 320x256 one (a resize inside). Each figure is the median over
`--repeats` interleaved repeats of the mean of `--calls` calls, in wall-clock time and in this process's CPU time
(`time.process_time`: with one thread, the steadier figure on a machine other processes share).
Target (issue 16): program / eager <= 1.1 on the 224 px image.

The work compared: like Pillow (and torchvision), the program resamples only along an axis whose size differs
from the target's, so the 224 px image costs no resampling in either; the 320x256 image is cropped to 256x256
and resampled on both axes by the program (Pillow's integers, exactly, in float64 matrix products), resized to
280x224 and cropped by torchvision (its own uint8 kernel): comparable work, not the same arithmetic.

Usage: python tools/bench/export_latency.py [--repeats 7] [--calls 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def make_learner(root: Path) -> object:
    from apps_vision import ImageDataLoaders, Resize, add_normalize, imagenet_stats, vision_learner

    rng = np.random.default_rng(0)
    for label in ("a", "b"):
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(4):
            Image.fromarray(rng.integers(0, 256, (256, 320, 3), dtype=np.uint8)).save(root / label / f"{i}.png")
    dls = ImageDataLoaders.from_folder(root, valid_pct=0.5, seed=0, item_tfms=Resize(224), bs=2)
    add_normalize(dls, imagenet_stats)
    return vision_learner(dls, "resnet18", pretrained=False)


def timed(f: Callable[[], object], calls: int) -> tuple[float, float]:
    """Seconds per call of `f`: (wall clock, this process's CPU time)."""
    t, c = time.perf_counter(), time.process_time()
    for _ in range(calls):
        f()
    return (time.perf_counter() - t) / calls, (time.process_time() - c) / calls


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--calls", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from torchvision.transforms import v2

    from apps_vision import imagenet_stats

    with tempfile.TemporaryDirectory() as tmp:
        learn = make_learner(Path(tmp) / "data")
        program = torch.export.load(learn.export_program(Path(tmp) / "model.pt2")).module()
    model = learn.model.cpu().eval()
    pre = v2.Compose(
        [v2.Resize(224), v2.CenterCrop(224), v2.ToDtype(torch.float32, scale=True), v2.Normalize(*imagenet_stats)]
    )

    def eager(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        probs = torch.softmax(model(pre(img)[None])[0], dim=0)
        return probs.argmax(), probs

    rng = np.random.default_rng(1)
    print(
        f"resnet18, CPU, {torch.get_num_threads()} thread(s); ms per image, median of {args.repeats} interleaved "
        f"repeats of {args.calls} calls; wall clock, and this process's CPU time (steadier on a shared machine)"
    )
    for h, w in ((224, 224), (256, 320)):
        img = torch.from_numpy(rng.integers(0, 256, (3, h, w), dtype=np.uint8))
        with torch.no_grad():
            program(img), eager(img)  # warm up
            times: dict[str, list[tuple[float, float]]] = {"program": [], "eager": []}
            for _ in range(args.repeats):
                times["program"].append(timed(lambda img=img: program(img), args.calls))
                times["eager"].append(timed(lambda img=img: eager(img), args.calls))
        for k, name in ((0, "wall"), (1, "cpu ")):
            med = {key: statistics.median(t[k] for t in v) * 1000 for key, v in times.items()}
            ratio = med["program"] / med["eager"]
            print(
                f"  {h}x{w} {name}: exported program {med['program']:7.2f} ms, eager model + torchvision "
                f"{med['eager']:7.2f} ms, ratio {ratio:.3f} (target <= 1.1)"
            )


if __name__ == "__main__":
    main()
