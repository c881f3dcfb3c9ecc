"""The loop's position: `TrainEvalCallback` (train/eval mode, `pct_train`), `StepClock`, `SkipToEpoch`.

One writer per piece of state: the Learner's loop writes `epoch` and `iter`; `TrainEvalCallback` writes
`training`, `pct_train` and `train_iter`; `StepClock` keeps the step clock (batches consumed by optimizer
steps), which `TrainEvalCallback` reads when the fit has one.
"""

from __future__ import annotations

from typing import Any

from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.events import CancelEpochException

__all__ = ["TrainEvalCallback", "StepClock", "SkipToEpoch"]


def _len(dl: Any) -> int:
    try:
        return len(dl)
    except TypeError:
        return 0


class StepClock(Callback):
    """Counts the training batches consumed by optimizer steps, so schedules (`pct_train`) follow steps, not batches.

    With `GradientAccumulation` the batches of one accumulation move the position together, on their step, so a
    `ParamScheduler` changes the lr once per optimizer step. With fp16 `MixedPrecision` a step skipped because the
    gradients overflowed moves the position not at all: the batches it dropped are lost, so a fit with skipped
    steps ends a little short of the schedule's end (by the fraction of skipped batches of the last epoch).
    Each epoch starts at `epoch / n_epoch`, so resumed fits stay exact. Without skipped or accumulated steps the
    position is the per-batch one. The Learner adds a clock for the fit when a callback sets `needs_step_clock`.
    """

    order = -11
    run_before = {"TrainEvalCallback": "TrainEvalCallback sets pct_train from the clock at after_batch"}  # noqa: RUF012
    unique = True  # one per learner: another instance replaces it
    run_valid = False

    def __init__(self) -> None:
        self.done, self.pending, self.total, self.n_train = 0, 0, 0, 0
        self._outcome: str | None = None

    def position(self) -> float | None:
        """Fraction of the fit's training batches consumed by steps (0..1); None when the loader has no length."""
        return min(self.done / self.total, 1.0) if self.total else None

    def before_fit(self) -> None:
        self.n_train = _len(self.learn.dls.train)
        self.total = self.learn.n_epoch * self.n_train
        self.done, self.pending = 0, 0

    def before_train(self) -> None:
        self.done, self.pending = self.learn.epoch * self.n_train, 0

    def before_batch(self) -> None:
        self._outcome = None

    def after_cancel_step(self) -> None:
        self._outcome = "skipped"

    def after_step(self) -> None:
        if self._outcome is None:
            self._outcome = "stepped"

    def after_batch(self) -> None:
        self.pending += 1
        if self._outcome == "stepped":
            self.done += self.pending
            self.pending = 0
        elif self._outcome == "skipped":
            self.pending = 0


class TrainEvalCallback(Callback):
    """Puts the model in train or eval mode and keeps `training`, `pct_train` and `train_iter` current.

    `pct_train` advances per training batch, or follows the fit's `StepClock` when it has one.
    """

    order = -10
    unique = True  # one per learner: another instance replaces it

    def before_fit(self) -> None:
        learn = self.learn
        learn.pct_train, learn.train_iter = 0.0, 0
        self._n_train = _len(learn.dls.train)
        self._clock = next((c for c in learn.cbs if isinstance(c, StepClock)), None)

    def before_train(self) -> None:
        learn = self.learn
        # Set from the epoch, not accumulated, so skipped epochs (resume) leave the schedule exact.
        learn.pct_train = learn.epoch / learn.n_epoch
        learn.train_iter = learn.epoch * self._n_train
        learn.model.train()
        learn.training = True

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training:
            return
        learn.train_iter += 1
        clock = self._clock
        pct = None if clock is None else clock.position()
        if pct is None:
            n = self._n_train or max(learn.iter + 1, 1)
            learn.pct_train += 1.0 / (learn.n_epoch * n)
        else:
            learn.pct_train = pct

    def before_validate(self) -> None:
        self.learn.model.eval()
        self.learn.training = False

    def after_fit(self) -> None:
        self.learn.training = False


class SkipToEpoch(Callback):
    """Skip the epochs before `start_epoch` (used by `fit(start_epoch=...)` to resume)."""

    order = -20

    def __init__(self, start_epoch: int) -> None:
        self.start_epoch = start_epoch

    def before_epoch(self) -> None:
        if self.learn.epoch < self.start_epoch:
            raise CancelEpochException
