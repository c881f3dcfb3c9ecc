"""`ProgressCallback`: fastprogress bars, one per epoch over the batches, and the epoch table."""

from __future__ import annotations

from typing import Any

from fastprogress.fastprogress import master_bar, progress_bar

from trainloop_callbacks.callback import Callback

__all__ = ["ProgressCallback"]


class ProgressCallback(Callback):
    """A master bar over epochs and a child bar over batches (terminal or notebook), plus the epoch log table.

    On by default; `with learn.no_bar():` trains without it.
    """

    order = 60
    unique = True  # one per learner: another instance replaces it
    mbar: Any = None
    _pbar: Any = None

    def before_fit(self) -> None:
        learn = self.learn
        self.mbar = master_bar(range(learn.n_epoch))
        self.mbar.on_iter_begin()
        self._old_logger = learn.logger
        learn.logger = self._write
        self._pbar: Any = None

    def _write(self, line: Any) -> None:
        self.mbar.write(line, table=isinstance(line, list))

    def before_epoch(self) -> None:
        self.mbar.update(self.learn.epoch)

    def before_train(self) -> None:
        self._launch()

    def before_validate(self) -> None:
        self._launch()

    def _launch(self) -> None:
        dl = self.learn.dl
        try:
            total = len(dl)
        except TypeError:
            total = None
        # outside fit (validate, get_preds) there is no master bar: a bar of its own
        self._pbar = progress_bar(range(total or 0), parent=self.mbar, leave=False, total=total)
        self._pbar.update(0)

    def after_batch(self) -> None:
        if self._pbar is not None:
            val = self.learn.iter + 1
            self._pbar.update(val)
            # fastprogress redraws only every ~0.2 s; read the loss (a device sync) only when it just did.
            if self.learn.training and self._pbar.last_v == val and self.learn.smooth_loss is not None:
                self._pbar.comment = f"{float(self.learn.smooth_loss):.4f}"

    def after_train(self) -> None:
        self._finish()

    def after_validate(self) -> None:
        self._finish()

    def _finish(self) -> None:
        if self._pbar is not None:
            self._pbar.on_iter_end()
            self._pbar = None

    def after_fit(self) -> None:
        self.mbar.on_iter_end()
        self.mbar = None
        self.learn.logger = self._old_logger
