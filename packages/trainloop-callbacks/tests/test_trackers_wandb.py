"""WandbCallback in offline mode: the run folder's records read back with wandb's own reader (`wandb leet inspect`).

No network: WANDB_MODE=offline, every wandb folder inside tmp_path, system metrics, console capture and git off.
"""

import json
import subprocess
import sys

import pytest
import torch
from PIL import Image
from torch import nn

from trainloop_callbacks import (
    Callback,
    CancelFitException,
    CrossEntropyLossFlat,
    Learner,
    SaveModelCallback,
    WandbCallback,
)
from trainloop_callbacks.metrics import accuracy

N_TRAIN = 6  # batches per epoch of make_classification(): 96 items, bs 16


@pytest.fixture(autouse=True)
def offline(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    env = {
        "WANDB_MODE": "offline",
        "WANDB_DIR": tmp_path,
        "WANDB_CACHE_DIR": tmp_path / "cache",
        "WANDB_CONFIG_DIR": tmp_path / "config",
        "WANDB_DATA_DIR": tmp_path / "data",
        "WANDB_ARTIFACT_DIR": tmp_path / "artifacts",
        "WANDB_SILENT": "true",
        "WANDB_CONSOLE": "off",
        "WANDB_X_DISABLE_STATS": "true",
        "WANDB_DISABLE_GIT": "true",
        "WANDB_DISABLE_CODE": "true",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, str(v))


def records(run_dir):
    """Every record of an offline run folder, as wandb's own reader prints them."""
    out = subprocess.run(
        [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(run_dir)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]


def history(recs):
    """{step: {key: value}} of the history records."""
    rows = {}
    for r in recs:
        if r["type"] == "history":
            rows.setdefault(int(r["history"]["step"]["num"]), {}).update(r["history"]["item"])
    return rows


def series(rows, key):
    return [(s, row[key]) for s, row in sorted(rows.items()) if key in row]


class Pictured:
    """Duck-typed data with a show_results hook that draws one cell per item."""

    def __init__(self, dls):
        self.train, self.valid = dls

    def show_results(self, b, preds, max_n=9):
        return Image.new("RGB", (8 * min(max_n, len(preds)), 8), (0, 128, 255))


def learner(dls, path, seed=0, **kw):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    learn = Learner(dls, model, CrossEntropyLossFlat(), metrics=accuracy, path=path, **kw)
    learn.progress.style = "text"
    return learn


def test_offline_history_matches_the_recorder(tmp_path, make_classification):
    learn = learner(Pictured(make_classification()), tmp_path)
    cb = WandbCallback(project="tiny", log="gradients", log_freq=1, log_preds=True, n_preds=4, log_model=True)
    learn.fit_one_cycle(2, 1e-2, cbs=cb)
    assert cb.n_failures == 0 and len(cb.run_dirs) == 1
    recs = records(cb.run_dirs[0])
    rows = history(recs)
    rec = learn.recorder
    train = series(rows, "train_loss")
    assert [s for s, _ in train] == list(range(1, 2 * N_TRAIN + 1))
    assert [v for _, v in train] == pytest.approx(rec.loss_values)
    assert [v for _, v in series(rows, "lr_0")] == pytest.approx([float(v) for v in rec.lrs])
    for col, key in ((1, "valid_loss"), (2, "accuracy")):
        assert series(rows, key) == [(N_TRAIN * (e + 1), pytest.approx(rec.values[e][col])) for e in (0, 1)]
    assert series(rows, "epoch") == [(N_TRAIN, 0), (2 * N_TRAIN, 1)]
    # nested values come flattened: predictions._type, predictions.path, ...
    assert [s for s, _ in series(rows, "predictions._type")] == [N_TRAIN, 2 * N_TRAIN]
    assert {v for _, v in series(rows, "predictions._type")} == {"image-file"}
    path = series(rows, "predictions.path")[-1][1]
    with Image.open(cb.run_dirs[0] / "files" / path) as picture:
        assert picture.size == (32, 8)  # n_preds=4 cells of the data's show_results
    assert any(k.startswith("gradients/") for row in rows.values() for k in row)  # wandb.watch's histograms
    config = {k: v for r in recs if r["type"] == "run" for k, v in r["run"]["config"]["update"].items()}
    assert config["bs"] == 16 and config["opt_func"] == "Adam" and config["n_train"] == 96
    assert any(r["type"] == "artifact" and r["artifact"]["type"] == "model" for r in recs)


class StopBefore(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def before_epoch(self):
        if self.learn.epoch == self.epoch:
            raise CancelFitException


def test_resumed_fit_continues_the_run_id_and_steps(tmp_path, make_classification):
    cb = WandbCallback(project="resume", log_preds=False)
    cut = learner(make_classification(), tmp_path, cbs=cb)
    cut.fit(4, 1e-2, cbs=[SaveModelCallback(every_epoch=True, fname="ck"), StopBefore(2)])
    resumed_cb = WandbCallback(project="resume", log_preds=False)
    resumed = learner(make_classification(), tmp_path, seed=1, cbs=resumed_cb)
    resumed.load("ck_1")
    resumed.fit(4, 1e-2, start_epoch=2)
    assert resumed_cb.run_id == cb.run_id
    first, second = history(records(cb.run_dirs[0])), history(records(resumed_cb.run_dirs[0]))
    assert [s for s, _ in series(first, "train_loss")] == list(range(1, 2 * N_TRAIN + 1))
    assert [s for s, _ in series(second, "train_loss")] == list(range(2 * N_TRAIN + 1, 4 * N_TRAIN + 1))
    assert series(second, "epoch") == [(3 * N_TRAIN, 2), (4 * N_TRAIN, 3)]


class FinishTheRun(Callback):
    order = 70

    def after_epoch(self):
        if self.learn.epoch == 0:
            self.learn.wandb.wandb_run.finish()  # the run closed under the callback


def test_a_finished_run_warns_once_and_training_goes_on(tmp_path, make_classification):
    learn = learner(make_classification(), tmp_path)
    cb = WandbCallback(log="gradients", log_freq=1, log_preds=False)  # its hooks log during backward
    with pytest.warns(RuntimeWarning, match="WandbCallback could not") as caught:
        learn.fit(3, cbs=[cb, FinishTheRun()])
    assert len([w for w in caught if w.category is RuntimeWarning]) == 1
    assert cb.n_failures >= 2 and len(learn.recorder.values) == 3


def test_bad_log_choice_and_missing_wandb(monkeypatch):
    with pytest.raises(ValueError, match="log must be one of"):
        WandbCallback(log="weights")
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "trainloop-callbacks\[wandb\]"'):
        WandbCallback()
