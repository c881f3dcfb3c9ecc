"""MLflowCallback: a local file store (a `file:` URI in tmp_path) read back with MlflowClient."""

import shutil
import sys

import pytest
import torch
from mlflow.tracking import MlflowClient
from torch import nn

from trainloop_callbacks import (
    Callback,
    CancelFitException,
    CrossEntropyLossFlat,
    Learner,
    MLflowCallback,
    SaveModelCallback,
    load_learner,
)
from trainloop_callbacks.metrics import accuracy

N_TRAIN = 6  # batches per epoch of make_classification(): 96 items, bs 16


@pytest.fixture
def store(tmp_path, monkeypatch):
    # MLflow 3 keeps the file store in maintenance mode and asks for this opt-in; the store is a folder here
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    return (tmp_path / "mlruns").as_uri()


def learner(make_classification, path, seed=0, **kw):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
    learn = Learner(make_classification(), model, CrossEntropyLossFlat(), metrics=accuracy, path=path, **kw)
    learn.progress.style = "text"
    return learn


def history(client, run_id, key):
    return [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, key), key=lambda m: m.step)]


def test_params_metrics_and_exported_model(tmp_path, store, make_classification):
    learn = learner(make_classification, tmp_path)
    cb = MLflowCallback(experiment="tiny", run_name="first", tracking_uri=store)
    learn.fit_one_cycle(2, 1e-2, wd=0.01, cbs=cb)
    assert cb.n_failures == 0
    client = MlflowClient(tracking_uri=store)
    run = client.get_run(cb.run_id)
    assert run.info.run_name == "first" and run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "tiny"
    p = run.data.params
    assert (p["bs"], p["n_train"], p["n_valid"], p["n_train_batches"]) == ("16", "96", "48", "6")
    assert p["loss_func"] == "CrossEntropyLossFlat" and p["opt_func"] == "Adam" and p["metrics"] == "accuracy"
    assert p["model"] == "Sequential" and p["n_params"] == str(4 * 16 + 16 + 16 * 3 + 3)
    assert "adam_step" in p["opt.steps"] and float(p["opt.group0.wd"]) == 0.01  # the optimizer's recipe
    rec = learn.recorder
    for col, key in enumerate(("train_loss", "valid_loss", "accuracy")):
        want = [(N_TRAIN * (e + 1), pytest.approx(rec.values[e][col])) for e in (0, 1)]
        assert history(client, cb.run_id, key) == want
    assert history(client, cb.run_id, "epoch") == [(N_TRAIN, 0.0), (2 * N_TRAIN, 1.0)]
    # the safe export as an artifact, loaded back: the same predictions
    local = client.download_artifacts(cb.run_id, "model/export.pth", str(tmp_path / "dl"))
    loaded = load_learner(local)
    x = torch.randn(5, 4)
    learn.model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded.model(x), learn.model(x))


class StopBefore(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def before_epoch(self):
        if self.learn.epoch == self.epoch:
            raise CancelFitException


def test_resumed_fit_continues_the_run_and_its_steps(tmp_path, store, make_classification):
    cb = MLflowCallback(experiment="resume", tracking_uri=store, log_model=False)
    cut = learner(make_classification, tmp_path, cbs=cb)
    cut.fit_one_cycle(4, 1e-2, cbs=[SaveModelCallback(every_epoch=True, with_opt=True, fname="ck"), StopBefore(2)])
    resumed_cb = MLflowCallback(experiment="resume", tracking_uri=store, log_model=False)
    resumed = learner(make_classification, tmp_path, seed=1, cbs=resumed_cb)
    resumed.load("ck_1")  # restores the run id and the step with the callbacks' state
    assert resumed_cb.run_id == cb.run_id
    resumed.fit_one_cycle(4, 1e-2, start_epoch=2)
    client = MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("resume")
    assert len(client.search_runs([exp.experiment_id])) == 1  # one run, continued
    assert [s for s, _ in history(client, cb.run_id, "valid_loss")] == [N_TRAIN * k for k in (1, 2, 3, 4)]
    assert [v for _, v in history(client, cb.run_id, "epoch")] == [0.0, 1.0, 2.0, 3.0]
    assert [v for _, v in history(client, cb.run_id, "valid_loss")] == pytest.approx(
        [row[1] for row in resumed.recorder.values]
    )


class LoseTheStore(Callback):
    order = 70

    def __init__(self, folder):
        self.folder = folder

    def after_epoch(self):
        if self.learn.epoch == 0:
            shutil.rmtree(self.folder)  # the run's files are gone (a wiped or unmounted disk)


def test_a_lost_store_warns_once_and_training_goes_on(tmp_path, store, make_classification):
    learn = learner(make_classification, tmp_path)
    cb = MLflowCallback(tracking_uri=store)
    with pytest.warns(RuntimeWarning, match="MLflowCallback could not") as caught:
        learn.fit(3, cbs=[cb, LoseTheStore(tmp_path / "mlruns")])
    assert len([w for w in caught if w.category is RuntimeWarning]) == 1
    assert cb.n_failures >= 2 and len(learn.recorder.values) == 3


class Custom(nn.Module):  # not describable as data: the safe export refuses it
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        return self.lin(x)


def test_a_learner_the_safe_export_refuses_gets_a_note_not_a_failure(tmp_path, store, make_classification):
    learn = Learner(make_classification(), Custom(), CrossEntropyLossFlat(), path=tmp_path)
    learn.progress.style = "text"
    cb = MLflowCallback(tracking_uri=store)
    with pytest.warns(UserWarning, match="cannot be exported safely") as caught:
        learn.fit(1, cbs=cb)
    assert not [w for w in caught if w.category is RuntimeWarning] and cb.n_failures == 0
    client = MlflowClient(tracking_uri=store)
    assert client.list_artifacts(cb.run_id) == [] and client.get_run(cb.run_id).info.status == "FINISHED"


def test_lr_find_logs_no_run(tmp_path, store, make_classification):
    learn = learner(make_classification, tmp_path, cbs=MLflowCallback(experiment="quiet", tracking_uri=store))
    learn.lr_find(num_it=8)
    learn.get_preds()
    client = MlflowClient(tracking_uri=store)
    assert client.get_experiment_by_name("quiet") is None and learn.mlflow.run_id is None


def test_missing_mlflow_says_which_extra_to_install(monkeypatch):
    for name in ("mlflow", "mlflow.entities", "mlflow.tracking"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "trainloop-callbacks\[mlflow\]"'):
        MLflowCallback()
