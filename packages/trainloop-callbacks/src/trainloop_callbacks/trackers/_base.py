"""What the experiment-tracker callbacks share: when they log, what, at which step, and how failures are kept out
of training.

- Rank 0 only: `rank0_only = True` (switched off on other ranks by `DistributedTrainer`) and a rank check of its
  own, for a process group set up another way.
- Nothing during `lr_find` (its trial fit is not part of the run) or `get_preds`/`validate` (they are not fits).
- Steps are optimizer steps: a batch whose step was skipped (gradient accumulation, an fp16 overflow) logs nothing
  and does not advance the step. The count continues over the fits of one callback (`fine_tune`'s two phases) and
  over resumes: `fit(start_epoch=k)` starts at the step the checkpoint holds (the tracker's `state_dict`, when it
  was attached to the learner) or at the steps of the Recorder's loaded history.
- A failure of the tracker (full disk, closed writer, lost run) warns once and never stops training.
"""

from __future__ import annotations

import abc
import math
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from torch import Tensor

from trainloop_callbacks.batches import retype_like
from trainloop_callbacks.callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.distributed import rank_distrib
from trainloop_callbacks.inference.export import ExportError
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.recorder import read_hyper
from trainloop_callbacks.schedule.lr_finder import LRFinder

__all__ = ["ExperimentTracker", "missing_extra", "run_params"]

Row = dict[str, Any]


def missing_extra(who: str, package: str, extra: str) -> ImportError:
    """The error for an optional tracker package that is not installed, with the command that installs it."""
    return ImportError(
        f'{who} needs {package}, an optional extra of trainloop-callbacks: pip install "trainloop-callbacks[{extra}]"'
    )


def _name_of(obj: Any) -> str:
    return getattr(obj, "__name__", None) or type(obj).__name__


def _n_items(dl: Any) -> int | None:
    n = getattr(dl, "n_items", None)
    if isinstance(n, int):
        return n
    try:
        return len(dl.dataset)
    except (AttributeError, TypeError):
        return None


def _n_batches(dl: Any) -> int | None:
    try:
        return len(dl)
    except TypeError:
        return None


def batch_size(dl: Any) -> int | None:
    """The loader's batch size: datablock's `bs` or torch's `batch_size` (None when it has neither)."""
    bs = getattr(dl, "bs", None)
    return bs if isinstance(bs, int) else getattr(dl, "batch_size", None)


def _plain_value(v: Any) -> str | int | float | bool:
    if isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, Tensor) and v.numel() == 1:
        return v.item()
    return str(v)


def run_params(learn: Any) -> dict[str, str | int | float | bool]:
    """What describes a training run, as flat plain values: the Learner's hyper-parameters, the data's batch size
    and sizes, and the optimizer's recipe (its steps and each parameter group's hyper-parameters)."""
    model = learn.model
    params: dict[str, Any] = {
        "model": type(getattr(model, "module", model)).__name__,
        "n_params": sum(p.numel() for p in model.parameters()),
        "loss_func": _name_of(learn.loss_func),
        "opt_func": _name_of(learn.opt_func),
        "lr": learn.lr,
        "wd": learn.wd,
        "wd_bn_bias": learn.wd_bn_bias,
        "train_bn": learn.train_bn,
        "moms": learn.moms,
        "metrics": ",".join(m.name for m in learn.metrics),
        "n_inp": getattr(learn.dls, "n_inp", 1),
        "bs": batch_size(learn.dls.train),
    }
    for split in ("train", "valid"):
        dl = getattr(learn.dls, split)
        params[f"n_{split}"] = _n_items(dl)
        params[f"n_{split}_batches"] = _n_batches(dl)
    opt = learn.opt
    if opt is not None:
        params["opt"] = type(opt).__name__
        steps = getattr(opt, "steps", None)  # pluggable-optim: the recipe is the list of its steps
        if steps is not None:
            params["opt.steps"] = ",".join(_name_of(getattr(s, "func", s)) for s in steps)
        hypers = getattr(opt, "hypers", None)
        if hypers is None:  # a torch optimizer: its groups' settings
            hypers = [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
        for i, group in enumerate(hypers):
            for k, v in group.items():
                params[f"opt.group{i}.{k}"] = v
    return {k: _plain_value(v) for k, v in params.items() if v is not None}


def _float(v: Any) -> float:
    return float(v.item()) if isinstance(v, Tensor) else float(v)


def _to_cpu(x: Any) -> Any:
    if isinstance(x, Tensor):
        x = x.detach().cpu()
        return x.float() if x.is_floating_point() else x
    if isinstance(x, (tuple, list)):
        return type(x)(_to_cpu(o) for o in x)
    return x


class ExperimentTracker(Callback, abc.ABC):
    """Base of `TensorBoardCallback`, `MLflowCallback` and `WandbCallback`: decides when and what to log.

    Per optimizer step: `train_loss` (the Recorder's smoothed loss) and `lr_<i>`, `mom_<i>` of every parameter
    group `i`; per epoch: the Recorder's row (`train_loss`, `valid_loss`, metrics) and `epoch`, at the step the
    epoch ended; with `log_preds`, a picture of the first validation batch's predictions (the data's
    `show_results` rendered to an image; data without that hook are skipped with a one-time note); with
    `log_model`, the safe export of the learner at the end of each fit.

    Subclasses write to their tracker in `_open`, `_write_steps`, `_write_epoch`, `_write_image`,
    `_write_model` and `_close`; every call goes through `_guard`, so a failing tracker warns once
    (`n_failures` counts them) and training goes on. `state_dict()` holds the step count and the subclass's
    run identity, so a checkpoint with the tracker attached resumes the same run at the same step.
    """

    order = 65  # after the Recorder (50): its smoothed loss and epoch row are ready; after the trackers (60, 61)
    run_after = ("Recorder",)
    rank0_only = True  # DistributedTrainer switches it off on the other ranks
    per_step = True  # whether `_write_steps` gets per-step rows (False: per-epoch logging only)
    hypers = ("lr", "mom")
    flush_every = 100  # steps buffered before they are written (values stay tensors until then: no device sync)

    def __init__(self, log_preds: bool = False, n_preds: int = 9, log_model: bool = False) -> None:
        if n_preds < 1:
            raise ValueError(f"{type(self).__name__}: n_preds (items pictured) must be >= 1, got {n_preds}")
        self.log_preds, self.n_preds, self.log_model = log_preds, n_preds, log_model
        self.step = 0  # optimizer steps of this run so far
        self.epochs = 0  # epochs of this run so far
        self.n_failures = 0
        self._step_base = 0  # step at the start of the latest fit that began at epoch 0
        self._epoch_base = 0  # epochs of this run before that fit
        self._loaded = False
        self._active = False
        self._warned = False
        self._notes: set[str] = set()
        self._pending: list[tuple[int, Row]] = []
        self._stepped = self._skipped = self._capture = False
        self._preds_batch: tuple[Any, Any, Any] | None = None

    # ---- the subclass's side -----------------------------------------------------------------------
    @abc.abstractmethod
    def _open(self) -> None:
        """Start (or continue) the run for this fit."""

    @abc.abstractmethod
    def _write_steps(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        """Write per-step rows `(step, {name: value})`."""

    @abc.abstractmethod
    def _write_epoch(self, step: int, values: dict[str, float]) -> None:
        """Write one epoch's values (`epoch` among them) at `step`."""

    def _write_image(self, step: int, epoch: int, image: Any) -> None:  # noqa: ARG002 - optional hook
        """Write the picture of predictions (a PIL image) of `epoch`."""
        self.note("images", f"{type(self).__name__} does not log pictures of predictions")

    def _write_model(self, path: Any) -> None:  # noqa: ARG002 - optional hook
        """Store the exported learner at `path` with the run."""
        self.note("model", f"{type(self).__name__} does not store models")

    def _close(self) -> None:
        """End this fit's part of the run (flush and close what `_open` opened)."""

    def _run_state(self) -> dict[str, Any]:
        """The run's identity to checkpoint (a run id), so a resumed fit continues that run."""
        return {}

    def _load_run_state(self, state: dict[str, Any]) -> None:
        del state

    # ---- failures and notes ---------------------------------------------------------------------------
    def _guard(self, what: str, fn: Callable[..., Any], *args: Any) -> bool:
        """Run a tracker call; a failure warns once per callback and never reaches the training loop."""
        try:
            fn(*args)
        except Exception as e:  # noqa: BLE001 - a tracker's failure (disk full, closed writer) must not stop training
            self.n_failures += 1
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"{type(self).__name__} could not {what} ({type(e).__name__}: {e}); training goes on, "
                    "and later failures of this tracker are not reported",
                    RuntimeWarning,
                    stacklevel=2,
                )
            return False
        return True

    def note(self, key: str, message: str) -> None:
        """A one-time note (a `UserWarning`, once per callback and `key`)."""
        if key not in self._notes:
            self._notes.add(key)
            warnings.warn(message, UserWarning, stacklevel=2)

    # ---- the loop ---------------------------------------------------------------------------------------
    def before_fit(self) -> None:
        learn = self.learn
        self._active = False
        if rank_distrib() != 0 or any(isinstance(cb, LRFinder) for cb in learn.cbs):
            return  # rank 0 logs for all; lr_find's trial fit is not part of the run
        rec = getattr(learn, "recorder", None)
        if rec is None:
            raise ValueError(
                f"{type(self).__name__} logs what the Recorder records: keep the default callbacks "
                "(Learner(default_cbs=True)) or add a Recorder"
            )
        if learn.start_epoch == 0:  # a new fit continues the run: fine_tune's second phase, another fit
            self._step_base, self._epoch_base = self.step, self.epochs
        elif not self._loaded:  # a resume without the tracker's checkpointed state: count from the Recorder
            self.step = self._step_base + self._steps_before(learn)
        self._loaded = False
        self._n_logged = len(rec.values)  # a resumed fit keeps the checkpoint's rows: they were logged then
        self._stepped = self._skipped = self._capture = False
        self._preds_batch = None
        self._pending = []
        self._active = self._guard("start the run", self._open)

    def _steps_before(self, learn: Any) -> int:
        """Optimizer steps of the epochs a resumed fit skips, from the Recorder's loaded history (one smoothed loss
        per training batch). With gradient accumulation it is an estimate (batches per step from the batch size);
        attach the tracker to the learner so its checkpointed state gives the exact step."""
        n_batches = len(learn.recorder.losses)
        acc = next((cb for cb in learn.cbs if isinstance(cb, GradientAccumulation)), None)
        bs = batch_size(learn.dls.train)
        if acc is None or not bs:
            return n_batches
        return n_batches // max(1, math.ceil(acc.n_acc / bs))

    def after_cancel_step(self) -> None:
        self._skipped = True  # an fp16 step skipped on overflow: after_step still follows

    def after_step(self) -> None:
        self._stepped = not self._skipped

    def after_batch(self) -> None:
        if not self._active:
            return
        learn = self.learn
        if learn.training:
            if self._stepped:
                self.step += 1
                if self.per_step:
                    self._pending.append((self.step, self._step_row(learn)))
                    if len(self._pending) >= self.flush_every:
                        self._flush()
            self._stepped = self._skipped = False
        elif self._capture and self._preds_batch is None:
            self._preds_batch = (_to_cpu(learn.xb), _to_cpu(learn.yb), _to_cpu(learn.pred))

    def _step_row(self, learn: Any) -> Row:
        row: Row = {"train_loss": learn.smooth_loss}
        opt = learn.opt
        for i in range(len(opt.param_groups)):
            for h in self.hypers:
                v = read_hyper(opt, h, i)
                if v is not None:
                    row[f"{h}_{i}"] = v
        return row

    def after_train(self) -> None:
        if self._active:
            # counted here, so a checkpoint written in this epoch's after_epoch (SaveModelCallback) includes it
            self.epochs = self._epoch_base + self.learn.epoch + 1
            self._flush()
            self._capture = self.log_preds  # the validation phase that follows: picture its first batch

    def after_validate(self) -> None:
        self._capture = False  # a get_preds run later in this fit is not the validation phase

    def after_epoch(self) -> None:
        if self._active:
            self._log_epochs()

    def after_fit(self) -> None:
        if not self._active:
            return
        self._log_epochs()  # a fit cancelled in after_epoch (early stopping) skipped this callback's after_epoch
        if self.log_model:
            self._guard("store the exported model", self._export)
        self._guard("close the run", self._close)
        self._active = False

    # ---- writing ----------------------------------------------------------------------------------------
    def _flush(self) -> None:
        rows, self._pending = self._pending, []
        if self.per_step and rows:
            plain = [(step, {k: _float(v) for k, v in row.items()}) for step, row in rows]
            self._guard("log the training steps", self._write_steps, plain)

    def _log_epochs(self) -> None:
        self._flush()
        rec = self.learn.recorder
        names = rec.metric_names[1:]
        new = rec.values[self._n_logged :]
        self._n_logged = len(rec.values)
        for j, row in enumerate(new):
            values: dict[str, float] = {n: _float(v) for n, v in zip(names, row, strict=False) if v is not None}
            epoch = self._epoch_base + self.learn.epoch - (len(new) - 1 - j)
            values["epoch"] = epoch
            self.epochs = epoch + 1
            self._guard("log the epoch", self._write_epoch, self.step, values)
        if new and self._preds_batch is not None:
            self._guard("picture the predictions", self._log_preds_image)
        self._preds_batch = None

    def _log_preds_image(self) -> None:
        learn = self.learn
        show = getattr(learn.dls, "show_results", None)
        if not callable(show):
            self.note(
                "show_results",
                f"{type(self).__name__}(log_preds=True): the data have no `show_results` hook (data protocol), "
                "so no pictures of predictions are logged",
            )
            return
        if self._preds_batch is None:  # kept by after_batch when log_preds is on
            return
        xb, yb, pred = self._preds_batch
        loss_func = learn.loss_func
        act = getattr(loss_func, "activation", None) or (lambda x: x)
        decodes = getattr(loss_func, "decodes", None) or (lambda x: x)
        targs = yb[0] if len(yb) == 1 else yb
        dec = retype_like(decodes(act(pred)), targs)  # as Learner.show_results decodes them
        image = show((*xb, targs), dec, max_n=self.n_preds)
        from PIL import Image  # only here: importing pillow costs trainloop_callbacks' import a quarter second

        if not isinstance(image, Image.Image):
            self.note(
                "not_an_image",
                f"{type(self).__name__}(log_preds=True): the data's show_results gives a {type(image).__name__}, "
                "not an image, so no pictures of predictions are logged",
            )
            return
        self._write_image(self.step, self._epoch_base + learn.epoch, image.convert("RGB"))

    def _export(self) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = self.learn.export(Path(tmp) / "export.pth")
            except ExportError as e:  # the learner, not the tracker: a note, not the tracker's one failure warning
                self.note(
                    "export",
                    f"{type(self).__name__}(log_model=True): this learner cannot be exported safely ({e}); "
                    "no model is stored (log_model=False silences this)",
                )
                return
            self._write_model(path)

    # ---- checkpoints --------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"step": self.step, "epochs": self.epochs, "step_base": self._step_base, "epoch_base": self._epoch_base}
        return {**state, **self._run_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.step, self.epochs = int(state["step"]), int(state["epochs"])
        self._step_base, self._epoch_base = int(state["step_base"]), int(state["epoch_base"])
        self._load_run_state(state)
        self._loaded = True
