"""`TensorBoardCallback`: the run in TensorBoard event files, through torch's `SummaryWriter`."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from trainloop_callbacks.trackers._base import ExperimentTracker, missing_extra

__all__ = ["TensorBoardCallback"]


def summary_writer_class() -> type:
    """torch's `SummaryWriter`, or an error naming the extra to install (torch's writer needs tensorboard)."""
    try:
        import tensorboard  # noqa: F401 - torch.utils.tensorboard needs it; fail here with the extra's name
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:
        raise missing_extra("TensorBoardCallback", "tensorboard", "tensorboard") from e
    return SummaryWriter


class TensorBoardCallback(ExperimentTracker):
    """Logs the run to TensorBoard event files in `log_dir` (relative to `learn.path`; default `runs/<time>_<host>`,
    as torch's `SummaryWriter`).

    Scalars: `train_loss` (smoothed), `lr_<i>` and `mom_<i>` of every parameter group at each optimizer step;
    `valid_loss`, each metric and `epoch` at the step each epoch ends. `trace_model` adds the model's graph (traced
    on the first validation batch, once); `log_preds` adds a picture of `n_preds` predictions each epoch (the data's
    `show_results`). Later fits with the same callback, and resumed ones, continue in the same folder and step
    numbering. Needs the `tensorboard` extra: `pip install "trainloop-callbacks[tensorboard]"`.
    """

    def __init__(
        self, log_dir: str | Path | None = None, trace_model: bool = False, log_preds: bool = False, n_preds: int = 9
    ) -> None:
        summary_writer_class()  # a missing extra fails here, not at the first fit
        super().__init__(log_preds=log_preds, n_preds=n_preds)
        self.log_dir = None if log_dir is None else Path(log_dir)
        self.trace_model = trace_model
        self.writer: Any = None
        self._traced = False

    def _open(self) -> None:
        self._close()  # a writer left open by a fit that ended in an error
        writer_cls = summary_writer_class()
        log_dir = self.log_dir
        if log_dir is not None and not log_dir.is_absolute():
            log_dir = self.learn.path / log_dir
        self.writer = writer_cls(log_dir=None if log_dir is None else str(log_dir))
        self.log_dir = Path(self.writer.log_dir)  # the default folder is chosen once: later fits continue there
        if self.trace_model and not self._traced:
            self._traced = True
            self._guard("trace the model graph", self._add_graph)

    def _add_graph(self) -> None:
        learn = self.learn
        b = next(iter(learn.dls.valid))  # the validation loader: no shuffling, so training's RNG is untouched
        b = tuple(b) if isinstance(b, (tuple, list)) else (b,)
        model = getattr(learn.model, "module", learn.model)  # the model inside a DistributedDataParallel
        device = next(model.parameters()).device
        xb = tuple(x.as_subclass(Tensor).to(device) for x in b[: getattr(learn.dls, "n_inp", 1)])
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")  # tracing's notice
                self.writer.add_graph(model, xb)
        finally:
            model.train(was_training)

    def _write_steps(self, rows: list[tuple[int, dict[str, float]]]) -> None:
        add = self.writer.add_scalar
        for step, row in rows:
            for name, value in row.items():
                add(name, value, step)

    def _write_epoch(self, step: int, values: dict[str, float]) -> None:
        for name, value in values.items():
            if name != "train_loss":  # logged per step already, under the same tag
                self.writer.add_scalar(name, value, step)
        self.writer.flush()

    def _write_image(self, step: int, epoch: int, image: Any) -> None:
        del epoch
        import numpy as np  # a dependency of tensorboard

        self.writer.add_image("predictions", np.asarray(image, dtype=np.uint8), step, dataformats="HWC")
        self.writer.flush()

    def _close(self) -> None:
        writer, self.writer = self.writer, None
        if writer is not None:
            writer.close()
