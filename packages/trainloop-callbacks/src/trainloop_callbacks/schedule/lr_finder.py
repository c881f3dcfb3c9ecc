"""`lr_find`: train briefly with an exponentially growing lr, record the loss, suggest a learning rate."""

from __future__ import annotations

import copy
import math
from collections import namedtuple
from collections.abc import Callable, Sequence, Sized
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.events import CancelFitException, CancelValidException
from trainloop_callbacks.plotting import line_plot

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

# fields named at run time (the suggestion functions' names), which mypy's namedtuple support cannot follow
_named_tuple: Any = namedtuple

__all__ = ["LRFinder", "LRFindMixin", "minimum", "steep", "valley", "slide"]

SuggestFunc = Callable[[list[float], list[float], int], float]


class LRFinder(Callback):
    """Grows the lr from `start_lr` to `end_lr` over `num_it` batches, then puts model and optimizer back."""

    order = 55
    run_after = ("Recorder",)

    def __init__(self, start_lr: float = 1e-7, end_lr: float = 10.0, num_it: int = 100, stop_div: bool = True):
        if not 0 < start_lr < end_lr:
            raise ValueError(f"lr_find needs 0 < start_lr < end_lr, got {start_lr}, {end_lr}")
        self.start_lr, self.end_lr, self.num_it, self.stop_div = start_lr, end_lr, num_it, stop_div

    def before_fit(self) -> None:
        learn = self.learn
        self._model_state = copy.deepcopy(learn.model.state_dict())
        self._opt_state = copy.deepcopy(learn.require_opt().state_dict())
        self._training = learn.model.training
        self.best_loss = math.inf

    def before_batch(self) -> None:
        if self.learn.training:
            pos = self.learn.train_iter / self.num_it
            self.learn.require_opt().set_hyper("lr", self.start_lr * (self.end_lr / self.start_lr) ** pos)

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.training:
            return
        loss = float(learn.smooth_loss)
        if loss < self.best_loss:
            self.best_loss = loss
        if self.stop_div and (loss > 4 * self.best_loss or math.isnan(loss)):
            raise CancelFitException
        if learn.train_iter >= self.num_it:
            raise CancelFitException

    def before_validate(self) -> None:
        raise CancelValidException

    def after_fit(self) -> None:
        learn = self.learn
        learn.require_opt().zero_grad()
        learn.model.load_state_dict(self._model_state)
        learn.require_opt().load_state_dict(self._opt_state)
        learn.model.train(self._training)


def minimum(lrs: list[float], losses: list[float], num_it: int) -> float:  # noqa: ARG001 - uniform signature
    """A tenth of the lr at the lowest loss."""
    return lrs[min(range(len(losses)), key=losses.__getitem__)] / 10


def steep(lrs: list[float], losses: list[float], num_it: int) -> float:  # noqa: ARG001 - uniform signature
    """The lr where the loss falls fastest per log-lr step."""
    slopes = [(losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i])) for i in range(len(lrs) - 1)]
    return lrs[min(range(len(slopes)), key=slopes.__getitem__)]


def valley(lrs: list[float], losses: list[float], num_it: int) -> float:  # noqa: ARG001 - uniform signature
    """An lr inside the longest stretch of falling loss (longest decreasing run, 1/2 of its middle third)."""
    n = len(losses)
    run = [1] * n  # run[i]: length of the longest decreasing subsequence ending at i
    for i in range(1, n):
        run[i] = 1 + max((run[j] for j in range(i) if losses[j] > losses[i]), default=0)
    end = max(range(n), key=run.__getitem__)
    start = end - run[end]
    third = (end - start) / 3
    return lrs[max(0, min(n - 1, start + int(third) + int(third / 2)))]


def _gradient(y: list[float]) -> list[float]:
    n = len(y)
    if n < 2:
        return [0.0] * n
    mid = [(y[i + 1] - y[i - 1]) / 2 for i in range(1, n - 1)]
    return [y[1] - y[0], *mid, y[-1] - y[-2]]


def slide(
    lrs: list[float],
    losses: list[float],
    num_it: int,
    lr_diff: int = 15,
    thresh: float = 0.005,
    adjust_value: float = 1.0,
) -> float:
    """Walk left from the end while the loss slope `lr_diff` points apart still differs by more than `thresh`."""
    del num_it
    grad = _gradient(losses)
    n = len(losses)
    r, lo = n - 1, n - 1 - lr_diff
    if lo < 0:
        return lrs[0] * adjust_value
    found = lrs[lo]
    while lo >= 0 and abs(grad[r] - grad[lo]) > thresh:
        found = lrs[lo]
        r, lo = r - 1, lo - 1
    return found * adjust_value


class LRFindMixin:
    """`Learner.lr_find`."""

    def lr_find(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        start_lr: float = 1e-7,
        end_lr: float = 10.0,
        num_it: int = 100,
        stop_div: bool = True,
        suggest_funcs: Sequence[SuggestFunc] = (valley,),
        fname: str | Path | None = None,
    ) -> Any:
        """Run the lr range test and return suggestions, a named tuple with one lr per function in `suggest_funcs`.

        Model weights and optimizer state are restored afterwards. `fname` also renders the loss-vs-lr plot.
        """
        if self.opt is None:
            self.create_opt()
        try:
            n_batches = len(self.dls.train) if isinstance(self.dls.train, Sized) else num_it
        except TypeError:
            n_batches = num_it
        n_epoch = num_it // max(n_batches, 1) + 1
        cb = LRFinder(start_lr, end_lr, num_it, stop_div)
        old_logger, self.logger = self.logger, None
        try:
            with self.no_bar():
                self.fit(n_epoch, cbs=cb)
        finally:
            self.logger = old_logger
        rec = self.recorder
        skip_end = 5 if len(rec.lrs) > 20 else 0
        lrs = [float("nan") if v is None else float(v) for v in rec.lrs[num_it // 10 : len(rec.lrs) - skip_end]]
        losses = rec.loss_values[num_it // 10 : len(rec.lrs) - skip_end]
        if len(lrs) < 2:
            raise ValueError(f"lr_find recorded only {len(lrs)} usable points; raise num_it or end_lr")
        self.lr_find_results = (lrs, losses)
        if fname is not None:
            line_plot({"loss": (lrs, losses)}, fname, xlabel="learning rate (log)", ylabel="loss", logx=True)
        names = [f.__name__ for f in suggest_funcs]
        suggested = [f(lrs, losses, num_it) for f in suggest_funcs]
        return _named_tuple("SuggestedLRs", names)(*suggested)
