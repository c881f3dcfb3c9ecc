"""`Recorder`: losses, learning rates, momentums, metrics and timing of every fit."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from torch import Tensor

from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.metrics.base import AvgLoss, AvgSmoothLoss
from trainloop_callbacks.plotting import line_plot

__all__ = ["Recorder", "read_hyper"]


def read_hyper(opt: Any, name: str, group: int = -1) -> float | None:
    """Current value of hyper-parameter `name` of one parameter group (`None` if the optimizer has none).

    pluggable-optim groups hold the tiers names directly (read without building `opt.hypers`, which is per-batch
    cost in the Recorder); other optimizers go through `opt.hypers`, then torch's keys.
    """
    pg = opt.param_groups[group]
    if name in pg:
        return pg[name]
    hypers = getattr(opt, "hypers", None)
    if hypers is not None:
        return hypers[group].get(name)
    if name == "mom":
        return pg.get("momentum", pg["betas"][0] if "betas" in pg else None)
    return None


def _fmt(v: Any) -> str:
    if v is None:
        return "None"
    if isinstance(v, float):
        return f"{v:.6f}"
    return str(v)


class Recorder(Callback):
    """Records the smoothed training loss (`losses`), `lrs` and `moms` per batch, and per epoch `values`.

    `values[i]` is `[train_loss, valid_loss, *metrics]` of epoch i; `metric_names` labels the columns
    of the printed log (`epoch`, those, `time`). `plot_loss`/`plot_sched` render the curves.
    """

    order = 50
    unique = True  # one per learner: another instance replaces it

    def __init__(
        self, add_time: bool = True, train_metrics: bool = False, valid_metrics: bool = True, beta: float = 0.98
    ):
        self.add_time, self.train_metrics, self.valid_metrics = add_time, train_metrics, valid_metrics
        self.loss, self.smooth_loss = AvgLoss(), AvgSmoothLoss(beta)
        self.lrs: list[float | None] = []
        self.moms: list[float | None] = []  # None where the optimizer has no momentum
        self.losses: list[float | Tensor] = []
        self.iters: list[int] = []
        self.values: list[list[float | None]] = []
        self.log: list[Any] = []

    @property
    def metric_names(self) -> list[str]:
        """Column names of the per-epoch log."""
        learn = getattr(self, "learn", None)  # a Recorder not attached (yet) has no metrics
        names = [m.name for m in learn.metrics] if learn is not None else []
        cols = ["train_loss"]
        if self.train_metrics:
            cols += [f"train_{n}" for n in names]
        cols.append("valid_loss")
        if self.valid_metrics:
            cols += [f"valid_{n}" for n in names] if self.train_metrics else names
        return ["epoch", *cols] + (["time"] if self.add_time else [])

    def before_fit(self) -> None:
        self._n_train = 0
        if self.learn.start_epoch == 0:  # a resumed fit keeps the history loaded from the checkpoint
            self.lrs, self.moms, self.losses, self.iters, self.values = [], [], [], [], []
            self.smooth_loss.reset()
        self._header_done = False

    def before_epoch(self) -> None:
        if not self._header_done and self.learn.logger is not None:
            self.learn.logger(self.metric_names)
        self._header_done = True
        self.start_epoch = time.time()
        self.log = [self.learn.epoch]
        self._n_train = 0

    def before_train(self) -> None:
        self._reset_phase(self.train_metrics)

    def before_validate(self) -> None:
        self._reset_phase(self.valid_metrics)

    def _reset_phase(self, with_metrics: bool) -> None:
        self.loss.reset()
        self._metrics = self.learn.metrics if with_metrics else []
        for m in self._metrics:
            m.reset()

    def after_batch(self) -> None:
        learn = self.learn
        if not learn.yb:
            return
        if learn.training:
            self._n_train += 1
            self.smooth_loss.accumulate(learn)
            smooth = self.smooth_loss.value
            if smooth is not None:  # always set: a batch was just accumulated
                learn.smooth_loss = smooth
                self.losses.append(smooth)
            opt = learn.require_opt()
            pg = opt.param_groups[-1]
            if "lr" in pg and "mom" in pg:  # pluggable-optim: tiers names in the group, read directly
                self.lrs.append(pg["lr"])
                self.moms.append(pg["mom"])
            else:
                self.lrs.append(read_hyper(opt, "lr"))
                self.moms.append(read_hyper(opt, "mom"))
        else:
            self.loss.accumulate(learn)
        for m in self._metrics:
            m.accumulate(learn)

    def after_train(self) -> None:
        self.log.append(_item(self.learn.smooth_loss))
        if self.train_metrics:
            self.log += [m.value for m in self.learn.metrics]

    def after_validate(self) -> None:
        self.log.append(self.loss.value)
        if self.valid_metrics:
            self.log += [m.value for m in self.learn.metrics]

    def after_epoch(self) -> None:
        if self._n_train == 0:
            return  # a skipped epoch (resume) or one cancelled before any batch: nothing to log
        n_cols = len(self.metric_names) - 1 - (1 if self.add_time else 0)
        values = [*self.log[1:], *([None] * (n_cols - len(self.log) + 1))][:n_cols]
        self.values.append(values)
        row = [self.learn.epoch, *values]
        if self.add_time:
            row.append(_format_time(time.time() - self.start_epoch))
        self.log = row
        if self.learn.logger is not None:
            self.learn.logger([_fmt(v) for v in row])

    @property
    def loss_values(self) -> list[float]:
        """The smoothed training losses as floats."""
        return [float(v) for v in self.losses]

    def state_dict(self) -> dict[str, Any]:
        return {
            "values": [list(v) for v in self.values],
            "losses": self.loss_values,
            "lrs": list(self.lrs),
            "moms": list(self.moms),
            "smooth_loss": self.smooth_loss.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.values = [list(v) for v in state["values"]]
        self.lrs, self.moms = list(state["lrs"]), list(state["moms"])
        self.losses = list(state["losses"])
        self.smooth_loss.load_state_dict(state["smooth_loss"])

    def plot_loss(self, fname: str | Path | None = None, skip_start: int = 5, with_valid: bool = True) -> Any:
        """Plot training (and validation) losses; to `fname` (PNG) if given, else return the image."""
        train = self.loss_values[skip_start:]
        series = {"train": (list(range(skip_start, skip_start + len(train))), train)}
        if with_valid and self.values:
            n_per_epoch = len(self.losses) / len(self.values)
            pts = [(round((i + 1) * n_per_epoch) - 1, v[1]) for i, v in enumerate(self.values) if v[1] is not None]
            series["valid"] = ([p[0] for p in pts], [p[1] for p in pts])
        return line_plot(series, fname, xlabel="batch", ylabel="loss")

    def plot_sched(self, fname: str | Path | None = None) -> Any:
        """Plot the learning rate and momentum schedules per batch."""
        x = list(range(len(self.lrs)))
        series = {"lr": (x, [float("nan") if v is None else float(v) for v in self.lrs])}
        if self.moms and self.moms[0] is not None:
            series["mom"] = (x, [float("nan") if v is None else float(v) for v in self.moms])
        return line_plot(series, fname, xlabel="batch", ylabel="value", separate=True)


def _item(x: Any) -> Any:
    return x.item() if isinstance(x, Tensor) else x


def _format_time(t: float) -> str:
    t = int(t)
    h, m, s = t // 3600, (t // 60) % 60, t % 60
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"
