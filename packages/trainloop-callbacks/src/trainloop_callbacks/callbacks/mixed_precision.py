"""`MixedPrecision`: forward under `torch.autocast`; fp16 adds a `GradScaler` whose skipped steps are cancelled."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from trainloop_callbacks.callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.events import CancelStepException

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["MixedPrecision", "to_fp16", "to_bf16", "to_fp32"]

_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def _to_float(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    if isinstance(x, (tuple, list)):
        return type(x)(_to_float(o) for o in x)
    if isinstance(x, dict):
        return {k: _to_float(v) for k, v in x.items()}
    return x


class _ScalerView:
    """What `GradScaler.step` needs of an optimizer: its groups, and a `step` that only records the decision.

    The real step is the loop's `opt.step()`; callbacks between (e.g. `GradientClip`) see unscaled gradients.
    """

    def __init__(self, opt: Any) -> None:
        self.opt, self.stepped = opt, False

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.opt.param_groups

    def step(self, *args: Any, **kwargs: Any) -> None:  # noqa: ARG002 - GradScaler's optimizer protocol
        self.stepped = True


class MixedPrecision(Callback):
    """Runs forward and loss under `torch.autocast` in `amp_mode` ('fp16' or 'bf16'); predictions come back fp32.

    fp16 scales the loss with a `torch.amp.GradScaler` and unscales the gradients at `before_step` (so clipping
    sees true values). A step whose gradients overflowed is skipped by raising `CancelStepException`; it does not
    advance the schedule (`StepClock`) and is counted in `skipped_steps`. bf16 needs no scaler and runs on CPU too.
    """

    order = 10
    run_after = {  # noqa: RUF012
        GradientAccumulation: "accumulation must decide whether this batch steps (before_step) before the grad "
        "scaler unscales the gradients (unscaling a partial sum corrupts the next micro-batches)"
    }
    unique = True  # one per learner: another instance replaces it

    def __init__(
        self,
        amp_mode: str = "fp16",
        init_scale: float = 2.0**16,
        growth_factor: float = 2.0,
        backoff_factor: float = 0.5,
        growth_interval: int = 2000,
    ) -> None:
        if amp_mode not in _DTYPES:
            raise ValueError(f"MixedPrecision amp_mode must be one of {sorted(_DTYPES)}, got {amp_mode!r}")
        self.amp_mode, self.dtype = amp_mode, _DTYPES[amp_mode]
        self.needs_step_clock = amp_mode == "fp16"  # skipped (overflowed) steps must not advance the schedule
        self.scaler_kwargs: dict[str, Any] = {
            "init_scale": init_scale,
            "growth_factor": growth_factor,
            "backoff_factor": backoff_factor,
            "growth_interval": growth_interval,
        }
        self.scaler: torch.amp.GradScaler | None = None
        self.skipped_steps = 0
        self._autocast: Any = None
        self._skipped = False
        self.device_type: str | None = None

    def before_fit(self) -> None:
        self.device_type = _device_type(self.learn.model)
        if self.amp_mode == "fp16" and self.scaler is None:
            self.scaler = torch.amp.GradScaler(self.device_type, **self.scaler_kwargs)
        self.skipped_steps = 0

    def before_batch(self) -> None:
        if self.device_type is None:  # inference (validate, get_preds) outside a fit
            self.device_type = _device_type(self.learn.model)
        self._autocast = torch.autocast(device_type=self.device_type, dtype=self.dtype)
        self._autocast.__enter__()

    def after_pred(self) -> None:
        self.learn.pred = _to_float(self.learn.pred)

    def after_loss(self) -> None:
        self._exit()

    def after_cancel_batch(self) -> None:
        self._exit()  # cancelled before the loss: leave autocast all the same

    def after_batch(self) -> None:
        self._exit()  # a batch without targets has no loss event

    def _exit(self) -> None:
        if self._autocast is not None:
            self._autocast.__exit__(None, None, None)
            self._autocast = None

    def before_backward(self) -> None:
        if self.scaler is not None:
            self.learn.loss_grad = self.scaler.scale(self.learn.loss_grad)

    def before_step(self) -> None:
        self._skipped = False
        if self.scaler is None:
            return
        view = _ScalerView(self.learn.opt)
        # GradScaler.step unscales the gradients (in place) and calls view.step() only if they are all finite
        self.scaler.step(view)  # type: ignore[arg-type]  # GradScaler.step duck-types: param_groups, step()
        if not view.stepped:
            self.skipped_steps += 1
            self._skipped = True
            self.scaler.update()  # shrink the scale now: after_step will not update again
            raise CancelStepException

    def after_step(self) -> None:
        if self.scaler is not None and not self._skipped:
            self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return {"scaler": self.scaler.state_dict() if self.scaler is not None else {}, "skipped": self.skipped_steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("scaler") and self.amp_mode == "fp16":
            if self.scaler is None:
                learn = getattr(self, "learn", None)  # a checkpoint may be loaded before the callback is attached
                device = _device_type(learn.model) if learn is not None else "cpu"
                self.scaler = torch.amp.GradScaler(device, **self.scaler_kwargs)
            self.scaler.load_state_dict(state["scaler"])
        self.skipped_steps = int(state.get("skipped", 0))


def _device_type(model: torch.nn.Module) -> str:
    for p in model.parameters():
        return p.device.type
    return "cpu"


def to_fp16(learn: Learner, **kwargs: Any) -> Learner:
    """Train `learn` in fp16 mixed precision (autocast plus a GradScaler); `kwargs` go to `MixedPrecision`."""
    learn.remove_cb(MixedPrecision)
    return learn.add_cb(MixedPrecision("fp16", **kwargs))


def to_bf16(learn: Learner) -> Learner:
    """Train `learn` in bf16 mixed precision (autocast, no scaler needed); works on CPU."""
    learn.remove_cb(MixedPrecision)
    return learn.add_cb(MixedPrecision("bf16"))


def to_fp32(learn: Learner) -> Learner:
    """Back to full fp32 training: remove `MixedPrecision`."""
    return learn.remove_cb(MixedPrecision)
