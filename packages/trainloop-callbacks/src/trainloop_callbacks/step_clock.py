"""`StepClock`: the training position that schedules read follows optimizer steps, not batches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from trainloop_callbacks.callback import Callback
from trainloop_callbacks.train_eval import TrainEvalCallback

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["StepClock", "ensure_step_clock"]


class StepClock(Callback):
    """Keeps `learn.pct_train` on optimizer steps: a batch counts toward the schedule when a step consumes it.

    With `GradientAccumulation` the batches of one accumulation move the position together, on their step, so a
    `ParamScheduler` changes the lr once per optimizer step. With fp16 `MixedPrecision` a step skipped because the
    gradients overflowed moves the position not at all: the batches it dropped are lost, so a fit with skipped
    steps ends a little short of the schedule's end (by the fraction of skipped batches of the last epoch).
    Each epoch starts at `epoch / n_epoch`, as with `TrainEvalCallback`, so resumed fits stay exact.
    Without skipped or accumulated steps the position is exactly `TrainEvalCallback`'s.
    """

    order = -9  # before ParamScheduler (60)
    run_after = {TrainEvalCallback: "at after_batch the step clock corrects the position TrainEval advanced"}  # noqa: RUF012
    unique = True  # one per learner: another instance replaces it
    run_valid = False

    def __init__(self, auto: bool = False) -> None:
        self.auto = auto  # added by another callback for one fit: removes itself at the end
        self.done, self.pending, self.total, self.n_train = 0, 0, 0, 0
        self._outcome: str | None = None

    def before_fit(self) -> None:
        learn = self.learn
        try:
            self.n_train = len(learn.dls.train)
        except TypeError:
            self.n_train = 0
        self.total = learn.n_epoch * self.n_train
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
        if self.total:
            self.learn.pct_train = min(self.done / self.total, 1.0)

    def after_fit(self) -> None:
        if self.auto:
            self.learn.remove_cb(self)


def ensure_step_clock(learn: Learner) -> StepClock:
    """The learner's `StepClock`, added (for the current fit) if it has none; call it from a `before_fit`."""
    for cb in learn.cbs:
        if isinstance(cb, StepClock):
            return cb
    clock = StepClock(auto=True)
    learn.add_cb(clock)
    clock.before_fit()  # the running before_fit pass started before this callback existed
    return clock
