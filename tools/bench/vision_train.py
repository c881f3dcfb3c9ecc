"""Issue 15's two other performance figures: a `vision_learner` epoch vs a hand-written torch loop, and the
import time of apps_vision.

1. `vision_learner(dls, "resnet18", pretrained=False).fit_one_cycle(1)` on 64 px images vs a hand-written loop
   with the same model (the learner's own `VisionModel`, deep-copied: same initial weights), optimizer
   (pluggable-optim's Adam, a `torch.optim.Optimizer`, same hyper-parameters), one-cycle schedule (written out by
   hand: cosine warm-up of the learning rate over 25% from lr/25, cosine anneal to lr/1e5, momentum 0.95-0.85-0.95,
   set every step) and data (the same in-memory batches: `vision_learner` is given two plain DataLoaders over one
   `TensorDataset`, `n_out=10` and the loss), with a validation pass (accuracy) each. Seconds per epoch, median of
   `--repeats` interleaved runs in this process. Target: learner / hand loop <= 1.05.
2. `import apps_vision` vs `import torch, torchvision`, each in a fresh interpreter, median of `--imports` runs.
   Target: apps_vision <= torch + torchvision + 0.3 s.

Usage: python tools/bench/vision_train.py [--n 1024] [--bs 64] [--repeats 5] [--imports 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import math
import statistics
import subprocess
import sys
import time
from typing import Any

import torch
from torch.utils.data import DataLoader, TensorDataset


def loaders(n: int, bs: int) -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(n, 3, 64, 64, generator=g), torch.randint(0, 10, (n,), generator=g)
    train = DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=True, drop_last=True, generator=g)
    valid = DataLoader(TensorDataset(x[: n // 4], y[: n // 4]), batch_size=bs)
    return train, valid


def one_cycle(pct: float, lr: float) -> tuple[float, float]:
    """fastai's one-cycle at `pct` of training: (learning rate, momentum), cosine pieces split at 25%."""

    def cos(start: float, end: float, p: float) -> float:
        return start + (1 + math.cos(math.pi * (1 - p))) * (end - start) / 2

    if pct < 0.25:
        return cos(lr / 25, lr, pct / 0.25), cos(0.95, 0.85, pct / 0.25)
    return cos(lr, lr / 1e5, (pct - 0.25) / 0.75), cos(0.85, 0.95, (pct - 0.25) / 0.75)


def hand_loop(model: torch.nn.Module, train: DataLoader, valid: DataLoader, lr: float) -> float:
    from pluggable_optim import Adam

    t = time.perf_counter()
    opt = Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    n = len(train)
    for i, (xb, yb) in enumerate(train):
        lr_i, mom_i = one_cycle(i / n, lr)
        for g in opt.param_groups:
            g["lr"], g["mom"] = lr_i, mom_i
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in valid)
    assert correct >= 0
    return time.perf_counter() - t


def vision_learner_for(train: DataLoader, valid: DataLoader, lr: float) -> Any:
    from apps_vision import vision_learner
    from trainloop_callbacks import CrossEntropyLossFlat
    from trainloop_callbacks.metrics import accuracy

    return vision_learner(
        (train, valid), "resnet18", pretrained=False, n_out=10, loss_func=CrossEntropyLossFlat(), metrics=accuracy,
        lr=lr,
    )  # fmt: skip


def learner_epoch(learn: Any, lr: float) -> float:
    t = time.perf_counter()
    with learn.no_bar():
        learn.fit_one_cycle(1, lr)
    return time.perf_counter() - t


def import_time(code: str) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1024)
    ap.add_argument("--bs", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--imports", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2, help="torch intra-op threads (the targets: 2 CPU cores)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    train, valid = loaders(args.n, args.bs)
    base = vision_learner_for(train, valid, 1e-3).model  # the model vision_learner builds, initial weights kept
    times: dict[str, list[float]] = {"learner": [], "hand loop": []}
    for _ in range(args.repeats):
        learn = vision_learner_for(train, valid, 1e-3)
        learn.model.load_state_dict(base.state_dict())
        times["learner"].append(learner_epoch(learn, 1e-3))
        times["hand loop"].append(hand_loop(copy.deepcopy(base), train, valid, 1e-3))
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"resnet18 at 64 px, {args.n} images, bs {args.bs}, CPU {torch.get_num_threads()} threads")
    print(f"  seconds per epoch (median of {args.repeats}): learner {med['learner']:.2f}, hand loop "
          f"{med['hand loop']:.2f}; ratio {med['learner'] / med['hand loop']:.3f} (target <= 1.05)")  # fmt: skip
    imp: dict[str, list[float]] = {"torch, torchvision": [], "apps_vision": []}
    for _ in range(args.imports):
        imp["torch, torchvision"].append(import_time("import torch, torchvision"))
        imp["apps_vision"].append(import_time("import apps_vision"))
    base_s, app_s = (statistics.median(v) for v in imp.values())
    print(f"  import (median of {args.imports}): torch+torchvision {base_s:.2f} s, apps_vision {app_s:.2f} s; "
          f"difference {app_s - base_s:+.2f} s (target <= 0.3)")  # fmt: skip


if __name__ == "__main__":
    main()
