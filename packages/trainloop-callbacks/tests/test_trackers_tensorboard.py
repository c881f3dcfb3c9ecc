"""TensorBoardCallback: event files read back with tensorboard's EventAccumulator, against the Recorder."""

import io
import os
import subprocess
import sys
import textwrap
import warnings

import pytest
import torch
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from trainloop_callbacks import (
    Callback,
    CancelFitException,
    GradientAccumulation,
    Learner,
    SaveModelCallback,
    TensorBoardCallback,
)
from trainloop_callbacks.metrics import accuracy
from trainloop_callbacks.trackers import _base

N_TRAIN = 6  # batches per epoch of make_classification(): 96 items, bs 16


def events(log_dir):
    ea = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "images": 0})
    ea.Reload()
    return ea


def scalars(ea, tag):
    return [(e.step, e.value) for e in ea.Scalars(tag)]


def learner(dls, model, path, **kw):
    learn = Learner(dls, model, nn.CrossEntropyLoss(), metrics=accuracy, path=path, **kw)
    learn.progress.style = "text"
    return learn


def test_scalars_and_steps_match_the_recorder(tmp_path, make_classification, clf_model):
    learn = learner(make_classification(), clf_model, tmp_path)
    cb = TensorBoardCallback("tb")
    learn.fit_one_cycle(2, 1e-2, cbs=cb)
    assert cb.log_dir == tmp_path / "tb" and cb.n_failures == 0
    ea = events(cb.log_dir)
    rec = learn.recorder
    assert set(ea.Tags()["scalars"]) == {"train_loss", "lr_0", "mom_0", "valid_loss", "accuracy", "epoch"}
    steps = list(range(1, 2 * N_TRAIN + 1))  # one per optimizer step
    for tag, expected in (("train_loss", rec.loss_values), ("lr_0", rec.lrs), ("mom_0", rec.moms)):
        got = scalars(ea, tag)
        assert [s for s, _ in got] == steps
        assert [v for _, v in got] == pytest.approx([float(v) for v in expected], rel=1e-6)  # float32 in the file
    for col, tag in ((1, "valid_loss"), (2, "accuracy")):  # per epoch, at the step the epoch ended
        assert scalars(ea, tag) == [(N_TRAIN * (e + 1), pytest.approx(rec.values[e][col])) for e in range(2)]
    assert scalars(ea, "epoch") == [(N_TRAIN, 0.0), (2 * N_TRAIN, 1.0)]


class StopBefore(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def before_epoch(self):
        if self.learn.epoch == self.epoch:
            raise CancelFitException


@pytest.mark.parametrize("attached", [True, False], ids=["state-in-checkpoint", "steps-from-recorder"])
def test_resumed_fit_continues_the_step_numbering(tmp_path, make_classification, attached):
    def fresh(path, seed):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Linear(16, 3))
        tb = TensorBoardCallback("tb")
        return learner(make_classification(shuffle=True), model, path, cbs=[tb] if attached else None), tb

    full, full_tb = fresh(tmp_path / "full", 0)
    full.fit_one_cycle(4, 1e-2, cbs=None if attached else full_tb)
    cut, cut_tb = fresh(tmp_path / "cut", 0)
    save = SaveModelCallback(every_epoch=True, with_opt=True, fname="ck")
    cut.fit_one_cycle(4, 1e-2, cbs=[save, StopBefore(2)] + ([] if attached else [cut_tb]))
    resumed, resumed_tb = fresh(tmp_path / "cut", 123)  # a new process would do this: same folder, new callback
    resumed.load("ck_1")
    if attached:
        assert resumed_tb.step == 2 * N_TRAIN  # restored from the checkpoint
    resumed.fit_one_cycle(4, 1e-2, start_epoch=2, cbs=None if attached else resumed_tb)
    full_ea, cut_ea = events(full_tb.log_dir), events(tmp_path / "cut" / "tb")
    # both runs' event files together: the same steps and values as the uninterrupted run
    for tag in ("train_loss", "lr_0", "valid_loss", "epoch"):
        got, want = scalars(cut_ea, tag), scalars(full_ea, tag)
        assert [s for s, _ in got] == [s for s, _ in want]
        assert [v for _, v in got] == pytest.approx([v for _, v in want], rel=1e-5)
    assert [s for s, _ in scalars(cut_ea, "valid_loss")] == [N_TRAIN * k for k in (1, 2, 3, 4)]


def two_groups(model):
    return [list(model[0].parameters()), list(model[2].parameters())]


def test_fine_tune_is_one_run_with_every_param_group(tmp_path, make_classification, clf_model):
    learn = learner(make_classification(), clf_model, tmp_path, splitter=two_groups)
    cb = TensorBoardCallback("tb")
    learn.add_cb(cb)
    learn.fine_tune(1, base_lr=1e-2, freeze_epochs=1)  # two fits: frozen head, then all with discriminative lrs
    ea = events(cb.log_dir)
    assert [s for s, _ in scalars(ea, "train_loss")] == list(range(1, 2 * N_TRAIN + 1))
    assert [s for s, _ in scalars(ea, "valid_loss")] == [N_TRAIN, 2 * N_TRAIN]
    assert [v for _, v in scalars(ea, "epoch")] == [0.0, 1.0]  # epochs counted over the run
    lr0, lr1 = scalars(ea, "lr_0"), scalars(ea, "lr_1")
    # the second fit's lrs are the Recorder's (it keeps the last group's); the first group's are 100x smaller
    assert [v for _, v in lr1[N_TRAIN:]] == pytest.approx([float(v) for v in learn.recorder.lrs], rel=1e-6)
    assert [v for _, v in lr0[N_TRAIN:]] == pytest.approx([v / 100 for _, v in lr1[N_TRAIN:]], rel=1e-5)


def test_bf16_with_accumulation_counts_optimizer_steps(tmp_path, make_classification, clf_model):
    learn = learner(make_classification(), clf_model, tmp_path).to_bf16()
    cb, acc = TensorBoardCallback("tb"), GradientAccumulation(32)  # bs 16: one step per two batches
    learn.fit_one_cycle(2, 1e-2, cbs=[acc, cb])
    ea = events(cb.log_dir)
    got = scalars(ea, "train_loss")
    assert acc.n_steps == N_TRAIN and cb.step == N_TRAIN
    assert [s for s, _ in got] == list(range(1, N_TRAIN + 1))
    # each step logs the smoothed loss of the batch that completed it: batches 2, 4, 6, ... of the Recorder
    assert [v for _, v in got] == pytest.approx(learn.recorder.loss_values[1::2], rel=1e-6)
    assert [s for s, _ in scalars(ea, "valid_loss")] == [N_TRAIN // 2, N_TRAIN]


def test_lr_find_and_get_preds_log_nothing(tmp_path, make_classification, clf_model):
    learn = learner(make_classification(), clf_model, tmp_path)
    cb = TensorBoardCallback("tb")
    learn.add_cb(cb)
    learn.lr_find(num_it=10)
    learn.get_preds()
    learn.validate()
    assert not (tmp_path / "tb").exists() and cb.step == 0
    learn.fit(1)
    learn.get_preds()
    ea = events(cb.log_dir)
    assert [s for s, _ in scalars(ea, "train_loss")] == list(range(1, N_TRAIN + 1))
    assert len(scalars(ea, "valid_loss")) == 1


class Pictured:
    """Duck-typed data with a show_results hook: one 8-pixel cell per item, coloured by the predicted class."""

    COLORS = ((255, 0, 0), (0, 255, 0), (0, 0, 255))

    def __init__(self, dls):
        self.train, self.valid = dls
        self.calls = 0

    def show_results(self, b, preds, max_n=9):
        self.calls += 1
        assert len(b) == 2 and b[0].shape[1] == 4  # inputs and targets of the first validation batch
        cls = preds.argmax(1)[:max_n]
        img = Image.new("RGB", (8 * len(cls), 8))
        for i, c in enumerate(cls.tolist()):
            img.paste(self.COLORS[c], (8 * i, 0, 8 * i + 8, 8))
        return img


def test_graph_and_pictures_of_predictions(tmp_path, make_classification, clf_model):
    data = Pictured(make_classification())
    learn = learner(data, clf_model, tmp_path)
    cb = TensorBoardCallback("tb", trace_model=True, log_preds=True, n_preds=5)
    learn.fit(2, 1e-2, cbs=cb)
    ea = events(cb.log_dir)
    assert ea.Tags()["graph"] and any(n.op == "aten::linear" for n in ea.Graph().node)
    images = ea.Images("predictions")
    assert [im.step for im in images] == [N_TRAIN, 2 * N_TRAIN] and data.calls == 2
    last = Image.open(io.BytesIO(images[-1].encoded_image_string)).convert("RGB")
    xb = next(iter(data.valid))[0]
    with torch.no_grad():
        expected = learn.model.eval()(xb).argmax(1)[:5].tolist()  # the final model's predictions
    assert last.size == (40, 8)
    assert [Pictured.COLORS.index(last.getpixel((8 * i + 4, 4))) for i in range(5)] == expected


def test_data_without_show_results_gets_one_note(tmp_path, make_classification, clf_model):
    learn = learner(make_classification(), clf_model, tmp_path)
    cb = TensorBoardCallback("tb", log_preds=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        learn.fit(2, cbs=cb)
    notes = [w for w in caught if "show_results" in str(w.message)]
    assert len(notes) == 1 and "no pictures of predictions" in str(notes[0].message)
    assert cb.n_failures == 0 and len(scalars(events(cb.log_dir), "valid_loss")) == 2


class CloseWriter(Callback):
    order = 70

    def after_epoch(self):
        if self.learn.epoch == 0:
            self.learn.tensor_board.writer.file_writer.close()  # the event file closed under the callback


def test_tracker_failures_warn_once_and_training_goes_on(tmp_path, make_classification, clf_model):
    (tmp_path / "file").write_text("not a folder")
    learn = learner(make_classification(), clf_model, tmp_path)
    cb = TensorBoardCallback(tmp_path / "file" / "tb")  # the log folder cannot be created
    with pytest.warns(RuntimeWarning, match="TensorBoardCallback could not start the run") as caught:
        learn.fit(2, cbs=cb)
    assert len(caught) == 1 and len(learn.recorder.values) == 2
    cb = TensorBoardCallback("tb")
    with pytest.warns(RuntimeWarning, match="TensorBoardCallback could not log") as caught:
        learn.fit(3, cbs=[cb, CloseWriter()])
    assert len([w for w in caught if w.category is RuntimeWarning]) == 1
    assert cb.n_failures > 1 and len(learn.recorder.values) == 3  # every later write failed; training finished


def test_only_rank_0_logs(tmp_path, make_classification, clf_model, monkeypatch):
    learn = learner(make_classification(), clf_model, tmp_path)
    cb = TensorBoardCallback("tb")
    assert cb.rank0_only  # DistributedTrainer switches it off on the other ranks
    monkeypatch.setattr(_base, "rank_distrib", lambda: 1)  # a process group set up without DistributedTrainer
    learn.fit(1, cbs=cb)
    assert not (tmp_path / "tb").exists() and cb.step == 0


DDP_SCRIPT = textwrap.dedent(
    """
    import sys
    import torch
    from torch import nn
    from torch.utils.data import DataLoader, TensorDataset
    from trainloop_callbacks import Learner, TensorBoardCallback
    from trainloop_callbacks.distributed import distrib_ctx, rank_distrib

    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 3, generator=g)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    dls = DataLoader(TensorDataset(x, y), batch_size=8), DataLoader(TensorDataset(x[:32], y[:32]), batch_size=8)
    torch.manual_seed(0)
    cb = TensorBoardCallback("tb")
    learn = Learner(dls, nn.Linear(3, 1), loss_func=nn.MSELoss(), path=sys.argv[1], cbs=cb)
    learn.logger = None
    with distrib_ctx(learn):
        learn.fit(2)
        rank = rank_distrib()
    torch.save({"values": learn.recorder.values, "step": cb.step}, f"{sys.argv[1]}/rank{rank}.pt")
    """
)


@pytest.mark.slow
def test_two_processes_log_once_from_rank_0(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(DDP_SCRIPT)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(script)]
    cmd.append(str(tmp_path))
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert res.returncode == 0, res.stderr[-4000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    assert (r0["step"], r1["step"]) == (8, 0)  # 4 sharded steps per epoch on rank 0; rank 1 switched off
    assert len(list((tmp_path / "tb").iterdir())) == 1  # one event file, written by rank 0
    ea = events(tmp_path / "tb")
    assert [s for s, _ in scalars(ea, "train_loss")] == list(range(1, 9))
    # the gathered (global) validation loss, the same on both ranks
    assert scalars(ea, "valid_loss") == [(4 * (e + 1), pytest.approx(r0["values"][e][1])) for e in range(2)]
    assert [v[1] for v in r0["values"]] == [v[1] for v in r1["values"]]


def test_without_a_recorder_or_with_no_pictures_is_refused(tmp_path, make_classification, clf_model):
    learn = Learner(make_classification(), clf_model, nn.CrossEntropyLoss(), path=tmp_path, default_cbs=False)
    with pytest.raises(ValueError, match="logs what the Recorder records"):
        learn.fit(1, cbs=TensorBoardCallback("tb"))
    with pytest.raises(ValueError, match="n_preds"):
        TensorBoardCallback(log_preds=True, n_preds=0)


def test_missing_tensorboard_says_which_extra_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if not installed
    with pytest.raises(ImportError, match=r'pip install "trainloop-callbacks\[tensorboard\]"'):
        TensorBoardCallback()
