"""ms per optimizer `step()` over torchvision's resnet18 parameters (random gradients), side by side.

tiers Adam (decoupled wd, i.e. AdamW), SGD with momentum and LAMB, by default (torch's fused kernel for SGD and
Adam), as the foreach composition (`foreach=True`) and fused (`fused=True`: torch's kernel, or torch.compile for
LAMB), against torch.optim.AdamW / SGD (foreach, for-loop, fused) and fastai's Adam/SGD/Lamb when installed.
Each figure is the median over interleaved repeats in this one process, on `--threads` threads (1 by default:
the machine is shared); the fused path's one-time compile cost is reported separately, and `--compile-cache`
measures it in two fresh processes sharing one inductor cache directory (cold, then warm).

Usage: python tools/bench/optim_step.py [--repeats 5] [--steps 8] [--fused none|adam|all] [--threads 1]
       [--compile-cache]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
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
    sgd_kw = {"lr": 1e-2, "momentum": 0.9, "weight_decay": 0.01}  # SGD, momentum 0.9, L2 decay
    tiers_sgd = {"lr": 1e-2, "mom": 0.9, "wd": 0.01, "decouple_wd": False}
    out: dict[str, Callable[[], torch.optim.Optimizer] | None] = {
        "torch AdamW foreach=True": lambda: torch.optim.AdamW(fresh(base), foreach=True, **torch_kw),
        "torch AdamW foreach=False": lambda: torch.optim.AdamW(fresh(base), foreach=False, **torch_kw),
        "torch AdamW fused=True": lambda: torch.optim.AdamW(fresh(base), fused=True, **torch_kw),
        "tiers Adam (AdamW)": lambda: po.Adam(fresh(base), **hp),
        "tiers Adam foreach=True": lambda: po.Adam(fresh(base), foreach=True, **hp),
        "torch SGD mom L2 foreach": lambda: torch.optim.SGD(fresh(base), foreach=True, **sgd_kw),
        "torch SGD mom L2 fused": lambda: torch.optim.SGD(fresh(base), fused=True, **sgd_kw),
        "tiers SGD mom L2": lambda: po.SGD(fresh(base), **tiers_sgd),
        "tiers SGD mom L2 foreach=True": lambda: po.SGD(fresh(base), foreach=True, **tiers_sgd),
        "tiers SGD mom decoupled": lambda: po.SGD(fresh(base), lr=1e-2, mom=0.9, wd=0.01),
        "tiers SGD nesterov L2": lambda: po.SGD(fresh(base), nesterov=True, **tiers_sgd),
        "tiers Lamb": lambda: po.Lamb(fresh(base), **hp),
    }
    if fused in ("adam", "all"):
        out["tiers Adam fused"] = lambda: po.Adam(fresh(base), fused=True, **hp)
    if fused == "all":
        out["tiers SGD momentum fused"] = lambda: po.SGD(fresh(base), fused=True, **tiers_sgd)
        out["tiers Lamb fused"] = lambda: po.Lamb(fresh(base), fused=True, **hp)
    try:
        from fastai.optimizer import SGD as FastaiSGD
        from fastai.optimizer import Adam as FastaiAdam
        from fastai.optimizer import Lamb as FastaiLamb

        out["fastai Adam"] = lambda: FastaiAdam(fresh(base), lr=1e-3, wd=0.01)
        out["fastai SGD mom L2"] = lambda: FastaiSGD(fresh(base), lr=1e-2, mom=0.9, wd=0.01, decouple_wd=False)
        out["fastai Lamb"] = lambda: FastaiLamb(fresh(base), lr=1e-3, wd=0.01)
    except ImportError:
        out["fastai Adam"] = None
        out["fastai SGD mom L2"] = None
        out["fastai Lamb"] = None
    return out


def time_steps(opt: torch.optim.Optimizer, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        opt.step()
    return (time.perf_counter() - start) / n * 1e3


PROBE = """
import sys, time, torch
sys.path.insert(0, {here!r})
from optim_step import resnet18_params
import pluggable_optim as po
torch.set_num_threads(1)
opt = po.Lamb(resnet18_params(), lr=1e-3, wd=0.01, fused=True)
opt.step()  # the first step is eager (it creates the state)
start = time.perf_counter()
opt.step()  # compile (or load from the cache) + one run
print(time.perf_counter() - start)
"""


def compile_cache_probe() -> None:
    """The fused LAMB step's compile cost in two fresh processes sharing one inductor cache: cold, then warm."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": cache}
        code = PROBE.format(here=os.path.dirname(os.path.abspath(__file__)))
        seconds = []
        for _ in range(2):
            out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
            seconds.append(float(out.stdout.strip().splitlines()[-1]))
    print(
        f"tiers Lamb fused, first compiled step in a fresh process: {seconds[0]:.1f} s with an empty inductor cache, "
        f"{seconds[1]:.1f} s with the cache the first process left (TORCHINDUCTOR_CACHE_DIR)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument(
        "--fused",
        choices=["none", "adam", "all"],
        default="adam",
        help="which fused recipes to time; LAMB's (--fused all) compiles, tens of seconds on 2 cores",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1: the machine is shared)")
    parser.add_argument("--compile-cache", action="store_true", help="time the fused LAMB compile cold and warm")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.compile_cache:
        compile_cache_probe()

    base = resnet18_params()
    n_params = sum(p.numel() for p in base)
    print(
        f"resnet18: {len(base)} tensors, {n_params / 1e6:.1f}M parameters; torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s); median of {args.repeats} interleaved repeats of {args.steps} steps"
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

    print(f"{'optimizer':<32}{'ms/step':>10}{'  vs torch AdamW foreach':>26}{'  warm-up s':>12}")
    ref = med["torch AdamW foreach=True"]
    for name in contenders(base, args.fused):
        if name not in med:
            print(f"{name:<32}{'peer not installed':>36}")
            continue
        print(f"{name:<32}{med[name]:>10.2f}{med[name] / ref:>25.2f}x{setup_s[name]:>12.2f}")

    def ratio(a: str, b: str, target: float) -> None:
        if a in med and b in med:
            r = med[a] / med[b]
            print(f"  {a} / {b}: {r:.2f}x (target <= {target}x){'' if r <= target else '  MISSED'}")

    print("ratios:")
    ratio("tiers Adam (AdamW)", "torch AdamW foreach=True", 1.05)
    ratio("tiers Adam foreach=True", "torch AdamW foreach=True", 1.05)
    sgd_peers = [n for n in ("fastai SGD mom L2", "torch SGD mom L2 foreach") if n in med]
    fastest = min(sgd_peers, key=med.__getitem__)
    ratio("tiers SGD mom L2", fastest, 1.0)
    ratio("tiers SGD mom L2 foreach=True", fastest, 1.0)
    ratio("tiers Lamb", "tiers Adam (AdamW)", 1.3)
    ratio("tiers Lamb", "tiers Adam foreach=True", 1.3)
    ratio("tiers Adam fused", "torch AdamW fused=True", 1.5)
    ratio("tiers SGD momentum fused", "torch SGD mom L2 fused", 1.5)
    ratio("tiers Lamb fused", "torch AdamW fused=True", 1.5)
    if "tiers Adam fused" in setup_s:
        print("fused path one-time cost (3 warm-up steps, the first eager, then compile + 1 run):")
        for name in ("tiers Adam fused", "tiers SGD momentum fused", "tiers Lamb fused"):
            if name in setup_s:
                print(f"  {name}: {setup_s[name]:.1f} s")


if __name__ == "__main__":
    main()
