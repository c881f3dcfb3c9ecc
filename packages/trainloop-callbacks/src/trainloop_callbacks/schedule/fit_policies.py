"""Training policies on top of `fit`: one-cycle, flat-then-cosine, SGDR and `fine_tune`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from trainloop_callbacks.loop.host import listify
from trainloop_callbacks.schedule.scheds import ParamScheduler, SchedCos, combine_scheds, combined_cos

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner
    from trainloop_callbacks.loop.callback import Callback

__all__ = ["FitPoliciesMixin"]


def _lrs(opt: Any) -> list[float]:
    return [float(h["lr"]) for h in opt.hypers]


def _scale(v: list[float], k: float) -> list[float]:
    return [x * k for x in v]


def _one(v: list[float]) -> float | list[float]:
    return v[0] if len(v) == 1 else v


class FitPoliciesMixin:
    """`fit_one_cycle`, `fit_flat_cos`, `fit_sgdr` and `fine_tune`: `fit` with a `ParamScheduler`."""

    def _set_lr(self: Learner, lr: float | slice | None) -> list[float]:  # type: ignore[misc]  # a Learner mixin: self is a Learner
        if self.opt is None:
            self.create_opt()
        opt = self.require_opt()
        opt.set_hyper("lr", self.lr if lr is None else lr)
        return _lrs(opt)

    def fit_one_cycle(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        n_epoch: int,
        lr_max: float | slice | None = None,
        div: float = 25.0,
        div_final: float = 1e5,
        pct_start: float = 0.25,
        wd: float | None = None,
        moms: tuple[float, float, float] | None = None,
        cbs: Callback | Sequence[Callback] | None = None,
        reset_opt: bool = False,
        start_epoch: int = 0,
    ) -> None:
        """Leslie Smith's 1cycle: lr warms up from `lr_max/div` to `lr_max` over `pct_start`, then anneals to
        `lr_max/div_final`; momentum moves the opposite way through `moms` (cosine both halves)."""
        if reset_opt:
            self.create_opt()
        lrs = self._set_lr(lr_max)
        scheds = {
            "lr": combined_cos(pct_start, _one(_scale(lrs, 1 / div)), _one(lrs), _one(_scale(lrs, 1 / div_final)))
        }
        if "mom" in self.require_opt().hypers[0]:
            scheds["mom"] = combined_cos(pct_start, *(moms if moms is not None else self.moms))
        self.fit(n_epoch, cbs=[ParamScheduler(scheds), *listify(cbs)], wd=wd, start_epoch=start_epoch)

    def fit_flat_cos(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        n_epoch: int,
        lr: float | slice | None = None,
        div_final: float = 1e5,
        pct_start: float = 0.75,
        wd: float | None = None,
        cbs: Callback | Sequence[Callback] | None = None,
        reset_opt: bool = False,
        start_epoch: int = 0,
    ) -> None:
        """Flat lr for `pct_start` of training, then cosine annealing to `lr/div_final`."""
        if reset_opt:
            self.create_opt()
        lrs = self._set_lr(lr)
        scheds = {"lr": combined_cos(pct_start, _one(lrs), _one(lrs), _one(_scale(lrs, 1 / div_final)))}
        self.fit(n_epoch, cbs=[ParamScheduler(scheds), *listify(cbs)], wd=wd, start_epoch=start_epoch)

    def fit_sgdr(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        n_cycles: int,
        cycle_len: int,
        lr_max: float | slice | None = None,
        cycle_mult: int = 2,
        wd: float | None = None,
        cbs: Callback | Sequence[Callback] | None = None,
        reset_opt: bool = False,
        start_epoch: int = 0,
    ) -> None:
        """SGD with warm restarts: `n_cycles` cosine cycles from `lr_max` to 0, each `cycle_mult` times longer."""
        if n_cycles < 1 or cycle_len < 1 or cycle_mult < 1:
            raise ValueError(
                f"fit_sgdr needs n_cycles, cycle_len, cycle_mult >= 1, got {n_cycles}, {cycle_len}, {cycle_mult}"
            )
        if reset_opt:
            self.create_opt()
        lrs = self._set_lr(lr_max)
        lens = [cycle_len * cycle_mult**i for i in range(n_cycles)]
        n_epoch = sum(lens)
        scheds = {"lr": combine_scheds([n / n_epoch for n in lens], [SchedCos(_one(lrs), 0.0) for _ in lens])}
        self.fit(n_epoch, cbs=[ParamScheduler(scheds), *listify(cbs)], wd=wd, start_epoch=start_epoch)

    def fine_tune(  # type: ignore[misc]  # a Learner mixin: self is a Learner
        self: Learner,
        epochs: int,
        base_lr: float = 2e-3,
        freeze_epochs: int = 1,
        lr_mult: float = 100,
        pct_start: float = 0.3,
        div: float = 5.0,
        **kwargs: Any,
    ) -> None:
        """Transfer learning: `freeze_epochs` of 1cycle on the head only, then `epochs` on everything with
        discriminative learning rates from `base_lr/2/lr_mult` (first group) to `base_lr/2` (head)."""
        self.freeze()
        self.fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99, **kwargs)
        base_lr /= 2
        self.unfreeze()
        self.fit_one_cycle(epochs, slice(base_lr / lr_mult, base_lr), pct_start=pct_start, div=div, **kwargs)
