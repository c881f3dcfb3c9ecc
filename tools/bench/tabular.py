"""apps-tabular against peers: preprocessing, a training epoch, and `predict` on one row.

1. Preprocessing `--rows` (1,000,000) rows x (8 categorical, 6 continuous, 5% missing) with Categorify, FillMissing,
   Normalize, both sides copying the frame (no `inplace`): seconds and extra peak memory (RSS above the frame
   already in memory), each run in its own process. Peer: fastai's `TabularPandas` when importable (the bench
   environment); otherwise a hand-written pandas baseline (copy the frame, `factorize` the categories on the
   training rows, fill medians, normalize: the least a library could do), and the output says which.
   Targets (issue 18): seconds <= 0.8x fastai, extra memory <= 0.8x fastai.
2. A training epoch of `tabular_learner` (bs 1024, progress bar off) against a hand-written torch loop over the
   same preprocessed tensors with the same model and optimizer (pluggable-optim Adam), each with a validation
   pass. Target: <= 1.05x the hand loop (and >= 3x fastai's epoch when fastai is importable).
3. `learn.predict(row)`: microseconds per call (and fastai's when importable).

Variants are interleaved and repeated (`--repeats`, default 5); medians are printed with the ratios.
Usage: python tools/bench/tabular.py [--rows 1000000] [--epoch-rows N] [--repeats 5] [--threads N]
       [--only prep,epoch,predict]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd
import torch

CATS = [f"c{i}" for i in range(8)]
CONTS = [f"n{i}" for i in range(6)]
CARDS = [3, 10, 30, 100, 300, 1000, 3000, 10000]


def make_frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    data: dict[str, Any] = {}
    for c, k in zip(CATS, CARDS, strict=True):
        labels = np.array([f"{c}_{j}" for j in range(k)], dtype=object)
        col = labels[rng.integers(0, k, n)]
        col[rng.random(n) < 0.05] = None
        data[c] = col
    for c in CONTS:
        col = rng.normal(size=n)
        col[rng.random(n) < 0.05] = np.nan
        data[c] = col
    data["y"] = rng.choice(np.array(["a", "b"], dtype=object), n)
    return pd.DataFrame(data)


def splits(n: int) -> tuple[np.ndarray, np.ndarray]:
    perm = np.random.default_rng(1).permutation(n)
    cut = n // 5
    return np.sort(perm[cut:]), np.sort(perm[:cut])


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) to the current RSS (Linux), so the peak measured is this step's."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- 1. preprocessing (each measurement in a fresh process: peak memory is per process) ----------------------
def prep_tiers(df: pd.DataFrame, tr: np.ndarray, va: np.ndarray) -> Any:
    from apps_tabular import Categorify, FillMissing, Normalize, TabularPandas

    return TabularPandas(df, [Categorify, FillMissing, Normalize], CATS, CONTS, "y", splits=(tr, va))


def prep_fastai(df: pd.DataFrame, tr: np.ndarray, va: np.ndarray) -> Any:
    from fastai.tabular.all import Categorify, FillMissing, Normalize, TabularPandas

    return TabularPandas(df, [Categorify, FillMissing, Normalize], CATS, CONTS, "y", splits=(list(tr), list(va)))


def prep_pandas(df: pd.DataFrame, tr: np.ndarray, va: np.ndarray) -> Any:
    """The least a library could do, by hand: copy, codes from the training rows' categories, medians, scaling."""
    del va
    out = df.copy()
    for c in CATS:
        cats = pd.unique(out[c].iloc[tr].dropna())
        out[c] = pd.Index(cats).get_indexer(out[c]) + 1  # -1 (missing/unseen) becomes 0
    for c in CONTS:
        med = out[c].iloc[tr].median()
        na = out[c].isna()
        if na.any():
            out[c + "_na"] = na
            out[c] = out[c].fillna(med)
        v = out[c].iloc[tr]
        out[c] = ((out[c] - v.mean()) / (v.std(ddof=0) + 1e-7)).astype(np.float32)
    out["y"] = pd.Index(["a", "b"]).get_indexer(out["y"])
    return out


PREP = {"tiers": prep_tiers, "fastai": prep_fastai, "pandas": prep_pandas}


def child_prep(which: str, rows: int) -> None:
    if which == "tiers":  # import before timing: the time and memory measured are the preprocessing's
        import apps_tabular  # noqa: F401
    elif which == "fastai":
        import fastai.tabular.all  # noqa: F401
    df = make_frame(rows)
    tr, va = splits(rows)
    reset_peak()
    before = rss_mb()
    t = time.perf_counter()
    PREP[which](df, tr, va)
    seconds = time.perf_counter() - t
    extra = peak_mb() - before
    print(json.dumps({"seconds": seconds, "extra_mb": extra}))


def run_child(which: str, rows: int) -> dict[str, float] | None:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, "--rows", str(rows)], capture_output=True, text=True, check=False
    )
    if out.returncode != 0:
        print(f"  {which}: failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def fastai_importable() -> bool:
    try:
        import fastai.tabular.all  # noqa: F401
    except Exception:  # noqa: BLE001 - any failure means the peer is not there
        return False
    return True


def bench_prep(rows: int, repeats: int, peer: str) -> None:
    print(f"\n1. preprocessing {rows:,} rows x (8 cat, 6 cont, 5% missing), Categorify+FillMissing+Normalize, copying")
    res: dict[str, list[dict[str, float]]] = {"tiers": [], peer: []}
    for _ in range(repeats):
        for which in ("tiers", peer):
            r = run_child(which, rows)
            if r is not None:
                res[which].append(r)
    if not res["tiers"] or not res[peer]:
        return
    med = {k: {m: statistics.median(r[m] for r in v) for m in ("seconds", "extra_mb")} for k, v in res.items()}
    for k, v in med.items():
        print(f"  {k:<8} {v['seconds']:7.3f} s   +{v['extra_mb']:7.1f} MB")
    print(
        f"  ratio tiers/{peer}: time {med['tiers']['seconds'] / med[peer]['seconds']:.2f}x, "
        f"extra memory {med['tiers']['extra_mb'] / max(med[peer]['extra_mb'], 1e-9):.2f}x"
        + ("   (targets <= 0.8x each)" if peer == "fastai" else "   (peer: hand-written pandas, fastai missing)")
    )


# --- 2. a training epoch -------------------------------------------------------------------------------------
def build_learner(rows: int) -> Any:
    from apps_tabular import Categorify, FillMissing, Normalize, TabularDataLoaders, tabular_learner

    df = make_frame(rows)
    _, va = splits(rows)
    dls = TabularDataLoaders.from_df(
        df,
        procs=[Categorify, FillMissing, Normalize],
        cat_names=CATS,
        cont_names=CONTS,
        y_names="y",
        valid_idx=va,
        bs=1024,
    )
    return tabular_learner(dls, layers=[200, 100]), df


def hand_epoch(model: torch.nn.Module, opt: Any, loss_fn: Any, train: tuple, valid: tuple, bs: int, g: Any) -> None:
    """A plain torch epoch over the same tensors: shuffle indices, gather, step; then a validation pass."""
    cats, conts, y = train
    model.train()
    perm = torch.randperm(len(y), generator=g)
    for s in range(0, len(y) - bs + 1, bs):  # drop_last, as the training loader
        idx = perm[s : s + bs]
        loss = loss_fn(model(cats[idx], conts[idx]), y[idx])
        loss.backward()
        opt.step()
        opt.zero_grad()
    model.eval()
    with torch.no_grad():
        vc, vn, vy = valid
        for s in range(0, len(vy), bs):
            loss_fn(model(vc[s : s + bs], vn[s : s + bs]), vy[s : s + bs])


def fastai_learner(df: pd.DataFrame) -> Any:
    from fastai.tabular.all import Categorify as FCategorify
    from fastai.tabular.all import FillMissing as FFillMissing
    from fastai.tabular.all import Normalize as FNormalize
    from fastai.tabular.all import TabularDataLoaders as FTabularDataLoaders
    from fastai.tabular.all import tabular_learner as ftabular_learner

    _, va = splits(len(df))
    dls = FTabularDataLoaders.from_df(
        df,
        procs=[FCategorify, FFillMissing, FNormalize],
        cat_names=CATS,
        cont_names=CONTS,
        y_names="y",
        valid_idx=list(va),
        bs=1024,
    )
    return ftabular_learner(dls, layers=[200, 100])


def bench_epoch(rows: int, repeats: int, peer: str) -> Any:
    from pluggable_optim import Adam

    threads = torch.get_num_threads()
    print(f"\n2. one epoch (train + valid) of tabular_learner on {rows:,} rows, bs 1024, layers [200, 100]", end="")
    print(f", {threads} threads")
    learn, df = build_learner(rows)
    train, valid = learn.dls.train.dataset.tensors, learn.dls.valid.dataset.tensors
    model, loss_fn = learn.model, learn.loss_func
    opt = Adam([list(model.parameters())], lr=1e-3)
    g = torch.Generator().manual_seed(0)
    times: dict[str, list[float]] = {"tiers Learner": [], "hand loop": []}
    flearn = None
    if peer == "fastai":
        flearn = fastai_learner(df)
        times["fastai Learner"] = []
    with learn.no_bar():
        learn.fit(1, 1e-3)  # warm-up (builds the optimizer, first-call costs)
        hand_epoch(model, opt, loss_fn, train, valid, 1024, g)
        if flearn is not None:
            with flearn.no_bar(), flearn.no_logging():
                flearn.fit(1, 1e-3)
        for _ in range(repeats):
            t = time.perf_counter()
            learn.fit(1, 1e-3)
            times["tiers Learner"].append(time.perf_counter() - t)
            t = time.perf_counter()
            hand_epoch(model, opt, loss_fn, train, valid, 1024, g)
            times["hand loop"].append(time.perf_counter() - t)
            if flearn is not None:
                t = time.perf_counter()
                with flearn.no_bar(), flearn.no_logging():
                    flearn.fit(1, 1e-3)
                times["fastai Learner"].append(time.perf_counter() - t)
    if torch.get_num_threads() != threads:
        raise RuntimeError(f"torch threads changed during the epoch bench: {threads} -> {torch.get_num_threads()}")
    med = {k: statistics.median(v) for k, v in times.items()}
    n_batches = len(learn.dls.train) + len(learn.dls.valid)
    for k, v in med.items():
        extra = (v - med["hand loop"]) / n_batches * 1e3
        note = f"   ({extra:+.2f} ms per batch over the hand loop)" if k != "hand loop" else ""
        print(f"  {k:<14} {v:7.3f} s{note}")
    print(f"  ratio Learner/hand loop: {med['tiers Learner'] / med['hand loop']:.3f}x   (target <= 1.05x)")
    if flearn is not None:
        print(f"  speed-up over fastai: {med['fastai Learner'] / med['tiers Learner']:.2f}x   (target >= 3x)")
        over = (med["fastai Learner"] - med["hand loop"]) / max(med["tiers Learner"] - med["hand loop"], 1e-9)
        print(f"  fastai's time beyond the model's own arithmetic (hand loop) is {over:.1f}x tiers'")
    return learn, df, flearn


def per_call_us(fn: Any, repeats: int, n: int = 20) -> float:
    fn()
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(n):
            fn()
        runs.append((time.perf_counter() - t) / n * 1e6)
    return statistics.median(runs)


def bench_predict(learn: Any, df: pd.DataFrame, repeats: int, flearn: Any) -> None:
    print("\n3. learn.predict(row), one row")
    row = df.iloc[0]
    with learn.no_bar():
        ours = per_call_us(lambda: learn.predict(row), repeats)
    print(f"  tiers predict:  {ours:8.0f} us per row")
    if flearn is not None:
        with flearn.no_bar(), flearn.no_logging():
            theirs = per_call_us(lambda: flearn.predict(row), repeats)
        print(f"  fastai predict: {theirs:8.0f} us per row   (tiers {theirs / ours:.2f}x faster)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", default="prep,epoch,predict")
    ap.add_argument("--epoch-rows", type=int, default=None, help="rows for the epoch (default: --rows)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_prep(args.child, args.rows)
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    only = set(args.only.split(","))
    peer = "fastai" if fastai_importable() else "pandas"
    print(f"torch {torch.__version__}, pandas {pd.__version__}, {torch.get_num_threads()} threads; peer: {peer}")
    if "prep" in only:
        bench_prep(args.rows, args.repeats, peer)
    if only & {"epoch", "predict"}:
        rows = args.epoch_rows or args.rows
        learn, df, flearn = bench_epoch(rows, args.repeats, peer)
        if "predict" in only:
            bench_predict(learn, df, args.repeats, flearn)


if __name__ == "__main__":
    main()
