"""Checkpoints and resume, lr_find restoring state, safe export and load_learner."""

import os
import subprocess
import sys

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import Adam
from trainloop_callbacks import (
    Callback,
    CancelFitException,
    CrossEntropyLossFlat,
    ExportError,
    Learner,
    ProgressCallback,
    SaveModelCallback,
    load_learner,
    minimum,
    steep,
    valley,
)


def _data(seed=0, n=96):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 4, generator=g)
    y = (x[:, 0] + x[:, 1] > 0).long() + (x[:, 2] > 1).long()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True), DataLoader(
        TensorDataset(x[:32], y[:32]), batch_size=16
    )


def _model():
    return nn.Sequential(nn.Linear(4, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 3))


def _learner(tmp_path, seed=0):
    torch.manual_seed(seed)
    return Learner(_data(), _model(), CrossEntropyLossFlat(), opt_func=Adam, path=tmp_path)


class StopBefore(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def before_epoch(self):
        if self.learn.epoch == self.epoch:
            raise CancelFitException


def test_save_load_round_trip(tmp_path):
    learn = _learner(tmp_path)
    with learn.no_bar():
        learn.fit(1)
    file = learn.save("m")
    assert file == tmp_path / "models" / "m.pth"
    other = _learner(tmp_path, seed=1)
    other.load("m")
    for a, b in zip(learn.model.state_dict().values(), other.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert other.opt.state_dict()["state"].keys() == learn.opt.state_dict()["state"].keys()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        other.load("missing")


class Wrapper(nn.Module):
    """Holds the real model as `.module`, the way DistributedDataParallel does (its state_dict keys get `module.`)."""

    def __init__(self, module):
        super().__init__()
        self.module = module

    def forward(self, *args):
        return self.module(*args)


def test_save_of_a_wrapped_model_has_no_module_prefix(tmp_path):
    learn = _learner(tmp_path)
    with learn.no_bar():
        learn.fit(1)
    plain_state = {k: v.clone() for k, v in learn.model.state_dict().items()}
    learn.model = Wrapper(learn.model)
    assert all(k.startswith("module.") for k in learn.model.state_dict())
    learn.save("wrapped")
    saved = torch.load(tmp_path / "models" / "wrapped.pth", weights_only=True)["model"]
    assert saved.keys() == plain_state.keys()  # "0.weight", not "module.0.weight"
    for k, v in plain_state.items():
        assert torch.equal(saved[k], v)
    # the checkpoint loads into a plain model and into a wrapped one
    plain = _learner(tmp_path, seed=1)
    plain.load("wrapped")
    wrapped = _learner(tmp_path, seed=2)
    wrapped.model = Wrapper(wrapped.model)
    wrapped.load("wrapped", with_opt=False)
    for k, v in plain_state.items():
        assert torch.equal(plain.model.state_dict()[k], v)
        assert torch.equal(wrapped.model.module.state_dict()[k], v)


def test_resumed_one_cycle_equals_uninterrupted(tmp_path):
    # uninterrupted: 4 epochs of one-cycle on shuffled data with dropout (both consume the RNG) and Adam state
    full = _learner(tmp_path / "a")
    with full.no_bar():
        full.fit_one_cycle(4, 1e-2)
    # interrupted after epoch 1, checkpointing every epoch with the optimizer
    cut = _learner(tmp_path / "b")
    with cut.no_bar():
        cut.fit_one_cycle(4, 1e-2, cbs=[SaveModelCallback(every_epoch=True, with_opt=True, fname="ck"), StopBefore(2)])
    assert not all(
        torch.equal(a, b)
        for a, b in zip(full.model.state_dict().values(), cut.model.state_dict().values(), strict=True)
    )
    # a new learner (other init) resumes from the epoch-1 checkpoint
    resumed = _learner(tmp_path / "b", seed=123)
    resumed.load("ck_1")
    assert any(isinstance(cb, ProgressCallback) for cb in resumed.cbs)  # resume runs with the bar on
    resumed.fit_one_cycle(4, 1e-2, start_epoch=2)
    for a, b in zip(full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert len(resumed.recorder.values) == 4  # restored history of epochs 0-1, then 2-3
    assert resumed.recorder.values[2:] == full.recorder.values[2:]


def test_lr_find_restores_model_and_optimizer(tmp_path):
    learn = _learner(tmp_path)
    with learn.no_bar():
        learn.fit(1)
    weights = {k: v.clone() for k, v in learn.model.state_dict().items()}
    opt_state = {k: [t.clone() for t in v.values() if isinstance(t, torch.Tensor)] for k, v in learn.opt.state.items()}
    lr_before = learn.opt.hypers[0]["lr"]
    res = learn.lr_find(num_it=30, suggest_funcs=(minimum, steep, valley), fname=tmp_path / "lr.png")
    for k, v in learn.model.state_dict().items():
        assert torch.equal(v, weights[k])
    for p, tensors in opt_state.items():
        now = [t for t in learn.opt.state[p].values() if isinstance(t, torch.Tensor)]
        assert all(torch.equal(a, b) for a, b in zip(tensors, now, strict=True))
    assert learn.opt.hypers[0]["lr"] == lr_before
    lrs = learn.recorder.lrs
    ratios = [lrs[i + 1] / lrs[i] for i in range(len(lrs) - 1)]
    assert ratios == pytest.approx([ratios[0]] * len(ratios))  # exponential growth
    assert all(1e-7 <= v <= 10 for v in res)
    assert res._fields == ("minimum", "steep", "valley")
    assert (tmp_path / "lr.png").stat().st_size > 0


def _export(tmp_path):
    learn = _learner(tmp_path)
    with learn.no_bar():
        learn.fit(1)
    return learn, learn.export("export.pth")


def test_export_load_round_trip_in_a_fresh_process(tmp_path):
    learn, file = _export(tmp_path)
    item = torch.tensor([0.5, -1.0, 2.0, 0.1])
    _, pred, probs = learn.predict(item)
    loaded = load_learner(file)
    _, pred2, probs2 = loaded.predict(item)
    assert torch.allclose(probs, probs2) and int(pred) == int(pred2)
    code = (
        "import torch\nfrom trainloop_callbacks import load_learner\n"
        f"_, pred, probs = load_learner({str(file)!r}).predict(torch.tensor([0.5, -1.0, 2.0, 0.1]))\n"
        "print(int(pred), *[f'{p:.6f}' for p in probs.tolist()])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ), check=True)
    fields = out.stdout.split()
    assert int(fields[0]) == int(pred)
    assert [float(f) for f in fields[1:]] == pytest.approx(probs.tolist(), abs=1e-6)


class Custom(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        return self.lin(x)


def test_undescribable_model_is_refused_by_name_and_pickle_opt_in(tmp_path):
    learn = Learner(_data(), Custom(), CrossEntropyLossFlat(), path=tmp_path)
    with pytest.raises(ExportError, match=r"model \(.*Custom\).*pickle=True"):
        learn.export("x.pth")
    file = learn.export("p.pth", pickle=True)
    with pytest.raises(ExportError, match="unsafe_pickle=True"):
        load_learner(file)
    loaded = load_learner(file, unsafe_pickle=True)
    assert torch.equal(loaded.model.lin.weight, learn.model.lin.weight)


class Payload:
    """Unpickling this runs code: what a malicious export file would hold."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').write('pwned')",))


def test_malicious_pickle_is_not_executed(tmp_path):
    marker = tmp_path / "pwned.txt"
    file = tmp_path / "evil.pth"
    torch.save({"format": "tiers-export", "model": Payload(str(marker))}, file)
    with pytest.raises(ExportError, match="pickled Python objects"):
        load_learner(file)
    assert not marker.exists()


def test_export_naming_a_foreign_callable_is_refused(tmp_path):
    marker = tmp_path / "pwned.txt"
    file = tmp_path / "evil.pth"
    desc = {"type": "os.system", "kwargs": {"command": f"touch {marker}"}}
    torch.save({"format": "tiers-export", "version": 1, "model": desc, "weights": {}, "loss_func": desc}, file)
    with pytest.raises(ExportError, match=r"refusing 'os:system'.*not in the allow-list"):
        load_learner(file)
    assert not marker.exists()
    torch.save({"format": "other"}, file)
    with pytest.raises(ExportError, match="not a tiers export"):
        load_learner(file)
