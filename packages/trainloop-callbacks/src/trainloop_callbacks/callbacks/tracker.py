"""Callbacks that watch a monitored value each epoch: early stopping, best/periodic checkpoints,
lr reduction on plateaus; plus NaN termination and CSV logging."""

from __future__ import annotations

import abc
import csv
import math
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.events import CancelFitException
from trainloop_callbacks.loop.finite_loss import is_nonfinite_loss

__all__ = [
    "TrackerCallback",
    "EarlyStoppingCallback",
    "SaveModelCallback",
    "ReduceLROnPlateau",
    "TerminateOnNaNCallback",
    "CSVLogger",
]


class TrackerCallback(Callback):
    """Tracks `monitor` (a column of the Recorder's log: `valid_loss`, `train_loss` or a metric name) each epoch.

    `comp` decides what is better (default: lower for losses and errors, higher otherwise);
    an improvement must beat the best by `min_delta`.
    """

    order = 60
    run_after = ("Recorder",)

    def __init__(
        self,
        monitor: str = "valid_loss",
        comp: Callable[[float, float], bool] | None = None,
        min_delta: float = 0.0,
        reset_on_fit: bool = True,
    ) -> None:
        if comp is None:
            comp = operator.lt if ("loss" in monitor or "error" in monitor) else operator.gt
        self.monitor, self.comp, self.reset_on_fit = monitor, comp, reset_on_fit
        self.min_delta = -abs(min_delta) if comp is operator.lt else abs(min_delta)
        self.best: float | None = None

    def before_fit(self) -> None:
        names = self.learn.recorder.metric_names[1:]
        if self.monitor not in names:
            raise ValueError(f"{type(self).__name__}: cannot monitor {self.monitor!r}; the log has {names}")
        self.idx = names.index(self.monitor)
        if self.reset_on_fit or self.best is None:
            self.best = math.inf if self.comp is operator.lt else -math.inf
        self._n_seen = len(self.learn.recorder.values)

    def after_epoch(self) -> None:
        values = self.learn.recorder.values
        self.new_epoch = len(values) > self._n_seen  # False for skipped (resumed) epochs
        self._n_seen = len(values)
        self.improved = False
        if not self.new_epoch:
            return
        val = values[-1][self.idx]
        best = self.best  # set by before_fit
        if val is not None and best is not None and self.comp(val - self.min_delta, best):
            self.best, self.improved = val, True

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]


class _PatienceCallback(TrackerCallback, abc.ABC):
    """A tracker that counts epochs without improvement (`wait`); once `patience` of them have passed it calls
    `_out_of_patience()`, which each subclass defines."""

    def __init__(
        self,
        monitor: str,
        comp: Callable[[float, float], bool] | None,
        min_delta: float,
        patience: int,
        reset_on_fit: bool,
    ) -> None:
        super().__init__(monitor, comp, min_delta, reset_on_fit)
        self.patience, self.wait = patience, 0

    @abc.abstractmethod
    def _out_of_patience(self) -> None:
        """What running out of patience does (stop the fit, lower the lr)."""

    def before_fit(self) -> None:
        super().before_fit()
        if self.reset_on_fit:
            self.wait = 0

    def after_epoch(self) -> None:
        super().after_epoch()
        if not self.new_epoch:
            return
        self.wait = 0 if self.improved else self.wait + 1
        if self.wait >= self.patience:
            self._out_of_patience()

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.wait = state["best"], int(state["wait"])


class EarlyStoppingCallback(_PatienceCallback):
    """Stops training when `monitor` has not improved for `patience` epochs."""

    def __init__(
        self,
        monitor: str = "valid_loss",
        comp: Callable[[float, float], bool] | None = None,
        min_delta: float = 0.0,
        patience: int = 1,
        reset_on_fit: bool = True,
    ) -> None:
        super().__init__(monitor, comp, min_delta, patience, reset_on_fit)

    def _out_of_patience(self) -> None:
        self.stopped_epoch = self.learn.epoch
        raise CancelFitException


class SaveModelCallback(TrackerCallback):
    """Saves the model when `monitor` improves (`fname`), or every `every_epoch` epochs (`fname_<epoch>`),
    or once `at_end`; after training it loads the best model back unless saving periodically or at the end."""

    order = 61

    def __init__(
        self,
        monitor: str = "valid_loss",
        comp: Callable[[float, float], bool] | None = None,
        min_delta: float = 0.0,
        fname: str = "model",
        every_epoch: bool | int = False,
        at_end: bool = False,
        with_opt: bool = False,
        reset_on_fit: bool = True,
    ) -> None:
        super().__init__(monitor, comp, min_delta, reset_on_fit)
        self.fname, self.every_epoch, self.at_end, self.with_opt = fname, every_epoch, at_end, with_opt
        self.last_saved: Path | None = None

    def after_epoch(self) -> None:
        super().after_epoch()
        if not self.new_epoch:
            return
        epoch = self.learn.epoch
        if self.every_epoch:
            if (epoch % int(self.every_epoch)) == 0 or epoch == self.learn.n_epoch - 1:
                self.last_saved = self.learn.save(f"{self.fname}_{epoch}", with_opt=self.with_opt)
        elif self.improved:
            self.last_saved = self.learn.save(self.fname, with_opt=self.with_opt)

    def after_fit(self) -> None:
        if self.at_end:
            self.last_saved = self.learn.save(self.fname, with_opt=self.with_opt)
        elif not self.every_epoch and self.last_saved is not None:
            # weights only: the history (Recorder) and the trackers' state stay those of the whole fit
            # (test_save_model_reload_keeps_history)
            self.learn.load(self.fname, with_opt=False, with_rng=False, with_cbs=False)


class ReduceLROnPlateau(_PatienceCallback):
    """Divides the lr by `factor` (not below `min_lr`) when `monitor` has not improved for `patience` epochs."""

    def __init__(
        self,
        monitor: str = "valid_loss",
        comp: Callable[[float, float], bool] | None = None,
        min_delta: float = 0.0,
        patience: int = 1,
        factor: float = 10.0,
        min_lr: float = 0.0,
        reset_on_fit: bool = True,
    ) -> None:
        super().__init__(monitor, comp, min_delta, patience, reset_on_fit)
        self.factor, self.min_lr = factor, min_lr

    def _out_of_patience(self) -> None:
        opt = self.learn.require_opt()
        opt.set_hyper("lr", [max(float(h["lr"]) / self.factor, self.min_lr) for h in opt.hypers])
        self.wait = 0


class TerminateOnNaNCallback(Callback):
    """Ends the fit quietly (`CancelFitException`, so `after_fit` runs) as soon as a training loss is NaN or
    infinite, before that batch's backward and step; `terminated_at` is `(epoch, batch)`. It runs before the
    default `FiniteLossCheck`, which would raise an error instead."""

    order = 94
    run_valid = False

    def after_loss(self) -> None:
        learn = self.learn
        if is_nonfinite_loss(learn.loss_grad):
            self.terminated_at = (learn.epoch, learn.iter)
            if learn.opt is not None:
                learn.opt.zero_grad()
            raise CancelFitException


class CSVLogger(Callback):
    """Writes the per-epoch log (the printed table) to `learn.path/fname` as CSV."""

    order = 60
    run_after = ("Recorder",)

    def __init__(self, fname: str | Path = "history.csv", append: bool = False) -> None:
        self.fname, self.append = Path(fname), append
        self.path: Path | None = None  # resolved against learn.path when training starts

    def before_fit(self) -> None:
        self.path = path = self.fname if self.fname.is_absolute() else self.learn.path / self.fname
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not (self.append and path.exists())
        self._file = path.open("w" if new else "a", newline="")
        self._writer = csv.writer(self._file)
        if new:
            self._writer.writerow(self.learn.recorder.metric_names)
        self._n_seen = len(self.learn.recorder.values)

    def after_epoch(self) -> None:
        rec = self.learn.recorder
        if len(rec.values) > self._n_seen:
            self._n_seen = len(rec.values)
            self._writer.writerow(rec.log)
            self._file.flush()

    def after_fit(self) -> None:
        self._file.close()

    def read_log(self) -> list[list[str]]:
        """The rows written so far (header first)."""
        if self.path is None:
            raise ValueError("CSVLogger has not logged anything yet: train with it first")
        with self.path.open(newline="") as f:
            return list(csv.reader(f))
