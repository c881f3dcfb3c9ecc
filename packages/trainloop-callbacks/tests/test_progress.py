"""ProgressCallback: fastprogress bars when the `progress` extra is installed, a plain-text epoch table otherwise.

The isolated environment of trainloop-callbacks (tools/isolated.py) lacks fastprogress, so the default
style is the text one there; the workspace environment has it, so the bars are exercised there too.
"""

import importlib.util
import io
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import Adam
from trainloop_callbacks import Callback, Learner, ProgressCallback
from trainloop_callbacks.loop.progress import TextTable, fastprogress_available

INSTALLED = importlib.util.find_spec("fastprogress") is not None
STYLES = ["text", "fastprogress"] if INSTALLED else ["text"]


class _Tty(io.StringIO):
    def isatty(self):
        return True


def _learner(style="auto", stream=None, n=32, bs=8):
    torch.manual_seed(0)
    x = torch.randn(n, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    dl = DataLoader(TensorDataset(x, y), batch_size=bs)
    learn = Learner((dl, dl), nn.Linear(3, 1), loss_func=nn.MSELoss(), opt_func=Adam, lr=1e-2)
    learn.progress.style, learn.progress.stream = style, stream
    return learn


class _SeeDisplay(Callback):
    """Records what the progress callback draws with, during the fit."""

    order = 70

    def before_epoch(self):
        self.kind = type(self.learn.progress.mbar).__name__


def test_default_style_follows_what_is_installed(capsys):
    assert fastprogress_available() is INSTALLED
    learn = _learner()
    seen = _SeeDisplay()
    learn.fit(1, cbs=seen)
    assert (seen.kind == "TextTable") is (not INSTALLED), seen.kind
    assert "train_loss" in capsys.readouterr().out
    assert learn.logger is print  # given back after the fit


def test_text_style_writes_a_header_and_one_line_per_epoch(capsys):
    learn = _learner("text")
    learn.fit(3)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["epoch", "train_loss", "valid_loss", "time"]
    assert len(lines) == 4
    for i, (line, values) in enumerate(zip(lines[1:], learn.recorder.values, strict=True)):
        cells = line.split()
        assert cells[0] == str(i)
        assert [float(c) for c in cells[1:3]] == pytest.approx(values, abs=1e-6)
        assert cells[3].count(":") == 1  # mm:ss
    # columns line up under the header (fastprogress's console layout: at least 8 wide, two spaces apart)
    assert lines[1].index(cells[1][:1]) == lines[0].index("train_loss")


def test_text_style_counts_batches_only_on_a_terminal():
    tty, log = _Tty(), io.StringIO()
    _learner("text", stream=tty).fit(1)
    _learner("text", stream=log).fit(1)
    assert "\repoch 1/1 train 4/4" in tty.getvalue() and "\repoch 1/1 valid 4/4" in tty.getvalue()
    assert "\r" not in log.getvalue()  # a log or a pipe gets the table only
    assert log.getvalue().count("\n") == 2
    table = [line for line in tty.getvalue().split("\r") if "\n" in line]
    assert any(line.strip().startswith("epoch") for line in table)


def test_without_fastprogress_auto_falls_back_and_fastprogress_style_says_how_to_install(monkeypatch, capsys):
    for name in ("fastprogress", "fastprogress.fastprogress"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    assert not fastprogress_available()
    learn = _learner()
    seen = _SeeDisplay()
    learn.fit(1, cbs=seen)
    assert seen.kind == "TextTable"
    assert capsys.readouterr().out.splitlines()[0].split()[0] == "epoch"
    learn.progress.style = "fastprogress"
    with pytest.raises(ImportError, match=r"trainloop-callbacks\[progress\]"):
        learn.fit(1)
    assert learn.logger is print


def test_bad_style_is_refused():
    with pytest.raises(ValueError, match="style must be one of"):
        ProgressCallback(style="fancy")


@pytest.mark.parametrize("style", STYLES)
def test_resumed_fit_with_the_bar_on(style, tmp_path, capsys):
    """Resuming at epoch 2 of 4 (after load) runs epochs 2 and 3 with the display on, as an uninterrupted fit."""
    full = _learner(style)
    full.fit_one_cycle(4, 1e-2)
    first = _learner(style)
    first.fit_one_cycle(4, 1e-2, cbs=_StopAfter(1))
    first.path = tmp_path
    first.save("ep1")
    resumed = _learner(style)
    resumed.path = tmp_path
    resumed.load("ep1")
    capsys.readouterr()
    resumed.fit_one_cycle(4, 1e-2, start_epoch=2)
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines() if line.split() and line.split()[0].isdigit()]
    assert rows == ["2", "3"]
    for a, b in zip(full.model.parameters(), resumed.model.parameters(), strict=True):
        assert torch.allclose(a, b, atol=1e-6)


class _StopAfter(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def after_epoch(self):
        from trainloop_callbacks import CancelFitException

        if self.learn.epoch == self.epoch:
            raise CancelFitException


def test_text_table_aligns_rows_under_the_header():
    lines = []
    table = TextTable(lines.append)
    table.write(["epoch", "train_loss", "a_long_metric_name"], table=True)
    table.write(["0", "1.000000", "0.5"], table=True)
    table.write("a plain line")
    assert lines[0] == "epoch     train_loss  a_long_metric_name"
    assert lines[1] == "0         1.000000    0.5"
    assert lines[2] == "a plain line"
