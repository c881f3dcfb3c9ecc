"""Issue 15's two other performance figures: a `vision_learner` epoch vs a hand-written torch loop, and the
import time of apps_vision.

1. `vision_learner(dls, "resnet18", pretrained=False).fit_one_cycle(1)` on 64 px images vs a hand-written loop
   with the same model (a deep copy of the learner's, same initial weights), optimizer (pluggable-optim's Adam, a
   `torch.optim.Optimizer`), one-cycle schedule (torch's `OneCycleLR`, fastai's shape: cosine warm-up over 25%,
   momentum 0.95-0.85-0.95) and data (the same in-memory batches: the Learner is given two plain DataLoaders over
   one `TensorDataset`), with a validation pass each. Seconds per epoch, median of `--repeats` interleaved runs.
   Target: learner / hand loop <= 1.05.
2. `import apps_vision` vs `import torch, torchvision`, each in a fresh interpreter, median of `--imports` runs.
   Target: apps_vision <= torch + torchvision + 0.3 s.

Usage: python tools/bench/vision_train.py [--n 1024] [--bs 64] [--repeats 3] [--imports 5]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import subprocess
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset


def loaders(n: int, bs: int) -> tuple[DataLoader, DataLoader]:
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(n, 3, 64, 64, generator=g), torch.randint(0, 10, (n,), generator=g)
    train = DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=True, drop_last=True, generator=g)
    valid = DataLoader(TensorDataset(x[: n // 4], y[: n // 4]), batch_size=bs)
    return train, valid


def hand_loop(model: torch.nn.Module, train: DataLoader, valid: DataLoader, lr: float) -> float:
    from pluggable_optim import Adam

    t = time.perf_counter()
    opt = Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=len(train), pct_start=0.25, div_factor=25.0, final_div_factor=1e5,
        base_momentum=0.85, max_momentum=0.95, cycle_momentum=False,
    )  # fmt: skip
    loss_fn = torch.nn.CrossEntropyLoss()
    model.train()
    for xb, yb in train:
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
        sched.step()
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(xb).argmax(1) == yb).sum()) for xb, yb in valid)
    assert correct >= 0
    return time.perf_counter() - t


def learner_epoch(model: torch.nn.Module, train: DataLoader, valid: DataLoader, lr: float) -> float:
    from trainloop_callbacks import CrossEntropyLossFlat, Learner
    from trainloop_callbacks.metrics import accuracy

    learn = Learner((train, valid), model, loss_func=CrossEntropyLossFlat(), metrics=accuracy)
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
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--imports", type=int, default=5)
    args = ap.parse_args()
    from apps_vision import VisionModel

    torch.manual_seed(0)
    base = VisionModel("resnet18", 10)
    train, valid = loaders(args.n, args.bs)
    times: dict[str, list[float]] = {"learner": [], "hand loop": []}
    for _ in range(args.repeats):
        times["learner"].append(learner_epoch(copy.deepcopy(base), train, valid, 1e-3))
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
