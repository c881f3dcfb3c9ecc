"""Per-call cost of dispatch_transforms.Transform against a plain Python function (and fasttransform if installed).

Prints ns per call (median of interleaved repeats in one process) for a Transform with three typed
`encodes` called on an int, a str and a 2-tuple (int, str), next to plain functions doing the same
work, and the overhead per element. The issue's target: <= 1 us of overhead per element.

    .venv/bin/python tools/bench/transform_overhead.py [--repeats 7] [--number 100000]
"""

from __future__ import annotations

import argparse
import statistics
import timeit
from collections.abc import Callable
from typing import Any, overload

from plum import dispatch

from dispatch_transforms import Transform


class Three(Transform):
    """Three typed encodes: int, str and float."""

    @overload
    def encodes(self, x: int) -> int:
        return x + 1

    @overload
    def encodes(self, x: str) -> str:
        return x.upper()

    @overload
    def encodes(self, x: float) -> float:
        return x * 2.0

    @dispatch
    def encodes(self, x: int | str | float) -> int | str | float: ...


def plain_int(x: int) -> int:
    return x + 1


def plain_str(x: str) -> str:
    return x.upper()


def plain_tuple(x: tuple[int, str]) -> tuple[int, str]:
    return (x[0] + 1, x[1].upper())


def _fasttransform_three() -> Callable[[Any], Any] | None:
    """fasttransform's Transform with the same three encodes, or None when it is not installed."""
    try:
        import fasttransform  # optional peer, bench environment only
    except ImportError:
        return None

    class FtThree(fasttransform.Transform):
        # fasttransform's idiom, one typed `encodes` per type, reads to mypy as an override and redefinitions
        def encodes(self, x: int) -> int:  # type: ignore[override]  # see above
            return x + 1

        def encodes(self, x: str) -> str:  # type: ignore[no-redef]  # noqa: F811 (the idiom)
            return x.upper()

        def encodes(self, x: float) -> float:  # type: ignore[no-redef]  # noqa: F811 (the idiom)
            return x * 2.0

    return FtThree()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (median reported)")
    parser.add_argument("--number", type=int, default=100_000, help="calls per repeat")
    args = parser.parse_args()

    tfm = Three()
    inputs = {"int": 3, "str": "dog", "2-tuple": (3, "dog")}
    elements = {"int": 1, "str": 1, "2-tuple": 2}
    plain = {"int": plain_int, "str": plain_str, "2-tuple": plain_tuple}
    ft = _fasttransform_three()

    # Sanity: the three agree before anything is timed.
    for case, x in inputs.items():
        assert tfm(x) == plain[case](x), case
        if ft is not None:
            assert ft(x) == plain[case](x), case

    runners: dict[tuple[str, str], Callable[[], Any]] = {}
    for case, x in inputs.items():
        runners[("plain function", case)] = lambda f=plain[case], x=x: f(x)
        runners[("dispatch_transforms", case)] = lambda x=x: tfm(x)
        if ft is not None:
            runners[("fasttransform", case)] = lambda x=x: ft(x)

    samples: dict[tuple[str, str], list[float]] = {key: [] for key in runners}
    for _ in range(args.repeats):
        for key, run in runners.items():
            seconds = timeit.Timer(run).timeit(number=args.number)
            samples[key].append(seconds / args.number * 1e9)
    median = {key: statistics.median(v) for key, v in samples.items()}

    print(f"ns per call, median of {args.repeats} interleaved repeats x {args.number} calls")
    print(f"{'implementation':<22}{'case':<10}{'ns/call':>10}{'overhead/elem':>15}{'x plain':>9}")
    for impl in ("plain function", "dispatch_transforms", "fasttransform"):
        for case in inputs:
            if impl == "fasttransform" and ft is None:
                print(f"{impl:<22}{case:<10}{'peer not installed':>34}")
                continue
            ns = median[(impl, case)]
            base = median[("plain function", case)]
            overhead = (ns - base) / elements[case]
            print(f"{impl:<22}{case:<10}{ns:>10.0f}{overhead:>15.0f}{ns / base:>9.1f}")
    worst = max((median[("dispatch_transforms", c)] - median[("plain function", c)]) / elements[c] for c in inputs)
    print(f"worst dispatch_transforms overhead per element: {worst:.0f} ns (target <= 1000 ns)")


if __name__ == "__main__":
    main()
