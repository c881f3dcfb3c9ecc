"""`TrainLoop`: the fixed training loop with two-way callbacks around every step; `Learner` builds on it."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence, Sized
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pluggable_optim import Adam, norm_params
from trainloop_callbacks.batches import to_device, to_plain
from trainloop_callbacks.loop.callback import Callback, sort_by_run
from trainloop_callbacks.loop.conflicts import check_conflicts
from trainloop_callbacks.loop.data import as_dataloaders
from trainloop_callbacks.loop.events import BRACKETS, Bracket, render_loop
from trainloop_callbacks.loop.finite_loss import FiniteLossCheck
from trainloop_callbacks.loop.host import CallbackHost, listify
from trainloop_callbacks.loop.progress import ProgressCallback
from trainloop_callbacks.loop.protocols import DataProtocol, HasDevice, MovesToDevice, OptimizerProtocol, n_inp_of
from trainloop_callbacks.loop.recorder import Recorder
from trainloop_callbacks.loop.train_eval import SkipToEpoch, StepClock, TrainEvalCallback
from trainloop_callbacks.loop.wd_filter import NoBnBiasDecay
from trainloop_callbacks.losses import loss_from_kind
from trainloop_callbacks.metrics.base import Metric, as_metric

__all__ = ["TrainLoop", "default_splitter", "model_device", "default_loop_picture"]

# the brackets of the loop, as `Event` defines them (events.BRACKETS)
_FIT, _EPOCH, _TRAIN, _VALID = BRACKETS["fit"], BRACKETS["epoch"], BRACKETS["train"], BRACKETS["validate"]
_BATCH, _BACKWARD, _STEP = BRACKETS["batch"], BRACKETS["backward"], BRACKETS["step"]
_CancelBatch, _CancelBackward, _CancelStep = _BATCH.exc, _BACKWARD.exc, _STEP.exc
_BEFORE_BATCH, _CANCELLED_BATCH, _AFTER_BATCH = _BATCH[:3]  # plain names: read every batch


def default_splitter(model: nn.Module) -> list[list[nn.Parameter]]:
    """One parameter group holding every parameter of `model`."""
    return [list(model.parameters())]


class TrainLoop(CallbackHost):
    """Trains `model` on `dls` with `loss_func` and `opt_func`; callbacks run at every `Event` of the loop.

    The loop and its state; `trainloop_callbacks.learner.Learner` adds the feature methods (`fit_one_cycle`,
    `lr_find`, `get_preds`, `save`, `export`, `to_fp16`, ...). Default callbacks: `default_callbacks`.

    `dls` follows the data protocol (`.train`/`.valid` iterables of batches, optional `n_inp`,
    `decode_batch`, `show_results`, `test_dl`, `vocab`, `to_config`) or is a pair `(train_dl, valid_dl)`.
    `opt_func(param_groups, lr=...)` builds the optimizer over `splitter(model)`'s groups (pluggable-optim's
    hyper API: `hypers`, `set_hyper`, `freeze_to`). `wd` overrides the optimizer's weight decay; with
    `wd_bn_bias=False` batch-norm and bias parameters get none (`NoBnBiasDecay`); `train_bn` keeps batch norm
    trainable in frozen groups; `moms` is the momentum cycle of `fit_one_cycle`.

    Attributes callbacks may read and write (the loop reads them back after each event):

    - `model`, `dls`, `opt`, `loss_func`, `metrics`, `cbs`: what is trained, on what, with what.
    - `dl`: the loader being iterated (`dls.train` or `dls.valid` or a `get_preds` loader).
    - `xb`, `yb`: the batch's inputs and targets as tuples, on the model's device, tensor types kept.
      The model and the loss get plain-tensor views (`as_subclass(torch.Tensor)`).
    - `pred`: the model's output; `loss_grad`: the loss with its graph; `loss`: the same, detached.
    - `epoch`, `n_epoch`: current epoch and number of epochs of this fit; `start_epoch`: first epoch run
      (not 0 when resuming).
    - `iter`, `n_iter`: index of the batch in `dl` and the number of batches of `dl`.
    - `training`: True during the training phase; `pct_train`: fraction of training done (0..1).
    - `train_iter`: training batches done in this fit; `smooth_loss`: smoothed training loss
      (a float on CPU, a 0-d tensor on an accelerator, so reading it never forces a device sync).
    """

    default_callbacks: tuple[type[Callback], ...] = (TrainEvalCallback, Recorder, ProgressCallback, FiniteLossCheck)

    model: nn.Module
    dls: DataProtocol
    dl: Iterable[Any]
    xb: tuple[Any, ...]
    yb: tuple[Any, ...]
    pred: Any
    loss_grad: Tensor
    loss: Tensor
    opt: OptimizerProtocol | None  # None until `create_opt` (the first fit); set during every fit
    epoch: int
    n_epoch: int
    start_epoch: int
    iter: int
    n_iter: int
    training: bool
    pct_train: float
    train_iter: int
    smooth_loss: float | Tensor
    recorder: Recorder  # the default `Recorder` callback, stored under its name by `add_cb`
    compile_kwargs: dict[str, Any]  # what `compile` passed to `torch.compile` (absent before)

    def __init__(
        self,
        dls: DataProtocol | Sequence[Iterable[Any]],
        model: nn.Module,
        loss_func: Callable[..., Tensor] | None = None,
        opt_func: Callable[..., OptimizerProtocol] = Adam,
        lr: float | slice = 1e-3,
        splitter: Callable[[nn.Module], Sequence[Sequence[nn.Parameter]]] | None = None,
        cbs: Callback | Sequence[Callback] | None = None,
        metrics: Callable[..., Any] | Sequence[Callable[..., Any]] | None = None,
        path: str | Path = ".",
        model_dir: str | Path = "models",
        wd: float | None = None,
        wd_bn_bias: bool = False,
        train_bn: bool = True,
        moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
        default_cbs: bool = True,
    ) -> None:
        self.dls = as_dataloaders(dls)
        self.model = model
        self.loss_func = loss_func if loss_func is not None else _loss_from_data(self.dls)
        self.opt_func = opt_func
        self.lr, self.wd, self.wd_bn_bias, self.train_bn, self.moms = lr, wd, wd_bn_bias, train_bn, moms
        self.splitter = splitter if splitter is not None else default_splitter
        self.path, self.model_dir = Path(path), Path(model_dir)
        self.metrics: list[Metric] = [as_metric(m) for m in listify(metrics)]
        self.opt = None
        self.logger: Callable[..., Any] | None = print  # None: no per-epoch log lines (lr_find, other ranks)
        self.training, self.epoch, self.n_epoch, self.iter, self.n_iter = False, 0, 1, 0, 0
        self.pct_train, self.train_iter, self.start_epoch = 0.0, 0, 0
        self.loss = self.smooth_loss = torch.tensor(float("nan"))
        self.xb, self.yb, self.pred = (), (), None
        self.cbs: list[Callback] = []
        self._table: dict[str, list[tuple[Callback, Callable[[], Any]]]] = {}
        self._quiet_backward = self._quiet_step = True
        if default_cbs:
            self.add_cbs([cb() for cb in self.default_callbacks])
        self.add_cbs(listify(cbs))

    # ---- the loop --------------------------------------------------------------------------------
    def _with_events(self, body: Callable[[], None], bracket: Bracket) -> None:
        # Events without callbacks are skipped without a call: this runs three times per batch
        # (tools/bench/loop_overhead.py measures it).
        before, cancelled, after, exc = bracket
        table = self._table
        try:
            if table[before]:
                self(before)
            body()
        except exc:
            self(cancelled)
        if table[after]:
            self(after)

    def require_opt(self) -> OptimizerProtocol:
        """`opt`, typed without None: raises a clear error when no optimizer was created yet (before the first fit,
        `create_opt` or `freeze`). Callbacks read it during a fit, when it always exists."""
        opt = self.opt
        if opt is None:
            raise RuntimeError(
                "this Learner has no optimizer yet: it is created by the first `fit` (or `create_opt()`, `freeze()`)"
            )
        return opt

    def create_opt(self) -> None:
        """Build the optimizer over the splitter's parameter groups."""
        groups = [list(g) for g in self.splitter(self.model)]
        lr = self.lr.stop if isinstance(self.lr, slice) else self.lr
        self.opt = opt = self.opt_func(groups, lr=lr)
        if isinstance(self.lr, slice):
            opt.set_hyper("lr", self.lr)
        if self.wd is not None:
            opt.set_hyper("wd", self.wd)
        if not self.wd_bn_bias and not any(isinstance(c, NoBnBiasDecay) for c in self.cbs):
            self.add_cb(NoBnBiasDecay())

    def fit(
        self,
        n_epoch: int,
        lr: float | slice | None = None,
        wd: float | None = None,
        cbs: Callback | Sequence[Callback] | None = None,
        reset_opt: bool = False,
        start_epoch: int = 0,
    ) -> None:
        """Train for `n_epoch` epochs; `cbs` live for this call only; `start_epoch` skips epochs (resume)."""
        if n_epoch < 1:
            raise ValueError(f"fit needs n_epoch >= 1, got {n_epoch}")
        cbs = [c() if isinstance(c, type) else c for c in listify(cbs)]
        for c in cbs:  # checked before anything reads them (a name string would fail obscurely below)
            if not isinstance(c, Callback):
                raise TypeError(f"fit's cbs must be Callbacks (instances or classes), got {type(c).__name__} {c!r}")
        if start_epoch:
            cbs.append(SkipToEpoch(start_epoch))
        every = [*self.cbs, *cbs]
        if any(c.needs_step_clock for c in every) and not any(isinstance(c, StepClock) for c in every):
            cbs.append(StepClock())  # for this fit only: schedules follow optimizer steps (accumulation, fp16 skips)
        with self.added_cbs(cbs):
            if reset_opt or self.opt is None:
                self.create_opt()
            if wd is not None:
                self.require_opt().set_hyper("wd", wd)
            if lr is not None:
                self.require_opt().set_hyper("lr", lr)
            self.n_epoch, self.start_epoch, self.epoch = n_epoch, start_epoch, 0
            self._check_train_data()
            self._prepare_batches()
            check_conflicts(self.cbs)  # once, before any callback runs: the rules are on the callback classes
            logger = self.logger
            try:
                self._with_events(self._do_fit, _FIT)
            finally:  # an error inside fit skips after_fit: still give the logger back (ProgressCallback swaps it)
                self.logger, self.training = logger, False

    def _prepare_batches(self, *loaders: Any) -> None:
        # read once per fit or inference pass, not per batch: where batches go and how they split
        self._device, self._n_inp = model_device(self.model), n_inp_of(self.dls)
        self._on_cpu = self._device.type == "cpu"
        # The data go where the model is before the first batch (the data protocol's `to`), so the loader's
        # batch transforms (`after_batch`, the GPU augmentation) run there, not on the CPU before the move
        # (ARCHITECTURE decision 5; test_data_goes_to_the_model_device_before_the_first_batch).
        for data in (self.dls, *loaders):
            _send_to(data, self._device)

    def _check_train_data(self) -> None:
        train = self.dls.train
        try:
            n = len(train) if isinstance(train, Sized) else None
        except TypeError:
            n = None
        if n == 0:  # None: an iterable without len, whose emptiness is caught while iterating
            raise ValueError(
                "the training data is empty: dls.train yields no batches (dataset smaller than bs with drop_last?)"
            )

    def _do_fit(self) -> None:
        for epoch in range(self.n_epoch):
            self.epoch = epoch
            self._with_events(self._do_epoch, _EPOCH)

    def _do_epoch(self) -> None:
        self.dl = self.dls.train
        self._with_events(self._all_batches, _TRAIN)
        self.dl = self.dls.valid
        with torch.no_grad():
            self._with_events(self._all_batches, _VALID)

    def _all_batches(self) -> None:
        dl = self.dl
        try:
            self.n_iter = len(dl) if isinstance(dl, Sized) else 0
        except TypeError:
            self.n_iter = 0
        i = -1
        for i, b in enumerate(dl):
            self._one_batch(i, b)
        if i < 0 and self.training:
            raise ValueError("the training data is empty: dls.train yielded no batches")

    def _split(self, b: Any) -> None:
        if type(b) is not tuple and type(b) is not list:
            b = tuple(b) if isinstance(b, (tuple, list)) else (b,)
        # fast path: plain tensors already where the model is (a DataLoader on that device); `is_cpu` is a flag
        # read, `device != dev` builds a device object per tensor
        if self._on_cpu:
            for o in b:
                if type(o) is not Tensor or not o.is_cpu:
                    b = to_device(b, self._device)
                    break
        else:
            dev = self._device
            for o in b:
                if type(o) is not Tensor or o.device != dev:
                    b = to_device(b, dev)
                    break
        n_inp = self._n_inp
        self.xb, self.yb = tuple(b[:n_inp]), tuple(b[n_inp:])

    def _one_batch(self, i: int, b: Any) -> None:
        # `_with_events(self._do_one_batch, _BATCH)` written out: this runs every batch
        self.iter = i
        self._split(b)
        table = self._table
        try:
            if table[_BEFORE_BATCH]:
                self(_BEFORE_BATCH)
            self._do_one_batch()
        except _CancelBatch:
            self(_CANCELLED_BATCH)
        if table[_AFTER_BATCH]:
            self(_AFTER_BATCH)

    def _do_one_batch(self) -> None:
        table = self._table
        self.pred = self.model(*_plain(self.xb))
        if table["after_pred"]:
            self("after_pred")
        if not self.yb:
            return
        try:
            self.loss_grad = self.loss_func(self.pred, *_plain(self.yb))
        except (RuntimeError, ValueError, IndexError) as e:
            raise _loss_error(self.loss_func, self.pred, self.yb, e) from e
        self.loss = self.loss_grad.detach()
        if table["after_loss"]:
            self("after_loss")
        if not self.training:
            return
        # brackets without callbacks (see CallbackHost._rebuild) run their body directly, still honouring a
        # Cancel*Exception raised inside it (a backward hook, an optimizer)
        if self._quiet_backward:
            try:
                self.loss_grad.backward()
            except _CancelBackward:
                pass
        else:
            self._with_events(self._backward, _BACKWARD)
        if self._quiet_step:
            try:
                self.require_opt().step()
            except _CancelStep:
                pass
        else:
            self._with_events(self._step, _STEP)
        self.require_opt().zero_grad()

    def _backward(self) -> None:
        self.loss_grad.backward()

    def _step(self) -> None:
        self.require_opt().step()

    # ---- parameter groups ---------------------------------------------------------------------------
    def freeze_to(self, n: int) -> None:
        """Train only the parameter groups from `n` on (batch-norm stays trainable if `train_bn`)."""
        if self.opt is None:
            self.create_opt()
        self.require_opt().freeze_to(n, keep=norm_params(self.model) if self.train_bn else ())

    def freeze(self) -> None:
        """Train only the last parameter group (the head)."""
        self.freeze_to(-1)

    def unfreeze(self) -> None:
        """Train every parameter group."""
        self.freeze_to(0)


def _plain(b: tuple[Any, ...]) -> tuple[Any, ...]:
    for o in b:
        if type(o) is not Tensor:
            return to_plain(b)
    return b


def _loss_error(loss_func: Any, pred: Any, yb: tuple[Any, ...], e: Exception) -> ValueError:
    shapes = ", ".join(str(tuple(y.shape)) if isinstance(y, Tensor) else type(y).__name__ for y in yb)
    pshape = tuple(pred.shape) if isinstance(pred, Tensor) else type(pred).__name__
    name = getattr(loss_func, "__name__", type(loss_func).__name__)
    return ValueError(f"loss {name} cannot combine model output of shape {pshape} with target(s) {shapes}: {e}")


def _loss_from_data(dls: Any) -> Callable[..., Tensor]:
    """The loss the data ask for: `dls.loss_func` (or `dls.train.loss_func`) as in fastai, else the loss for
    `dls.loss_kind` (`loss_from_kind`: what datablock's target block declares)."""
    loss_func = getattr(dls, "loss_func", None) or getattr(getattr(dls, "train", None), "loss_func", None)
    if loss_func is not None:
        return loss_func
    loss_kind = getattr(dls, "loss_kind", None)
    if loss_kind is not None:
        return loss_from_kind(loss_kind)
    raise ValueError(
        "Learner needs a loss_func: pass one, or use data that declare it (`dls.loss_kind`, which datablock's "
        "target blocks set, or a `dls.loss_func` attribute)"
    )


def _send_to(data: Any, device: torch.device) -> None:
    """`data.to(device)` when `data` has the protocol's `to` and is not there yet (`device` None means the CPU)."""
    if not isinstance(data, MovesToDevice):
        return  # plain torch DataLoaders: the loop moves each batch
    if isinstance(data, HasDevice) and _same_device(data.device, device):
        return
    data.to(device)


def _same_device(current: Any, device: torch.device) -> bool:
    if current is None:
        return device.type == "cpu"
    current = torch.device(current)
    if current.type != device.type:
        return False
    return current.index is None or device.index is None or current.index == device.index


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); the CPU for a model without either."""
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


def default_loop_picture() -> str:
    """The loop with the callbacks every learner has (`TrainLoop.default_callbacks`, and `NoBnBiasDecay`, which
    `create_opt` adds unless `wd_bn_bias=True`) at the events where they act: the picture in the README
    (`tests/test_events.py::test_readme_shows_the_loop_picture` keeps the two equal)."""
    cbs = sort_by_run([cb() for cb in (*TrainLoop.default_callbacks, NoBnBiasDecay)])
    return render_loop(lambda event: [type(c).__name__ for c in cbs if callable(getattr(c, event, None))])
