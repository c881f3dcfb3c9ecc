"""Key-point regression on the generated set: fit time on CPU and mean point error on the validation split.

The issue-16 acceptance: `detection_shapes(size=64)` pictures with one square each, its 5 key points (centre and
corners) regressed by `vision_learner(dls, arch, y_range=(-1, 1))` from scratch (no pretrained weights); target
mean point error <= 3 px at 64 px after a fit of <= 2 minutes on CPU. With `--budget`, the number of epochs is
chosen from a timing of a few training steps so that the fit takes about that long.

Usage: python tools/bench/keypoint_regression.py [--arch resnet18] [--n-train 1000] [--bs 32] [--lr 3e-3]
       [--epochs N | --budget 100] [--threads 2] [--head default|flat]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from apps_vision import ImageBlock, PointBlock, detection_shapes, get_keypoints, vision_learner
from datablock import DataBlock, FuncSplitter
from trainloop_callbacks.layers import SigmoidRange


def keypoint_dls(path: Path, bs: int):
    """DataLoaders of the pictures (inputs) and their key points (targets), split by folder."""
    pts: dict[str, list[list[float]]] = {}
    for split in ("train", "valid"):
        names, points = get_keypoints(path / f"{split}.json")
        pts.update(zip(names, points, strict=True))
    dblock = DataBlock(
        blocks=(ImageBlock, PointBlock),
        get_x=lambda f: path / f,
        get_y=lambda f: pts[f],
        splitter=FuncSplitter(lambda f: f.startswith("valid")),
    )
    return dblock.dataloaders(list(pts), bs=bs)


def mean_point_error(learn, size: int) -> float:
    """Mean distance in pixels between predicted and true points on the validation split."""
    preds, targs = learn.get_preds()
    p = preds.as_subclass(torch.Tensor).reshape(targs.shape)
    return float(((p - targs.as_subclass(torch.Tensor)) * (size / 2)).norm(dim=-1).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", default="resnet18")
    parser.add_argument("--n-train", type=int, default=1000)
    parser.add_argument("--bs", type=int, default=32)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--budget", type=float, default=100.0, help="seconds of fit when --epochs is not given")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--head", choices=("default", "flat"), default="default")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    size = 64
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = detection_shapes(
            n_train=args.n_train, n_valid=50, size=size, n_shapes=(1, 1), classes=["square"], dest=Path(tmp) / "kp"
        )
        dls = keypoint_dls(path, args.bs)
        made = time.perf_counter() - t0
        kw = {}
        if args.head == "flat":  # position kept: the last feature map flattened, no pooling
            feats = 512 * (size // 32) ** 2
            kw["custom_head"] = nn.Sequential(nn.Flatten(), nn.Linear(feats, dls.c), SigmoidRange(-1, 1))
        learn = vision_learner(dls, args.arch, pretrained=False, y_range=(-1, 1), **kw)
        epochs = args.epochs
        if epochs is None:  # time a few steps, then fit for about `budget` seconds (validation included)
            xb, yb = dls.one_batch()
            opt = torch.optim.Adam(learn.model.parameters(), lr=0.0)
            learn.model.train()
            for i in range(4):
                if i == 1:
                    start = time.perf_counter()
                loss = learn.loss_func(learn.model(xb.as_subclass(torch.Tensor)), yb.as_subclass(torch.Tensor))
                loss.backward()
                opt.step()
                opt.zero_grad()
            step = (time.perf_counter() - start) / 3
            per_epoch = step * (len(dls.train) + 0.4 * len(dls.valid))
            epochs = max(1, int(args.budget / per_epoch))
            learn = vision_learner(dls, args.arch, pretrained=False, y_range=(-1, 1), **kw)  # fresh weights
        start = time.perf_counter()
        with learn.no_bar():
            learn.fit_one_cycle(epochs, args.lr)
            fit = time.perf_counter() - start
            err = mean_point_error(learn, size)
    print(
        f"arch={args.arch} head={args.head} n_train={args.n_train} bs={args.bs} lr={args.lr} epochs={epochs} "
        f"threads={args.threads}: data {made:.1f}s, fit {fit:.1f}s, mean point error {err:.2f}px (target <= 3px, "
        "fit <= 120s)"
    )


if __name__ == "__main__":
    main()
