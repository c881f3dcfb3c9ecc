"""`GradientAccumulation`: one optimizer step per `n_acc` samples, gradients averaged over them exactly."""

from __future__ import annotations

import warnings

from torch import nn

from trainloop_callbacks.batches import find_bs
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.events import CancelBatchException

__all__ = ["GradientAccumulation"]


class GradientAccumulation(Callback):
    """Accumulate gradients over micro-batches and step the optimizer once at least `n_acc` samples were seen.

    Each micro-batch's loss is weighted by its batch size, and the summed gradient is divided by the number of
    samples actually accumulated before the step, so the step uses the mean gradient over those samples, as one
    batch of that size would (exactly, for losses that are means over samples and models without BatchNorm).
    Schedules advance per optimizer step (`StepClock`). BatchNorm layers normalise and keep running statistics
    per micro-batch: a warning says so. Samples left at the end of a fit are dropped with their gradient.
    """

    order = 6  # before MixedPrecision (10): decide to step before the scaler unscales (MixedPrecision.run_after)
    unique = True  # one per learner: another instance replaces it
    run_valid = False
    needs_step_clock = True  # batches that only accumulate are not steps

    def __init__(self, n_acc: int = 32) -> None:
        if not isinstance(n_acc, int) or n_acc < 1:
            raise ValueError(f"GradientAccumulation needs n_acc (samples per optimizer step) >= 1, got {n_acc!r}")
        self.n_acc = n_acc
        self.count = 0
        self.n_steps = 0

    def before_fit(self) -> None:
        learn = self.learn
        bns = [type(m).__name__ for m in learn.model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
        if bns:
            warnings.warn(
                f"GradientAccumulation(n_acc={self.n_acc}): the model has {len(bns)} BatchNorm layer(s) ({bns[0]}...); "
                "they normalise and update their running statistics per micro-batch (the loader's bs), "
                f"not per {self.n_acc} accumulated samples",
                UserWarning,
                stacklevel=2,
            )
        self.count, self.n_steps = 0, 0
        if learn.opt is not None:
            learn.opt.zero_grad()

    def after_loss(self) -> None:
        bs = find_bs(self.learn.yb)
        self._bs = bs
        self.learn.loss_grad = self.learn.loss_grad * bs  # a sum over samples; divided by the count at the step

    def before_backward(self) -> None:
        self.count += self._bs

    def before_step(self) -> None:
        if self.count < self.n_acc:
            raise CancelBatchException  # skips the step and the zero_grad: gradients keep accumulating
        scale = 1.0 / self.count
        for group in self.learn.require_opt().param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.mul_(scale)
        self.count = 0
        self.n_steps += 1
