"""Items/s of a padded text-like loader: datablock's DataLoader + PadInput vs a hand-written torch DataLoader.

Data: 20,000 samples `(token ids, label)`, the ids a LongTensor of 10..400 random integers (a tokenized,
numericalized text as `TfmdLists(cache_all=True)` keeps it), the label an int. Batches: bs=64, sorted by
length (indices sorted by length, cut into batches of 64, batch order shuffled once with a fixed seed); the
same list is the `batch_sampler` of both loaders, so both pad exactly the same amount.
  datablock : DataLoader(ds, batch_sampler=batches, before_batch=PadInput(pad_idx=1)) -> typed collate
  torch     : torch.utils.data.DataLoader(ds, batch_sampler=batches, collate_fn=pad_collate), where pad_collate
              allocates a (bs, max_len) tensor full of the pad index and copies each item into its row
One pass over every batch in this process (num_workers=0: the per-batch work is what differs). Figures are
medians of interleaved repeats in one process; target: datablock >= 1.0x torch.

Usage: python tools/bench/padded_loader.py [--repeats 7] [--n 20000]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Iterable
from typing import Any

import torch
from torch.utils.data import DataLoader as TorchDataLoader

from datablock import DataLoader, PadInput

BS, PAD = 64, 1


def make_data(n: int) -> list[tuple[torch.Tensor, int]]:
    g = torch.Generator().manual_seed(0)
    lens = torch.randint(10, 401, (n,), generator=g).tolist()
    return [(torch.randint(2, 30000, (k,), generator=g), i % 2) for i, k in enumerate(lens)]


def sorted_batches(ds: list[tuple[torch.Tensor, int]]) -> list[list[int]]:
    order = sorted(range(len(ds)), key=lambda i: len(ds[i][0]))
    batches = [order[i : i + BS] for i in range(0, len(order), BS)]
    perm = torch.randperm(len(batches), generator=torch.Generator().manual_seed(1)).tolist()
    return [batches[i] for i in perm]


def pad_collate(samples: list[tuple[torch.Tensor, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """The hand-written padding collate: one (bs, max_len) buffer of the pad index, each item copied in."""
    xs = [s[0] for s in samples]
    out = torch.full((len(xs), max(len(x) for x in xs)), PAD, dtype=torch.long)
    for i, x in enumerate(xs):
        out[i, : len(x)] = x
    return out, torch.tensor([s[1] for s in samples])


def one_pass(loader: Iterable[Any]) -> tuple[float, int, int]:
    start = time.perf_counter()
    n = pads = 0
    for x, _ in loader:
        n += x.shape[0]
        pads += int((x == PAD).sum())
    return time.perf_counter() - start, n, pads


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    torch.set_num_threads(1)
    ds = make_data(args.n)
    batches = sorted_batches(ds)
    loaders = {
        "datablock": DataLoader(ds, batch_sampler=batches, before_batch=PadInput(pad_idx=PAD)),
        "torch": TorchDataLoader(ds, batch_sampler=batches, collate_fn=pad_collate),
    }
    ref_x, _ = next(iter(loaders["torch"]))
    our_x, _ = next(iter(loaders["datablock"]))
    assert torch.equal(our_x.as_subclass(torch.Tensor), ref_x), "the two loaders must give the same batches"
    times: dict[str, list[float]] = {k: [] for k in loaders}
    pads = {name: one_pass(dl)[2] for name, dl in loaders.items()}  # warm-up
    assert pads["datablock"] == pads["torch"], f"both must pad the same amount, got {pads}"
    for _ in range(args.repeats):  # interleaved: each repeat runs both loaders once
        for name, dl in loaders.items():
            t, n, _ = one_pass(dl)
            assert n == args.n
            times[name].append(t)
    print(f"padded loader: {args.n} items, bs={BS}, sorted batches, {pads['torch']} pad tokens per pass (both)")
    rates = {k: args.n / statistics.median(v) for k, v in times.items()}
    for name, rate in rates.items():
        print(f"  {name:10s} {rate:10,.0f} items/s  (median of {args.repeats})")
    ratio = rates["datablock"] / rates["torch"]
    print(f"  ratio datablock/torch: {ratio:.2f}x (target >= 1.0x) {'OK' if ratio >= 1.0 else 'BELOW TARGET'}")


if __name__ == "__main__":
    main()
