"""Small training callbacks: `GradientClip`, `BnFreeze`, `ChannelsLast`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from trainloop_callbacks.callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.callbacks.mixed_precision import MixedPrecision
from trainloop_callbacks.loop.callback import Callback

__all__ = ["GradientClip", "BnFreeze", "ChannelsLast", "set_bn_eval"]


class GradientClip(Callback):
    """Clip the global gradient norm to `max_norm` (of order `norm_type`) before each optimizer step.

    Runs after `MixedPrecision` has unscaled the gradients and after `GradientAccumulation` has completed them.
    `last_norm` holds the norm before clipping (a tensor: reading it is what syncs the device).
    """

    order = 11
    run_after = {  # noqa: RUF012
        MixedPrecision: "gradients must be unscaled before they are clipped",
        GradientAccumulation: "the accumulated gradient is clipped once per optimizer step, after it is complete",
    }

    def __init__(self, max_norm: float = 1.0, norm_type: float = 2.0) -> None:
        if max_norm <= 0:
            raise ValueError(f"GradientClip needs max_norm > 0, got {max_norm}")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.last_norm: Tensor | None = None

    def before_step(self) -> None:
        params = [p for g in self.learn.require_opt().param_groups for p in g["params"] if p.grad is not None]
        if params:
            self.last_norm = nn.utils.clip_grad_norm_(params, self.max_norm, self.norm_type)


_BN = (nn.modules.batchnorm._BatchNorm,)


def set_bn_eval(model: nn.Module) -> None:
    """Put in eval mode every BatchNorm layer whose parameters are frozen, so its running statistics stay put."""
    for m in model.modules():
        if isinstance(m, _BN):
            params = list(m.parameters(recurse=False))
            if params and not any(p.requires_grad for p in params):
                m.eval()


class BnFreeze(Callback):
    """Keep the running statistics of frozen BatchNorm layers fixed while training (transfer learning)."""

    order = -5  # after TrainEvalCallback (-10) puts the model in train mode

    def before_train(self) -> None:
        set_bn_eval(self.learn.model)


class ChannelsLast(Callback):
    """Train with channels-last memory format: model weights and 4-D inputs (faster convolutions on GPUs)."""

    order = -5

    def before_fit(self) -> None:
        self.learn.model.to(memory_format=torch.channels_last)

    def before_batch(self) -> None:
        self.learn.xb = tuple(
            x.contiguous(memory_format=torch.channels_last) if isinstance(x, Tensor) and x.ndim == 4 else x
            for x in self.learn.xb
        )
