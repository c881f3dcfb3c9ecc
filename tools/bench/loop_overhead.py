"""Per-batch cost of `trainloop_callbacks.Learner.fit` over a hand-written torch loop.

A tiny MLP on 500 pre-made training batches of 64 (plus 100 validation batches) on CPU, for pluggable-optim SGD
(momentum) and Adam. Each variant runs one epoch of training and validation with accuracy as the metric; variants
are interleaved, repeated, and the median is reported. Learner overhead = Learner - hand loop, per batch.
Targets: <= 50 us/batch with the progress bar off, <= 80 us with it on (fastai measured ~350 us here).
A third table times two techniques as callbacks (Adam, bar off): `learn.to_bf16()` (MixedPrecision) and
`GradientAccumulation`, each against a hand-written loop doing the same arithmetic (autocast; summed gradients
stepped every N_ACC samples). A last table isolates the loop's own Python work (model, loss and optimizer that
cost next to nothing), the least noisy figure on a shared machine.

Usage: python tools/bench/loop_overhead.py [--repeats N]
       python tools/bench/loop_overhead.py --ref COMMIT [--runs N]

With `--ref COMMIT` it compares the working tree's loop with that commit's: it extracts the commit's
pluggable-optim and trainloop-callbacks sources (`git archive`) into a temporary virtual environment that reuses
this environment's torch (a `.pth` file: nothing is downloaded or built), then runs the two alternately, each run
its own process (ref, new, ref, new, ...), and prints each figure's median over the runs and the ratio new/ref
(acceptance for a loop change: <= 1.03).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import site
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from pluggable_optim import SGD, Adam
from trainloop_callbacks import GradientAccumulation, Learner
from trainloop_callbacks.metrics import accuracy

N_TRAIN, N_VALID, BS, N_IN, N_HIDDEN, N_OUT = 500, 100, 64, 32, 64, 10
N_ACC = 2 * BS  # GradientAccumulation: one optimizer step per two batches


def make_batches(n: int, seed: int, bs: int = BS, n_in: int = N_IN) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(bs, n_in, generator=g), torch.randint(0, N_OUT, (bs,), generator=g)) for _ in range(n)]


def make_model(tiny: bool = False) -> nn.Module:
    torch.manual_seed(0)
    if tiny:
        return nn.Linear(4, N_OUT)
    return nn.Sequential(nn.Linear(N_IN, N_HIDDEN), nn.ReLU(), nn.Linear(N_HIDDEN, N_OUT))


def hand_validate(model: nn.Module, valid: list, loss_func: nn.Module, bf16: bool = False) -> float:
    """The hand loops' validation pass: mean loss plus accuracy (forward and loss under bf16 autocast if asked)."""
    model.eval()
    total, correct, count = 0.0, 0.0, 0
    with torch.no_grad():
        for xb, yb in valid:
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                pred = model(xb).float()
                total += loss_func(pred, yb) * len(yb)
            correct += (pred.argmax(-1) == yb).float().sum()
            count += len(yb)
    return float(total / count) + float(correct / count)


def hand_loop(model: nn.Module, opt: torch.optim.Optimizer, train: list, valid: list) -> float:
    """One epoch the way one writes it by hand: train, then validate loss and accuracy."""
    loss_func = nn.CrossEntropyLoss()
    model.train()
    for xb, yb in train:
        loss = loss_func(model(xb), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return hand_validate(model, valid, loss_func)


def hand_bf16_loop(model: nn.Module, opt: torch.optim.Optimizer, train: list, valid: list) -> float:
    """`hand_loop` with the forward and the loss under bf16 autocast, predictions back in fp32 (as MixedPrecision)."""
    loss_func = nn.CrossEntropyLoss()
    model.train()
    for xb, yb in train:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = loss_func(model(xb).float(), yb)
        loss.backward()
        opt.step()
        opt.zero_grad()
    return hand_validate(model, valid, loss_func, bf16=True)


def hand_accumulate_loop(model: nn.Module, opt: torch.optim.Optimizer, train: list, valid: list) -> float:
    """`hand_loop` summing sample-weighted gradients and stepping on their mean once N_ACC samples are in."""
    loss_func = nn.CrossEntropyLoss()
    model.train()
    count = 0
    for xb, yb in train:
        (loss_func(model(xb), yb) * len(yb)).backward()
        count += len(yb)
        if count >= N_ACC:
            for group in opt.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        p.grad.mul_(1.0 / count)
            opt.step()
            opt.zero_grad()
            count = 0
    return hand_validate(model, valid, loss_func)


def timed(f: Callable[[], object]) -> float:
    # CPU time of this process (one torch thread): on a shared machine, time other processes take from us
    # does not count, which wall time would add as noise of the same size as the overhead measured.
    start = time.process_time()
    f()
    return time.process_time() - start


def learner_fit(learn: Learner, bar: bool) -> Callable[[], None]:
    def run() -> None:
        if bar:
            with contextlib.redirect_stdout(io.StringIO()):  # the bar's drawing is timed, the terminal is not
                learn.fit(1)
        else:
            with learn.no_bar(), contextlib.redirect_stdout(io.StringIO()):
                learn.fit(1)

    return run


def fastai_variant(opt_name: str, train: list, valid: list, tiny: bool) -> Callable[[], None] | None:
    """fastai's Learner on the same batches, or None when fastai is not installed (it lives in the bench env)."""
    try:
        import fastai.callback.progress  # noqa: F401  (fastai attaches Learner.no_bar in this module)
        from fastai.data.core import DataLoaders as FastaiDataLoaders
        from fastai.data.load import DataLoader as FastaiDataLoader
        from fastai.learner import Learner as FastaiLearner
        from fastai.metrics import accuracy as fastai_accuracy
        from fastai.optimizer import SGD as FastaiSGD
        from fastai.optimizer import Adam as FastaiAdam
    except ImportError:
        return None
    dls = FastaiDataLoaders(FastaiDataLoader(train, bs=None), FastaiDataLoader(valid, bs=None), device="cpu")
    opt_func = FastaiAdam if opt_name == "Adam" else FastaiSGD
    model = make_model(tiny)
    learn = FastaiLearner(dls, model, nn.CrossEntropyLoss(), opt_func=opt_func, lr=1e-3, metrics=fastai_accuracy)

    def run() -> None:
        with learn.no_bar(), learn.no_logging():
            learn.fit(1)

    return run


def compare(title: str, repeats: int, tiny: bool, with_peer: bool) -> None:
    """Print one table: the hand loop, the Learner with the bar off and on (and fastai when installed)."""
    train = make_batches(N_TRAIN, 0, bs=4 if tiny else BS, n_in=4 if tiny else N_IN)
    valid = make_batches(N_VALID, 1, bs=4 if tiny else BS, n_in=4 if tiny else N_IN)
    n_batches = N_TRAIN + N_VALID
    opt_funcs = {"SGD": lambda ps, lr=1e-3: SGD(ps, lr=lr, mom=0.9), "Adam": Adam}
    print(title)
    print(f"{'optimizer':<10}{'variant':<34}{'us/batch':>10}{'overhead us':>13}{'ratio':>8}{'min-overhead us':>17}")
    for name, opt_func in opt_funcs.items():
        hand_model = make_model(tiny)
        hand_opt = opt_func(hand_model.parameters(), lr=1e-3)
        # wd_bn_bias=True: the hand loop decays biases too, so both do the same arithmetic
        learn = Learner(
            (train, valid),
            make_model(tiny),
            nn.CrossEntropyLoss(),
            opt_func=opt_func,
            metrics=accuracy,
            wd_bn_bias=True,
        )
        variants: dict[str, Callable[[], object]] = {
            "hand-written torch loop": lambda m=hand_model, o=hand_opt: hand_loop(m, o, train, valid),
            "Learner.fit, bar off": learner_fit(learn, bar=False),
            "Learner.fit, bar on": learner_fit(learn, bar=True),
        }
        peer = fastai_variant(name, train, valid, tiny) if with_peer else None
        if peer is not None:
            variants["fastai Learner.fit, bar off"] = peer
        for f in variants.values():  # warm-up: lazy imports, first optimizer state, allocator
            f()
        times: dict[str, list[float]] = {k: [] for k in variants}
        for _ in range(repeats):
            for k, f in variants.items():
                times[k].append(timed(f))
        base = statistics.median(times["hand-written torch loop"]) / n_batches * 1e6
        base_min = min(times["hand-written torch loop"]) / n_batches * 1e6
        for k, ts in times.items():
            us, us_min = statistics.median(ts) / n_batches * 1e6, min(ts) / n_batches * 1e6
            hand = k.startswith("hand")
            over, over_min = ("", "") if hand else (f"{us - base:.1f}", f"{us_min - base_min:.1f}")
            print(f"{name:<10}{k:<34}{us:>10.1f}{over:>13}{us / base:>8.2f}{over_min:>17}")
        if with_peer and peer is None:
            print(f"{name:<10}{'fastai Learner.fit':<34}{'peer not installed':>31}")


def compare_techniques(repeats: int) -> None:
    """Print one table: MixedPrecision(bf16) and GradientAccumulation, each against its hand-written loop."""
    train, valid = make_batches(N_TRAIN, 0), make_batches(N_VALID, 1)
    n_batches = N_TRAIN + N_VALID

    def learner(*cbs: object) -> Learner:
        return Learner(
            (train, valid), make_model(), nn.CrossEntropyLoss(), opt_func=Adam, metrics=accuracy, wd_bn_bias=True
        ).add_cbs(list(cbs))

    def hand(loop: Callable[..., float]) -> Callable[[], float]:
        model = make_model()
        opt = Adam(model.parameters(), lr=1e-3)
        return lambda: loop(model, opt, train, valid)

    # (technique, hand-written equivalent, the Learner doing it)
    pairs = {
        "fp32 (no technique)": (hand(hand_loop), learner_fit(learner(), bar=False)),
        "MixedPrecision(bf16)": (hand(hand_bf16_loop), learner_fit(learner().to_bf16(), bar=False)),
        f"GradientAccumulation({N_ACC})": (
            hand(hand_accumulate_loop),
            learner_fit(learner(GradientAccumulation(N_ACC)), bar=False),
        ),
    }
    print(f"{'technique':<30}{'hand us/batch':>15}{'Learner us/batch':>18}{'overhead us':>13}{'ratio':>8}")
    for h, f in pairs.values():  # warm-up
        h()
        f()
    times: dict[str, tuple[list[float], list[float]]] = {k: ([], []) for k in pairs}
    for _ in range(repeats):
        for k, (h, f) in pairs.items():
            times[k][0].append(timed(h))
            times[k][1].append(timed(f))
    for k, (th, tf) in times.items():
        uh, uf = (statistics.median(t) / n_batches * 1e6 for t in (th, tf))
        print(f"{k:<30}{uh:>15.1f}{uf:>18.1f}{uf - uh:>13.1f}{uf / uh:>8.2f}")


class _Scalar(nn.Module):
    """A model whose forward is a 0-d parameter: next to no tensor work, so the loop's Python work shows."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))

    def forward(self, xb: torch.Tensor) -> torch.Tensor:  # noqa: ARG002 - the input is ignored on purpose
        return self.w


class _NoOpOptimizer:
    """The optimizer surface the loop touches (groups with lr/mom, step, zero_grad), doing nothing."""

    def __init__(self, groups: list, lr: float = 1e-3) -> None:
        self.param_groups = [{"params": list(g), "lr": lr, "mom": 0.9} for g in groups]

    def step(self) -> None:
        return None

    def zero_grad(self) -> None:
        return None


def _identity_loss(pred: torch.Tensor, yb: torch.Tensor) -> torch.Tensor:  # noqa: ARG001 - loss = output
    return pred


def compare_python_work(repeats: int) -> None:
    """Print the loop's own Python cost: Learner vs hand loop when model, loss and optimizer cost nothing."""
    batch = (torch.zeros(4, 1), torch.zeros(4))
    train, valid = [batch] * (4 * N_TRAIN), [batch] * (4 * N_VALID)
    n_batches = len(train) + len(valid)

    def hand() -> float:
        model, total = _Scalar(), 0.0
        opt = _NoOpOptimizer([list(model.parameters())])
        model.train()
        for xb, yb in train:
            _identity_loss(model(xb), yb).backward()
            opt.step()
            opt.zero_grad()
        model.eval()
        with torch.no_grad():
            for xb, yb in valid:
                total += float(_identity_loss(model(xb), yb)) * len(yb)
        return total

    learn = Learner((train, valid), _Scalar(), _identity_loss, opt_func=_NoOpOptimizer, wd_bn_bias=True)
    variants = {"hand-written loop": hand, "Learner.fit, bar off": learner_fit(learn, bar=False)}
    for f in variants.values():
        f()
    times: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(repeats):
        for k, f in variants.items():
            times[k].append(timed(f))
    base = statistics.median(times["hand-written loop"]) / n_batches * 1e6
    print(f"{'variant':<34}{'us/batch':>10}{'overhead us':>13}")
    for k, ts in times.items():
        us = statistics.median(ts) / n_batches * 1e6
        print(f"{k:<34}{us:>10.2f}{'' if k.startswith('hand') else f'{us - base:.2f}':>13}")


def main(repeats: int) -> None:
    torch.set_num_threads(1)  # a shared 2-core machine: one thread keeps the figures comparable
    print(f"loop_overhead: median of {repeats} interleaved repeats, us per batch (train and valid batches together);")
    print("min-overhead: from the fastest repeat of each; times are process CPU time")
    compare(
        f"\n{N_TRAIN} train + {N_VALID} valid batches of {BS}, MLP {N_IN}-{N_HIDDEN}-{N_OUT}, CPU, metric accuracy",
        repeats,
        tiny=False,
        with_peer=True,
    )
    compare(
        f"\nthe loop alone: same batch counts, batches of 4, one Linear(4, {N_OUT}) (the model costs next to nothing)",
        repeats,
        tiny=True,
        with_peer=True,
    )
    print("\ntechniques as callbacks: Adam, the MLP above, bar off; overhead vs the same technique written by hand")
    compare_techniques(repeats)
    print(
        f"\nthe loop's Python work alone: {4 * N_TRAIN} + {4 * N_VALID} batches, a 0-d parameter as the model, the "
        "identity as the loss, a no-op optimizer (default callbacks, no metric)"
    )
    compare_python_work(repeats)


# ---- --ref: the working tree against a commit, alternating processes -----------------------------------------------
REPO = Path(__file__).resolve().parents[2]
REF_PACKAGES = ("packages/pluggable-optim/src", "packages/trainloop-callbacks/src")


def figures(repeats: int) -> dict[str, float]:
    """The figures one process measures (us per batch, median of `repeats` after a warm-up), for `--ref`."""
    torch.set_num_threads(1)
    train, valid = make_batches(N_TRAIN, 0), make_batches(N_VALID, 1)
    learn = Learner(
        (train, valid), make_model(), nn.CrossEntropyLoss(), opt_func=Adam, metrics=accuracy, wd_bn_bias=True
    )
    batch = (torch.zeros(4, 1), torch.zeros(4))
    bare = Learner(
        ([batch] * (4 * N_TRAIN), [batch] * (4 * N_VALID)), _Scalar(), _identity_loss, opt_func=_NoOpOptimizer,
        wd_bn_bias=True,
    )  # fmt: skip
    runs = {
        "fit MLP, Adam, bar off": (learner_fit(learn, bar=False), N_TRAIN + N_VALID),
        "fit, the loop's Python work": (learner_fit(bare, bar=False), 4 * (N_TRAIN + N_VALID)),
    }
    out = {}
    for name, (f, n) in runs.items():
        f()
        out[name] = statistics.median(timed(f) for _ in range(repeats)) / n * 1e6
    return out


def ref_python(commit: str, tmp: Path) -> Path:
    """A virtual environment holding `commit`'s pluggable-optim and trainloop-callbacks, reusing this one's torch."""
    src = tmp / "src"
    src.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", "--format=tar", commit, *REF_PACKAGES], check=True, capture_output=True
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(src, filter="data")
    env = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    [site_dir] = (env / "lib").glob("python*/site-packages")
    # the ref's sources first, then this environment's site-packages as plain paths: its editable installs (.pth
    # files, which point at the working tree) are not processed there, so the ref's packages are the ones imported
    (site_dir / "loop_overhead_ref.pth").write_text(
        "\n".join([*(str(src / p) for p in REF_PACKAGES), *site.getsitepackages()])
    )
    return env / "bin" / "python"


def compare_ref(commit: str, runs: int, repeats: int) -> None:
    """Alternate processes of `commit`'s loop and the working tree's; print medians and the ratio new/ref."""
    with tempfile.TemporaryDirectory(prefix="loop_overhead_ref_") as tmp:
        pythons = {"ref": ref_python(commit, Path(tmp)), "new": Path(sys.executable)}
        results: dict[str, list[dict[str, float]]] = {"ref": [], "new": []}
        where = {}
        for _ in range(runs):
            for label, python in pythons.items():
                out = subprocess.run(
                    [str(python), __file__, "--child", "--repeats", str(repeats)],
                    check=True, capture_output=True, text=True, cwd=tmp,
                ).stdout  # fmt: skip
                line = json.loads(out.strip().splitlines()[-1])
                where[label] = line.pop("_trainloop_callbacks")
                results[label].append(line)
    print(f"loop_overhead --ref {commit}: {runs} runs each, alternating ref/new processes, us per batch (CPU time)")
    for label in ("ref", "new"):
        print(f"  {label}: trainloop_callbacks from {where[label]}")
    print(f"{'figure':<32}{'ref':>10}{'new':>10}{'new/ref':>10}")
    for name in results["ref"][0]:
        ref = statistics.median(r[name] for r in results["ref"])
        new = statistics.median(r[name] for r in results["new"])
        print(f"{name:<32}{ref:>10.2f}{new:>10.2f}{new / ref:>10.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--ref", help="a commit to compare the working tree's loop against")
    parser.add_argument("--runs", type=int, default=6, help="with --ref: processes per side (alternating)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        import trainloop_callbacks

        print(
            json.dumps(
                {**figures(args.repeats), "_trainloop_callbacks": str(Path(trainloop_callbacks.__file__).parent)}
            )
        )
    elif args.ref:
        compare_ref(args.ref, args.runs, repeats=min(args.repeats, 3))
    else:
        main(args.repeats)
