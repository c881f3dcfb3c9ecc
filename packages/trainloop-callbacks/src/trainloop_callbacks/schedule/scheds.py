"""Schedules: annealing functions, schedules of a training fraction, their combination, `ParamScheduler`."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from trainloop_callbacks.loop.callback import Callback

__all__ = [
    "sched_lin",
    "sched_cos",
    "sched_no",
    "sched_exp",
    "sched_poly",
    "Schedule",
    "SchedLin",
    "SchedCos",
    "SchedNo",
    "SchedExp",
    "SchedPoly",
    "combine_scheds",
    "combined_cos",
    "ParamScheduler",
]

Value = float | Sequence[float]


def sched_lin(start: float, end: float, pos: float) -> float:
    """Linear interpolation from `start` (pos=0) to `end` (pos=1)."""
    return start + pos * (end - start)


def sched_cos(start: float, end: float, pos: float) -> float:
    """Cosine annealing from `start` (pos=0) to `end` (pos=1), flat at both ends."""
    return start + (1 + math.cos(math.pi * (1 - pos))) * (end - start) / 2


def sched_no(start: float, end: float, pos: float) -> float:  # noqa: ARG001 - same signature as the others
    """Constant `start`."""
    return start


def sched_exp(start: float, end: float, pos: float) -> float:
    """Exponential (geometric) interpolation from `start` to `end`; both must be positive."""
    return start * (end / start) ** pos


def sched_poly(start: float, end: float, pos: float, power: float = 2.0) -> float:
    """Polynomial `start + (end - start) * pos**power` (fastai's `SchedPoly`); with `power` 1 it is linear."""
    return start + (end - start) * pos**power


class Schedule:
    """A value as a function of the training fraction `pos` in [0, 1], between `start` and `end`.

    `start`/`end` may be lists (one value per parameter group); the annealer is applied per element.
    """

    def __init__(self, annealer: Callable[..., float], start: Value, end: Value, **kwargs: Any) -> None:
        if annealer is sched_exp and any(v <= 0 for v in _as_list(start) + _as_list(end)):
            raise ValueError(f"SchedExp needs positive start and end, got start={start}, end={end}")
        self.annealer, self.start, self.end, self.kwargs = annealer, start, end, kwargs

    def __call__(self, pos: float) -> Value:
        if isinstance(self.start, (list, tuple)) or isinstance(self.end, (list, tuple)):
            starts, ends = _as_list(self.start), _as_list(self.end)
            n = max(len(starts), len(ends))
            starts, ends = _broadcast(starts, n), _broadcast(ends, n)
            return [self.annealer(s, e, pos, **self.kwargs) for s, e in zip(starts, ends, strict=False)]
        return self.annealer(self.start, self.end, pos, **self.kwargs)

    def __repr__(self) -> str:
        return f"Schedule({self.annealer.__name__}, {self.start}, {self.end})"


def _as_list(v: Value) -> list[float]:
    if isinstance(v, (list, tuple)):
        return list(v)
    if isinstance(v, Sequence):
        raise TypeError(f"a schedule value is a float or a list/tuple of floats, got {type(v).__name__}")
    return [v]


def _broadcast(v: list[float], n: int) -> list[float]:
    if len(v) == n:
        return v
    if len(v) == 1:
        return v * n
    raise ValueError(f"schedule start and end have different numbers of groups: {len(v)} vs {n}")


def SchedLin(start: Value, end: Value) -> Schedule:
    """Linear schedule from `start` to `end`."""
    return Schedule(sched_lin, start, end)


def SchedCos(start: Value, end: Value) -> Schedule:
    """Cosine schedule from `start` to `end`."""
    return Schedule(sched_cos, start, end)


def SchedNo(start: Value, end: Value | None = None) -> Schedule:
    """Constant schedule at `start`."""
    return Schedule(sched_no, start, start if end is None else end)


def SchedExp(start: Value, end: Value) -> Schedule:
    """Exponential schedule from `start` to `end`."""
    return Schedule(sched_exp, start, end)


def SchedPoly(start: Value, end: Value, power: float) -> Schedule:
    """Polynomial schedule from `start` to `end`: `start + (end - start) * pos**power`, as in fastai."""
    return Schedule(sched_poly, start, end, power=power)


class _Combined:
    def __init__(self, pcts: Sequence[float], scheds: Sequence[Callable[[float], Value]]) -> None:
        if len(pcts) != len(scheds):
            raise ValueError(f"combine_scheds needs one pct per schedule, got {len(pcts)} pcts for {len(scheds)}")
        if any(p < 0 for p in pcts) or not math.isclose(sum(pcts), 1.0, abs_tol=1e-6):
            raise ValueError(f"combine_scheds pcts must be >= 0 and sum to 1, got {list(pcts)}")
        self.bounds: list[float] = [0.0]
        for p in pcts:
            self.bounds.append(self.bounds[-1] + p)
        self.scheds = list(scheds)

    def __call__(self, pos: float) -> Value:
        pos = min(max(pos, 0.0), 1.0)
        last = 0
        for i, sched in enumerate(self.scheds):
            lo, hi = self.bounds[i], self.bounds[i + 1]
            if hi <= lo:
                continue  # a zero-length phase (e.g. pct_start=0)
            last = i
            if pos < hi:
                return sched((pos - lo) / (hi - lo))
        return self.scheds[last](1.0)


def combine_scheds(pcts: Sequence[float], scheds: Sequence[Callable[[float], Value]]) -> Callable[[float], Value]:
    """One schedule made of `scheds` run one after another, each over its fraction `pcts[i]` of training."""
    return _Combined(pcts, scheds)


def combined_cos(pct: float, start: Value, middle: Value, end: Value) -> Callable[[float], Value]:
    """Cosine from `start` to `middle` over the first `pct` of training, then cosine from `middle` to `end`."""
    return combine_scheds([pct, 1 - pct], [SchedCos(start, middle), SchedCos(middle, end)])


class ParamScheduler(Callback):
    """Sets hyper-parameters (`lr`, `mom`, `wd`, ... any the optimizer has) from schedules of `pct_train`.

    Runs before every training batch; values it sets are the ones `Recorder` records.
    """

    order = 60
    run_valid = False

    def __init__(self, scheds: dict[str, Callable[[float], Value]]) -> None:
        self.scheds = dict(scheds)

    def before_fit(self) -> None:
        hypers = getattr(self.learn.opt, "hypers", None)
        if hypers is not None:
            missing = [n for n in self.scheds if n not in hypers[0]]
            if missing:
                raise ValueError(
                    f"ParamScheduler: the optimizer has no hyper-parameter(s) {missing}; it has {sorted(hypers[0])}"
                )
        self._update(self.learn.pct_train)

    def before_batch(self) -> None:
        self._update(self.learn.pct_train)

    def _update(self, pos: float) -> None:
        opt = self.learn.require_opt()
        for name, sched in self.scheds.items():
            opt.set_hyper(name, sched(pos))
