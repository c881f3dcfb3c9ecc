"""Weight averaging: `EMA` (exponential moving average of the weights) and `SWA` (stochastic weight averaging)."""

from __future__ import annotations

import copy
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import SWALR, AveragedModel, update_bn

from trainloop_callbacks.callbacks.tracker import SaveModelCallback
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.protocols import n_inp_of
from trainloop_callbacks.schedule.scheds import ParamScheduler

__all__ = ["EMA", "SWA"]


def _bare(model: nn.Module) -> nn.Module:
    """The module inside a `DistributedDataParallel` wrapper, else `model`."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


class EMA(Callback):
    """Keeps `ema_model`, an exponential moving average of the weights: `ema = decay * ema + (1 - decay) * w`
    after every optimizer step (skipped steps excluded); buffers (BatchNorm statistics) are copied.

    With `validate_with_ema` validation runs on the averaged weights: they are swapped in for validation and the
    trained weights swapped back for the next training phase. At the end of the fit the model keeps the averaged
    weights when `keep_ema` (what was validated and checkpointed by `SaveModelCallback`), else the trained ones.
    """

    order = 55
    run_before = {SaveModelCallback: "at after_fit, the best checkpoint is loaded after EMA puts its weights in"}  # noqa: RUF012

    def __init__(self, decay: float = 0.999, validate_with_ema: bool = True, keep_ema: bool = True) -> None:
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"EMA decay must be in [0, 1), got {decay}")
        self.decay, self.validate_with_ema, self.keep_ema = decay, validate_with_ema, keep_ema
        self.ema_model: nn.Module | None = None
        self._trained: list[Tensor] | None = None  # the trained weights while the averaged ones are swapped in
        self._in_fit = False
        self._skip = False

    def before_fit(self) -> None:
        model = _bare(self.learn.model)
        if self.ema_model is None or not _same_shapes(self.ema_model, model):
            self.ema_model = copy.deepcopy(model).requires_grad_(False)
        self._in_fit = True

    def before_train(self) -> None:
        self._swap_out()

    def before_batch(self) -> None:
        self._skip = False

    def after_cancel_step(self) -> None:
        self._skip = True  # e.g. an fp16 overflow: the weights did not change

    @torch.no_grad()
    def after_step(self) -> None:
        if self._skip:
            return
        ema, model = self.ema_model, _bare(self.learn.model)
        if ema is None:  # set by before_fit
            return
        torch._foreach_lerp_(list(ema.parameters()), list(model.parameters()), 1.0 - self.decay)
        for b_ema, b in zip(ema.buffers(), model.buffers(), strict=True):
            b_ema.copy_(b)

    def before_validate(self) -> None:
        if self._in_fit and self.validate_with_ema:
            self._swap_in()

    def after_fit(self) -> None:
        self._in_fit = False
        if self.keep_ema:
            self._swap_in()
        else:
            self._swap_out()
        self._trained = None

    @torch.no_grad()
    def _swap_in(self) -> None:
        ema = self.ema_model
        if self._trained is not None or ema is None:
            return
        model = _bare(self.learn.model)
        self._trained = [t.detach().clone() for t in model.state_dict().values()]
        for t, e in zip(model.state_dict().values(), ema.state_dict().values(), strict=True):
            t.copy_(e)

    @torch.no_grad()
    def _swap_out(self) -> None:
        if self._trained is None:
            return
        for t, saved in zip(_bare(self.learn.model).state_dict().values(), self._trained, strict=True):
            t.copy_(saved)
        self._trained = None

    def state_dict(self) -> dict[str, Any]:
        return {"ema": self.ema_model.state_dict() if self.ema_model is not None else {}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("ema"):
            if self.ema_model is None:
                self.ema_model = copy.deepcopy(_bare(self.learn.model)).requires_grad_(False)
            self.ema_model.load_state_dict(state["ema"])


def _same_shapes(a: nn.Module, b: nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(sa[k].shape == sb[k].shape for k in sa)


class SWA(Callback):
    """Stochastic weight averaging (Izmailov et al. 2018) with `torch.optim.swa_utils`.

    From epoch `start_epoch` on, the lr is annealed to `swa_lr` over `anneal_epochs` (`SWALR`, overriding any
    schedule) and the weights are averaged at the end of every epoch (`AveragedModel`). At the end of the fit the
    model gets the averaged weights and, if it has BatchNorm layers, their statistics are recomputed over the
    training data (`update_bn`). `swa_model` holds the average.
    """

    order = 65
    run_after = {ParamScheduler: "at before_batch, SWA's learning rate replaces the schedule's once SWA starts"}  # noqa: RUF012
    conflicts_with = {EMA: "both replace the trained weights by an average at the end; use one of them"}  # noqa: RUF012

    def __init__(self, start_epoch: int, swa_lr: float, anneal_epochs: int = 1, anneal_strategy: str = "cos") -> None:
        if start_epoch < 0 or swa_lr <= 0 or anneal_epochs < 0:
            raise ValueError(
                f"SWA needs start_epoch >= 0, swa_lr > 0, anneal_epochs >= 0; got {start_epoch}, {swa_lr}, "
                f"{anneal_epochs}"
            )
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"SWA anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self.start_epoch, self.swa_lr = start_epoch, swa_lr
        self.anneal_epochs = anneal_epochs
        self.anneal_strategy: Literal["cos", "linear"] = "cos" if anneal_strategy == "cos" else "linear"
        self.swa_model: AveragedModel | None = None
        self.n_averaged = 0

    def before_fit(self) -> None:
        learn = self.learn
        if self.start_epoch >= learn.n_epoch:
            raise ValueError(f"SWA start_epoch={self.start_epoch} is not before the end of a {learn.n_epoch}-epoch fit")
        self.swa_model = AveragedModel(_bare(learn.model))
        self._sched: SWALR | None = None
        self._lrs: list[float] | None = None
        self.n_averaged = 0

    def before_train(self) -> None:
        if self.learn.epoch >= self.start_epoch and self._sched is None:
            opt = self.learn.require_opt()
            if not isinstance(opt, torch.optim.Optimizer):
                raise TypeError(
                    f"SWA's lr schedule (torch SWALR) needs a torch.optim.Optimizer, got {type(opt).__name__}"
                )
            self._sched = SWALR(
                opt,
                self.swa_lr,
                anneal_epochs=max(self.anneal_epochs, 1),
                anneal_strategy=self.anneal_strategy,
            )
            if self.anneal_epochs == 0:
                self._set([self.swa_lr] * len(self.learn.require_opt().param_groups))
            else:
                self._lrs = [g["lr"] for g in self.learn.require_opt().param_groups]

    def before_batch(self) -> None:
        if self._lrs is not None:
            self._set(self._lrs)  # re-applied every batch: other schedulers ran before (order)

    def _set(self, lrs: list[float]) -> None:
        self._lrs = list(lrs)
        for g, lr in zip(self.learn.require_opt().param_groups, lrs, strict=True):
            g["lr"] = lr

    def after_epoch(self) -> None:
        if self._sched is None or self.swa_model is None or self.learn.epoch < self.start_epoch:
            return
        self.swa_model.update_parameters(_bare(self.learn.model))
        self.n_averaged += 1
        self._sched.step()
        self._lrs = [g["lr"] for g in self.learn.require_opt().param_groups]

    @torch.no_grad()
    def after_fit(self) -> None:
        swa = self.swa_model
        if not self.n_averaged or swa is None:
            return
        model = _bare(self.learn.model)
        for p, a in zip(model.parameters(), swa.module.parameters(), strict=True):
            p.copy_(a)
        if any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()):
            device = next(model.parameters()).device
            update_bn(_inputs(self.learn.dls.train, n_inp_of(self.learn.dls)), model, device=device)


def _inputs(dl: Any, n_inp: int) -> Any:
    for b in dl:
        b = b if isinstance(b, (tuple, list)) else (b,)
        yield b[0] if n_inp == 1 else tuple(b[:n_inp])
