"""`TrainEvalCallback` switches train/eval mode and counts progress; `SkipToEpoch` resumes a fit."""

from __future__ import annotations

from typing import Any

from trainloop_callbacks.callback import Callback
from trainloop_callbacks.events import CancelEpochException

__all__ = ["TrainEvalCallback", "SkipToEpoch"]


def _len(dl: Any) -> int:
    try:
        return len(dl)
    except TypeError:
        return 0


class TrainEvalCallback(Callback):
    """Puts the model in train or eval mode and keeps `training`, `pct_train` and `train_iter` current."""

    order = -10
    unique = True  # one per learner: another instance replaces it

    def before_fit(self) -> None:
        learn = self.learn
        learn.epoch, learn.pct_train, learn.train_iter = 0, 0.0, 0
        self._n_train = _len(learn.dls.train)

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
        n = self._n_train or max(learn.iter + 1, 1)
        learn.pct_train += 1.0 / (learn.n_epoch * n)

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
