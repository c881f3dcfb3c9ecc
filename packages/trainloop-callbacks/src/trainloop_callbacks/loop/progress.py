"""`ProgressCallback`: fastprogress bars when installed (the `progress` extra), else a plain-text epoch table.

fastprogress 1.1 pulls about 25 web packages (fasthtml, starlette, uvicorn), so it is an optional extra:
`pip install "trainloop-callbacks[progress]"` (the `tiers` meta-package installs it). Without it, training
prints the same epoch table as plain text, one line per epoch, with no dependency.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Sized
from typing import Any, TextIO

from trainloop_callbacks.loop.callback import Callback

__all__ = ["PROGRESS_STYLES", "ProgressCallback", "TextTable", "fastprogress_available"]

PROGRESS_STYLES = ("auto", "fastprogress", "text")


def fastprogress_available() -> bool:
    """Whether fastprogress (the `progress` extra) is installed: `ProgressCallback`'s default then draws bars."""
    return importlib.util.find_spec("fastprogress") is not None


class TextTable:
    """The epoch log as plain text: a header line, then one aligned line per epoch (as fastprogress's console table).

    `write(cells, table=True)` writes a row (the first call is the header); `write(text)` writes a line as is.
    """

    def __init__(self, out: Callable[[str], Any] = print) -> None:
        self.out = out
        self.widths: list[int] | None = None

    def write(self, line: Any, table: bool = False) -> None:
        if not table:
            self.out(str(line))
            return
        cells = [str(c) for c in line]
        if self.widths is None:  # the header fixes the columns: at least 8 wide, two spaces apart
            self.widths = [max(8, len(c)) for c in cells]
        widths = self.widths
        self.out("  ".join(c.ljust(widths[i] if i < len(widths) else 0) for i, c in enumerate(cells)).rstrip())


class _TextBar:
    """A one-line batch counter for the text style, redrawn in place; only on an interactive terminal."""

    every = 0.2  # seconds between redraws

    def __init__(self, stream: TextIO, prefix: str, total: int | None) -> None:
        self.stream, self.prefix, self.total = stream, prefix, total
        self.last_t, self.width = 0.0, 0

    def update(self, done: int, comment: Callable[[], str] | None = None) -> None:
        """Redraw with `done` batches (at most every 0.2 s and at the end); `comment()` only when redrawing."""
        now = time.monotonic()
        if now - self.last_t < self.every and done != self.total:
            return
        self.last_t = now
        note = comment() if comment is not None else ""
        line = f"{self.prefix} {done}/{self.total if self.total else '?'}" + (f" {note}" if note else "")
        self.width = max(self.width, len(line))
        self.stream.write("\r" + line.ljust(self.width))
        self.stream.flush()

    def close(self) -> None:
        if self.width:
            self.stream.write("\r" + " " * self.width + "\r")
            self.stream.flush()


class ProgressCallback(Callback):
    """Progress of a fit: a master bar over epochs and a child bar over batches, plus the epoch log table.

    `style="auto"` (default) draws fastprogress bars (terminal or notebook) when fastprogress is installed
    and the plain-text table otherwise; `"fastprogress"` requires it; `"text"` always writes plain text
    (a header, one line per epoch, and on an interactive terminal a batch counter redrawn in place).
    On by default; `with learn.no_bar():` trains without it. A resumed fit (`start_epoch=k`) counts the
    epochs it runs.
    """

    order = 60
    unique = True  # one per learner: another instance replaces it
    mbar: Any = None
    _pbar: Any = None
    _fp: tuple[Any, Any] | None = None

    def __init__(self, style: str = "auto", stream: TextIO | None = None) -> None:
        if style not in PROGRESS_STYLES:
            raise ValueError(f"ProgressCallback: style must be one of {PROGRESS_STYLES}, got {style!r}")
        self.style = style
        self.stream = stream  # where the text style writes (None: sys.stdout at fit time)

    def _bars(self) -> tuple[Any, Any] | None:
        """fastprogress's (master_bar, progress_bar) for this fit, or None for the text style."""
        if self.style == "text" or (self.style == "auto" and not fastprogress_available()):
            return None
        try:
            from fastprogress.fastprogress import master_bar, progress_bar
        except ImportError as e:
            raise ImportError(
                "ProgressCallback(style='fastprogress') needs fastprogress: "
                "pip install 'trainloop-callbacks[progress]' (or use style='text')"
            ) from e
        return master_bar, progress_bar

    def _out(self) -> TextIO:
        return self.stream if self.stream is not None else sys.stdout

    def before_fit(self) -> None:
        learn = self.learn
        self._fp = self._bars()
        if self._fp is None:
            self.mbar = TextTable(lambda line: print(line, file=self._out(), flush=True))
        else:
            # the bar counts the epochs this fit runs: a resumed fit (`start_epoch=k`) runs n_epoch - k of them
            self.mbar = self._fp[0](range(learn.start_epoch, learn.n_epoch))
            self.mbar.update(0)  # starts the clock (and the display) even when the first epoch run is not epoch 0
        self._old_logger = learn.logger
        learn.logger = self._write
        self._pbar = None

    def _write(self, line: Any) -> None:
        self.mbar.write(line, table=isinstance(line, list))

    def before_epoch(self) -> None:
        done = self.learn.epoch - self.learn.start_epoch
        if done >= 0 and self._fp is not None:  # epochs before start_epoch are skipped (resume): not on this bar
            self.mbar.update(done)

    def before_train(self) -> None:
        self._launch()

    def before_validate(self) -> None:
        self._launch()

    def _launch(self) -> None:
        dl = self.learn.dl
        try:
            total: int | None = len(dl) if isinstance(dl, Sized) else None
        except TypeError:
            total = None
        fp = self._fp if self.mbar is not None else self._bars()
        if fp is None:
            out = self._out()
            if not getattr(out, "isatty", lambda: False)():
                self._pbar = None  # logs and pipes get the epoch lines only
                return
            learn = self.learn
            phase = "train" if learn.training else "valid"
            where = f"epoch {learn.epoch + 1}/{learn.n_epoch} " if self.mbar is not None else ""
            self._pbar = _TextBar(out, f"{where}{phase}", total)
            return
        # outside fit (validate, get_preds) there is no master bar: a bar of its own
        self._pbar = fp[1](range(total or 0), parent=self.mbar, leave=False, total=total)
        self._pbar.update(0)

    def after_batch(self) -> None:
        pbar = self._pbar
        if pbar is None:
            return
        learn = self.learn
        val = learn.iter + 1
        if isinstance(pbar, _TextBar):
            loss = learn.smooth_loss if learn.training else None
            pbar.update(val, None if loss is None else lambda: f"{float(loss):.4f}")
            return
        pbar.update(val)
        # fastprogress redraws only every ~0.2 s; read the loss (a device sync) only when it just did.
        if learn.training and pbar.last_v == val and learn.smooth_loss is not None:
            pbar.comment = f"{float(learn.smooth_loss):.4f}"

    def after_train(self) -> None:
        self._finish()

    def after_validate(self) -> None:
        self._finish()

    def _finish(self) -> None:
        if isinstance(self._pbar, _TextBar):
            self._pbar.close()
        elif self._pbar is not None:
            self._pbar.on_iter_end()
        self._pbar = None

    def after_fit(self) -> None:
        if self._fp is not None:
            self.mbar.on_iter_end()
        self.mbar = None
        self.learn.logger = self._old_logger
