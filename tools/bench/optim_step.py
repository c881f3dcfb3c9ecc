"""ms per optimizer `step()` over torchvision's resnet18 parameters (random gradients), side by side.

tiers Adam (decoupled wd, i.e. AdamW), SGD with momentum and LAMB, eager and fused (torch.compile), against
torch.optim.AdamW with foreach=True, foreach=False and fused=True, and fastai's Adam/Lamb when installed.
Each figure is the median over interleaved repeats in this one process; the fused path's one-time compile
cost is reported separately.

Usage: python tools/bench/optim_step.py [--repeats 5] [--steps 8] [--fused none|adam|all]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

import pluggable_optim as po


def resnet18_params() -> list[nn.Parameter]:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    params = list(resnet18(weights=None).parameters())
    for p in params:
        p.grad = torch.randn_like(p) * 1e-2
    return params


def fresh(params: list[nn.Parameter]) -> list[nn.Parameter]:
    out = []
    for p in params:
        q = nn.Parameter(p.detach().clone())
        q.grad = p.grad.clone()
        out.append(q)
    return out


def contenders(base: list[nn.Parameter], fused: str) -> dict[str, Callable[[], torch.optim.Optimizer] | None]:
    hp = {"lr": 1e-3, "wd": 0.01}
    torch_kw = {"lr": 1e-3, "betas": (0.9, 0.99), "eps": 1e-5, "weight_decay": 0.01}
    out: dict[str, Callable[[], torch.optim.Optimizer] | None] = {
        "torch AdamW foreach=True": lambda: torch.optim.AdamW(fresh(base), foreach=True, **torch_kw),
        "torch AdamW foreach=False": lambda: torch.optim.AdamW(fresh(base), foreach=False, **torch_kw),
        "torch AdamW fused=True": lambda: torch.optim.AdamW(fresh(base), fused=True, **torch_kw),
        "tiers Adam (AdamW)": lambda: po.Adam(fresh(base), **hp),
        "tiers SGD momentum": lambda: po.SGD(fresh(base), lr=1e-2, mom=0.9, wd=0.01),
        "tiers Lamb": lambda: po.Lamb(fresh(base), **hp),
    }
    if fused in ("adam", "all"):
        out["tiers Adam fused"] = lambda: po.Adam(fresh(base), fused=True, **hp)
    if fused == "all":
        out["tiers SGD momentum fused"] = lambda: po.SGD(fresh(base), lr=1e-2, mom=0.9, wd=0.01, fused=True)
        out["tiers Lamb fused"] = lambda: po.Lamb(fresh(base), fused=True, **hp)
    try:
        from fastai.optimizer import Adam as FastaiAdam
        from fastai.optimizer import Lamb as FastaiLamb

        out["fastai Adam"] = lambda: FastaiAdam(fresh(base), lr=1e-3, wd=0.01)
        out["fastai Lamb"] = lambda: FastaiLamb(fresh(base), lr=1e-3, wd=0.01)
    except ImportError:
        out["fastai Adam"] = None
        out["fastai Lamb"] = None
    return out


def time_steps(opt: torch.optim.Optimizer, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        opt.step()
    return (time.perf_counter() - start) / n * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument(
        "--fused",
        choices=["none", "adam", "all"],
        default="adam",
        help="which fused (compiled) recipes to time; each compile takes tens of seconds on 2 cores",
    )
    args = parser.parse_args()

    base = resnet18_params()
    n_params = sum(p.numel() for p in base)
    print(
        f"resnet18: {len(base)} tensors, {n_params / 1e6:.1f}M parameters; torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads; median of {args.repeats} interleaved repeats of {args.steps} steps"
    )
    opts, setup_s = {}, {}
    for name, make in contenders(base, args.fused).items():
        if make is None:
            continue
        opt = make()
        start = time.perf_counter()
        for _ in range(3):  # warm up: state creation, and the compile of the fused path
            opt.step()
        setup_s[name] = time.perf_counter() - start
        opts[name] = opt
    times: dict[str, list[float]] = {name: [] for name in opts}
    for _ in range(args.repeats):
        for name, opt in opts.items():
            times[name].append(time_steps(opt, args.steps))
    med = {name: statistics.median(ts) for name, ts in times.items()}

    print(f"{'optimizer':<28}{'ms/step':>10}{'  vs torch AdamW foreach':>26}{'  warm-up s':>12}")
    ref = med["torch AdamW foreach=True"]
    for name in contenders(base, args.fused):
        if name not in med:
            print(f"{name:<28}{'peer not installed':>36}")
            continue
        print(f"{name:<28}{med[name]:>10.2f}{med[name] / ref:>25.2f}x{setup_s[name]:>12.2f}")

    def ratio(a: str, b: str, target: float) -> None:
        if a in med and b in med:
            r = med[a] / med[b]
            print(f"  {a} / {b}: {r:.2f}x (target <= {target}x){'' if r <= target else '  MISSED'}")

    print("ratios:")
    ratio("tiers Adam (AdamW)", "torch AdamW foreach=True", 1.05)
    ratio("tiers Lamb", "tiers Adam (AdamW)", 1.3)
    ratio("tiers Adam fused", "torch AdamW fused=True", 1.5)
    ratio("tiers Lamb fused", "torch AdamW fused=True", 1.5)
    if "tiers Adam fused" in setup_s:
        print("fused path one-time cost (3 warm-up steps, the first eager, then compile + 1 run):")
        for name in ("tiers Adam fused", "tiers SGD momentum fused", "tiers Lamb fused"):
            if name in setup_s:
                print(f"  {name}: {setup_s[name]:.1f} s")


if __name__ == "__main__":
    main()
