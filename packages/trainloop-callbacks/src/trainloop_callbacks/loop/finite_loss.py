"""`FiniteLossCheck`, a default callback: stop before a NaN or infinite loss is backpropagated."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from trainloop_callbacks.loop.callback import Callback

__all__ = ["FiniteLossCheck", "NonFiniteLossError", "is_nonfinite_loss"]


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; raised by `FiniteLossCheck` before the bad step."""


def _nonfinite(x: Any) -> bool:
    return isinstance(x, Tensor) and x.is_floating_point() and not bool(torch.isfinite(x).all())


def is_nonfinite_loss(loss: Tensor) -> bool:
    """Whether a loss (a scalar, or the sum of an unreduced one) is NaN or infinite."""
    # one device sync per training batch on an accelerator; a float on CPU costs about a microsecond
    return not math.isfinite(_value(loss))


def _value(loss: Tensor) -> float:
    return loss.item() if loss.numel() == 1 else float(loss.detach().float().sum())


class FiniteLossCheck(Callback):
    """Stops the fit with `NonFiniteLossError` when a training loss is NaN or infinite, before that batch's
    backward and step, so the model keeps the last good weights; the error names the epoch and the batch and
    says whether the targets or the inputs hold NaN/inf.

    A default callback of `Learner` (`learn.finite_loss_check`). On an accelerator it syncs the device once per
    training batch; to train on regardless, remove it: `learn.remove_cb(FiniteLossCheck)` (or
    `Learner(..., default_cbs=False)`). `TerminateOnNaNCallback` ends the fit quietly instead.
    """

    order = 95  # after every callback that changes the loss (MixUp, GradientAccumulation): check what is backpropagated
    run_valid = False
    unique = True

    def after_loss(self) -> None:
        learn = self.learn
        if not is_nonfinite_loss(learn.loss_grad):
            return
        if learn.opt is not None:
            learn.opt.zero_grad()  # gradients of micro-batches before this one would leak into the next fit
        value = _value(learn.loss_grad)
        if any(_nonfinite(y) for y in learn.yb):
            why = "the targets of this batch hold NaN or infinite values: drop or fill missing labels"
        elif any(_nonfinite(x) for x in learn.xb):
            why = "the inputs of this batch hold NaN or infinite values: clean or normalise the data"
        else:
            why = "the data is finite, so training diverged: try a lower learning rate, gradient clipping or fp32"
        raise NonFiniteLossError(
            f"the training loss is {value} at epoch {learn.epoch}, batch {learn.iter}; {why}. Training stopped "
            "before this batch's step: the model keeps the weights of the last good batch. To train on "
            "regardless, learn.remove_cb(FiniteLossCheck)"
        )
