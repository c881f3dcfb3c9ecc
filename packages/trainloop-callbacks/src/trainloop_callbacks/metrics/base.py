"""The `Metric` protocol and its building blocks: averaged, accumulated, loss and smoothed-loss metrics."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from trainloop_callbacks.batches import find_bs, to_plain

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["Metric", "AvgMetric", "AccumMetric", "AvgLoss", "AvgSmoothLoss", "as_metric"]


@runtime_checkable
class Metric(Protocol):
    """What the Recorder needs from a metric: `reset()` per phase, `accumulate(learn)` per batch, `value`, `name`."""

    name: str

    def reset(self) -> None: ...

    def accumulate(self, learn: Learner) -> None: ...

    @property
    def value(self) -> float | None: ...


def _func_name(func: Callable[..., Any]) -> str:
    return getattr(func, "__name__", None) or type(func).__name__


def _item(x: Any) -> Any:
    return x.item() if isinstance(x, Tensor) and x.numel() == 1 else x


class AvgMetric:
    """A metric `func(pred, *yb)` averaged over batches, weighted by batch size (exact for means)."""

    def __init__(self, func: Callable[..., Any], name: str | None = None) -> None:
        self.func, self.name = func, name or _func_name(func)
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def accumulate(self, learn: Learner) -> None:
        bs = find_bs(learn.yb)
        val = self.func(learn.pred, *to_plain(learn.yb))
        if isinstance(val, Tensor):
            # a CPU scalar is summed as a Python float (no sync to avoid there, and no tensor ops per batch);
            # elsewhere the sum stays on the device so no batch waits for it
            val = val.item() if val.is_cpu and not val.ndim else val.detach()
        self.total += val * bs
        self.count += bs

    @property
    def value(self) -> float | None:
        return _item(self.total / self.count) if self.count else None


class AccumMetric:
    """A metric computed once over all predictions and targets of a phase (F1, AUC, R²...).

    `dim_argmax` takes an argmax of the predictions over that dimension first; `activation` is
    'no', 'softmax' or 'sigmoid'; `thresh` turns predictions into 0/1; `flatten` flattens both.
    """

    def __init__(
        self,
        func: Callable[..., Any],
        dim_argmax: int | None = None,
        activation: str = "no",
        thresh: float | None = None,
        flatten: bool = True,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        if activation not in ("no", "softmax", "sigmoid"):
            raise ValueError(f"AccumMetric activation must be 'no', 'softmax' or 'sigmoid', got {activation!r}")
        self.func, self.dim_argmax, self.activation, self.thresh, self.flatten = (
            func,
            dim_argmax,
            activation,
            thresh,
            flatten,
        )
        self.kwargs, self.name = kwargs, name or _func_name(func)
        self.reset()

    def reset(self) -> None:
        self.preds: list[Tensor] = []
        self.targs: list[Tensor] = []

    def accumulate(self, learn: Learner) -> None:
        self.accum_values(learn.pred, to_plain(learn.yb[0]))

    def accum_values(self, preds: Tensor, targs: Tensor) -> None:
        """Add one batch of predictions and targets."""
        preds = preds.detach()
        if self.activation == "softmax":
            preds = torch.softmax(preds, dim=-1 if self.dim_argmax is None else self.dim_argmax)
        elif self.activation == "sigmoid":
            preds = torch.sigmoid(preds)
        if self.dim_argmax is not None:
            preds = preds.argmax(dim=self.dim_argmax)
        if self.thresh is not None:
            preds = (preds >= self.thresh).long()
        targs = targs.detach()
        if self.flatten:
            preds, targs = preds.reshape(-1), targs.reshape(-1)
        self.preds.append(preds.cpu())
        self.targs.append(targs.cpu())

    @property
    def value(self) -> float | None:
        if not self.preds:
            return None
        return _item(self.func(torch.cat(self.preds), torch.cat(self.targs), **self.kwargs))


class AvgLoss:
    """The loss averaged over a phase, weighted by batch size."""

    name = "loss"

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.total: Tensor | float = 0.0
        self.count = 0

    def accumulate(self, learn: Learner) -> None:
        bs = find_bs(learn.yb)
        loss = learn.loss
        if loss.ndim:
            loss = loss.mean()
        # as in AvgMetric: a Python float on CPU, a device tensor elsewhere
        self.total = self.total + (loss.item() if loss.is_cpu else loss) * bs
        self.count += bs

    @property
    def value(self) -> float | None:
        return _item(self.total / self.count) if self.count else None


class AvgSmoothLoss:
    """Exponentially smoothed training loss with bias correction: `beta` weighs the past."""

    name = "loss"

    def __init__(self, beta: float = 0.98) -> None:
        self.beta = beta
        self.reset()

    def reset(self) -> None:
        self.count = 0
        self.val: float | Tensor = 0.0

    def accumulate(self, learn: Learner) -> None:
        self.count += 1
        loss = learn.loss
        if loss.ndim:
            loss = loss.mean()
        if loss.is_cpu and not isinstance(self.val, Tensor):
            # On CPU reading the value costs no device sync, and float arithmetic costs no tensor dispatch: this
            # runs every training batch (tools/bench/loop_overhead.py measures it).
            v = loss.item()
            self.val = v + self.beta * (self.val - v)
        else:  # on an accelerator stay on the device: no sync per batch
            if not isinstance(self.val, Tensor):
                self.val = torch.tensor(self.val, device=loss.device)
            self.val = torch.lerp(loss.detach().float(), self.val, self.beta)

    @property
    def value(self) -> float | Tensor | None:
        return self.val / (1 - self.beta**self.count) if self.count else None

    def state_dict(self) -> dict[str, Any]:
        return {"count": self.count, "val": float(self.val)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.count, self.val = int(state["count"]), float(state["val"])


def as_metric(m: Any) -> Metric:
    """A `Metric` as is; a plain function `f(pred, *yb)` wrapped in `AvgMetric`."""
    if isinstance(m, Metric):
        return m
    if callable(m):
        return AvgMetric(m)
    raise TypeError(f"a metric must be a Metric or a function f(pred, *yb), got {type(m).__name__}")
