"""MixUp and CutMix: mixed inputs, mixed targets or losses against hand computation, off in validation."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import Callback, Learner
from trainloop_callbacks.callbacks.mixup import CutMix, MixUp


def clf_data(n=32, bs=8, one_hot=False, image=False):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, 4, 4, generator=g) if image else torch.randn(n, 4, generator=g)
    y = torch.arange(n) % 3
    if one_hot:
        y = F.one_hot(y, 3).float()
    ds = TensorDataset(x, y)
    return DataLoader(ds, batch_size=bs), DataLoader(ds, batch_size=bs)


class Probe(Callback):
    """Keeps the raw batch (before mixing) and what the loop computed after mixing."""

    def __init__(self):
        self.rows = []

    order = -50

    def before_batch(self):
        self.raw = (self.learn.xb[0].clone(), self.learn.yb[0].clone())

    def after_loss(self):
        h = getattr(self.learn, "mix_up", None) or getattr(self.learn, "cut_mix", None)
        self.rows.append(
            {
                "training": self.learn.training,
                "raw": self.raw,
                "xb": self.learn.xb[0].clone(),
                "yb": self.learn.yb[0].clone(),
                "pred": self.learn.pred.detach().clone(),
                "loss": float(self.learn.loss),
                "lam": h.lam.clone(),
                "shuffle": None if h.shuffle is None else h.shuffle.clone(),
            }
        )


def flat_model(image=False):
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(48 if image else 4, 3))


def fit(cb, loss_func=None, **data_kw):
    probe = Probe()
    image = data_kw.get("image", False)
    loss_func = loss_func or nn.CrossEntropyLoss()
    learn = Learner(clf_data(**data_kw), flat_model(image), loss_func=loss_func, opt_func=SGD, cbs=[cb, probe])
    learn.remove_cb(learn.progress)
    learn.fit(1)
    return learn, probe


def test_mixup_integer_targets_mixes_inputs_and_loss():
    torch.manual_seed(1)
    learn, probe = fit(MixUp(0.4))
    train = [r for r in probe.rows if r["training"]]
    assert len(train) == 4
    for r in train:
        x, y = r["raw"]
        lam, s = r["lam"], r["shuffle"]
        assert (lam >= 0.5).all() and (lam <= 1).all()
        torch.testing.assert_close(r["xb"], lam[:, None] * x + (1 - lam[:, None]) * x[s])
        torch.testing.assert_close(r["yb"], y)  # integer targets are kept
        ce = F.cross_entropy(r["pred"], y, reduction="none")
        ce_other = F.cross_entropy(r["pred"], y[s], reduction="none")
        expected = (lam * ce + (1 - lam) * ce_other).mean()
        assert abs(r["loss"] - float(expected)) < 1e-5
    assert isinstance(learn.loss_func, nn.CrossEntropyLoss)  # restored after training


def test_mixup_one_hot_targets_are_mixed():
    torch.manual_seed(2)
    _, probe = fit(MixUp(1.0), loss_func=nn.BCEWithLogitsLoss(), one_hot=True)
    for r in [r for r in probe.rows if r["training"]]:
        y = r["raw"][1]
        lam, s = r["lam"][:, None], r["shuffle"]
        torch.testing.assert_close(r["yb"], lam * y + (1 - lam) * y[s])
        assert abs(r["loss"] - float(F.binary_cross_entropy_with_logits(r["pred"], r["yb"]))) < 1e-6


def test_mixing_is_off_in_validation():
    _, probe = fit(MixUp(0.4))
    valid = [r for r in probe.rows if not r["training"]]
    assert len(valid) == 4
    for r in valid:
        torch.testing.assert_close(r["xb"], r["raw"][0], rtol=0, atol=0)
        assert abs(r["loss"] - float(F.cross_entropy(r["pred"], r["raw"][1]))) < 1e-6


def test_cutmix_lam_is_the_kept_area():
    torch.manual_seed(3)
    _, probe = fit(CutMix(1.0), image=True)
    checked = 0
    for r in [r for r in probe.rows if r["training"]]:
        x, y = r["raw"]
        s, lam = r["shuffle"], r["lam"]
        for i in range(x.shape[0]):
            if s[i] == i:
                continue
            same = (r["xb"][i] == x[i]).all(0).float().mean()
            assert abs(float(same) - float(lam[i])) < 1e-6
            checked += 1
        ce = F.cross_entropy(r["pred"], y, reduction="none")
        expected = (lam * ce + (1 - lam) * F.cross_entropy(r["pred"], y[s], reduction="none")).mean()
        assert abs(r["loss"] - float(expected)) < 1e-5
    assert checked > 0


def test_cutmix_needs_images():
    learn = Learner(clf_data(), flat_model(), loss_func=nn.CrossEntropyLoss(), cbs=[CutMix()])
    learn.remove_cb(learn.progress)
    with pytest.raises(ValueError, match=r"CutMix needs image batches of shape \(bs, C, H, W\), got shape \(8, 4\)"):
        learn.fit(1)


def test_mixup_needs_a_loss_with_reduction():
    learn = Learner(clf_data(), flat_model(), loss_func=lambda p, y: F.cross_entropy(p, y), cbs=[MixUp()])
    learn.remove_cb(learn.progress)
    with pytest.raises(ValueError, match="`reduction` attribute"):
        learn.fit(1)


def test_mixup_bad_alpha():
    with pytest.raises(ValueError, match="alpha > 0"):
        MixUp(0)
