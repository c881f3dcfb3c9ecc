"""Per-op cost of typed tensors: typedtensor vs plain torch.Tensor, torch's default subclass and peers.

Prints µs per op (median of interleaved repeats in one process) for a small elementwise op, an
indexing op, `torch.cat` of 8 small tensors and `.to(dtype)`, and µs for `as_plain` on a 3-tuple.
The "+µs" column is the extra cost over the plain op measured in the same round.
Targets (issue 3): extra cost <= 2 µs on every case with metadata carried; as_plain <= 1.5 µs.

Usage: python tools/bench/typedtensor_overhead.py [--repeats 5] [--number 10000]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable

import torch

from typedtensor import TensorImage, TensorPoint, as_plain

SHAPE = (3, 2)  # small data, so the figures show the per-op overhead rather than the arithmetic


class DefaultSubclass(torch.Tensor):
    """A subclass with PyTorch's own default __torch_function__ (keeps the type, drops attributes)."""


def _variants() -> dict[str, torch.Tensor | None]:
    data = torch.rand(SHAPE)
    out: dict[str, torch.Tensor | None] = {
        "torch.Tensor": data,
        "typedtensor.TensorImage": TensorImage(data.clone()),
        "typedtensor.TensorPoint+canvas_size": TensorPoint(data.clone(), canvas_size=(32, 48)),
        "torch default subclass": data.clone().as_subclass(DefaultSubclass),
    }
    try:
        from torchvision import tv_tensors

        out["tv_tensors.Image (drops type)"] = tv_tensors.Image(data.clone())
        if hasattr(tv_tensors, "KeyPoints"):
            out["tv_tensors.KeyPoints+canvas_size"] = tv_tensors.KeyPoints(data.clone(), canvas_size=(32, 48))
    except ImportError:
        out["tv_tensors (torchvision)"] = None
    try:
        from fastai.torch_core import TensorImage as FastaiTensorImage
        from fastai.vision.core import TensorPoint as FastaiTensorPoint  # fastai keeps points in vision.core

        out["fastai TensorImage"] = FastaiTensorImage(data.clone())
        out["fastai TensorPoint+img_size"] = FastaiTensorPoint(data.clone(), img_size=(48, 32))
    except ImportError:
        out["fastai"] = None
    return out


CASES: dict[str, Callable[[torch.Tensor], object]] = {
    "add (x + 1)": lambda x: x + 1,
    "index (x[0])": lambda x: x[0],
    "torch.cat of 8": lambda x: torch.cat([x, x, x, x, x, x, x, x]),
    ".to(float64)": lambda x: x.to(torch.float64),
}


def _time(fn: Callable[[], object], number: int) -> float:
    return timeit.timeit(fn, number=number) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--number", type=int, default=10000)
    args = parser.parse_args()
    variants = _variants()
    present = {k: v for k, v in variants.items() if v is not None}
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; data {SHAPE} float32 on CPU")
    print(f"median of {args.repeats} interleaved repeats x {args.number} calls\n")
    header = f"{'case':<18} {'variant':<38} {'µs/op':>8} {'+µs':>7} {'x plain':>8} {'type kept':>10}"
    print(header)
    print("-" * len(header))
    for case, op in CASES.items():
        times: dict[str, list[float]] = {k: [] for k in present}
        for _ in range(args.repeats):  # interleave: one round measures every variant
            for name, x in present.items():
                times[name].append(_time(lambda op=op, x=x: op(x), args.number))
        base = statistics.median(times["torch.Tensor"])
        for name in variants:
            if name not in present:
                print(f"{case:<18} {name:<38} {'peer not installed':>27}")
                continue
            med = statistics.median(times[name])
            x = present[name]
            kept = type(op(x)) is type(x)
            extra = f"{med - base:+7.2f}" if name != "torch.Tensor" else f"{'':>7}"
            print(f"{case:<18} {name:<38} {med:8.2f} {extra} {med / base:8.2f} {kept!s:>10}")
        print()

    img = present["typedtensor.TensorImage"]
    pts = present["typedtensor.TensorPoint+canvas_size"]
    batch = (img, pts, TensorImage(torch.rand(SHAPE)))
    plain_batch = tuple(as_plain(b) for b in batch)
    a_typed, a_plain = [], []
    for _ in range(args.repeats):
        a_typed.append(_time(lambda: as_plain(batch), args.number))
        a_plain.append(_time(lambda: as_plain(plain_batch), args.number))
    print(f"as_plain on a 3-tuple of typed tensors: {statistics.median(a_typed):.2f} µs (target <= 1.5)")
    print(f"as_plain on a 3-tuple of plain tensors: {statistics.median(a_plain):.2f} µs")
    print("\nNote: on a shared or busy machine the absolute figures are noisy; compare within one run.")


if __name__ == "__main__":
    main()
