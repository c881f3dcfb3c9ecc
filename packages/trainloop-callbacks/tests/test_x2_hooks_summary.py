"""Hooks, ActivationStats and the model summary."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import Learner
from trainloop_callbacks.models.hooks import ActivationStats, Hook, HookCallback, Hooks, hook_output, hook_outputs
from trainloop_callbacks.models.summary import learner_summary, model_summary


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 1))


def data(n=32, bs=8):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 3, generator=g)
    y = x.sum(1, keepdim=True)
    return DataLoader(TensorDataset(x, y), batch_size=bs), DataLoader(TensorDataset(x, y), batch_size=bs)


def test_hook_output_and_removal():
    model = mlp()
    x = torch.randn(5, 3)
    with hook_output(model[0]) as h:
        model(x)
        torch.testing.assert_close(h.stored, model[0](x))
        assert not h.stored.requires_grad
    model(torch.randn(2, 3))
    assert h.stored.shape == (5, 8)  # removed: not updated any more


def test_hook_outputs_and_gradient_hooks():
    model = mlp()
    x = torch.randn(4, 3)
    with hook_outputs([model[0], model[2]]) as hs, hook_output(model[2], grad=True) as g:
        model(x).sum().backward()
        assert [s.shape for s in hs.stored] == [(4, 8), (4, 1)]
        assert len(hs) == 2
        # d(sum)/d(output) is all ones
        torch.testing.assert_close(g.stored[0], torch.ones(4, 1))


def test_hooks_with_custom_function():
    model = mlp()
    with Hooks([model[0], model[1]], lambda m, i, o: (type(m).__name__, o.mean().item())) as hs:
        model(torch.randn(3, 3))
    assert [s[0] for s in hs.stored] == ["Linear", "ReLU"]
    h = Hook(model[1], lambda m, i, o: o.min().item())
    model(torch.randn(3, 3))
    assert h.stored >= 0
    h.remove()
    h.remove()  # idempotent


def test_hook_callback_default_keeps_outputs_in_training_only():
    cb = HookCallback(remove_end=False)
    learn = Learner(data(), mlp(), loss_func=nn.MSELoss(), opt_func=SGD, lr=0.0, cbs=[cb])
    learn.remove_cb(learn.progress)
    learn.fit(1)
    x_last = learn.dls.train.dataset.tensors[0][-8:]
    stored = cb.hooks.stored
    assert len(stored) == 2  # the two Linear layers
    torch.testing.assert_close(stored[0], learn.model[0](x_last).detach())
    cb.hooks.remove()


@pytest.mark.parametrize("every", [None, 2])
def test_activation_stats(every):
    stats = ActivationStats(modules=None, every=every, with_hist=True, bins=10)
    learn = Learner(data(), mlp(), loss_func=nn.MSELoss(), opt_func=SGD, lr=0.0, cbs=[stats])
    learn.remove_cb(learn.progress)
    learn.fit(1)
    assert len(stats.stats) == (4 if every is None else 2)
    x = learn.dls.train.dataset.tensors[0]
    last_batch = x[-16:-8] if every == 2 else x[-8:]
    with torch.no_grad():
        out = learn.model[0](last_batch)
    mean, std, nz = stats.layer_stats(0)[-1]
    assert abs(float(mean) - float(out.mean())) < 1e-5
    assert abs(float(std) - float(out.std())) < 1e-5
    assert abs(float(nz) - float((out.abs() <= 0.05).float().mean())) < 1e-6
    assert stats.hist(0).shape == (len(stats.stats), 10)
    assert float(stats.hist(0)[-1].sum()) == out.numel()  # every value lands in a bin of (-7, 7)


def test_model_summary_rows_and_totals():
    model = mlp()
    s = model_summary(model, torch.randn(8, 3))
    assert [(r.name, r.kind, r.output_shape, r.params, r.trainable) for r in s.rows] == [
        ("0", "Linear", (8, 8), 32, True),
        ("1", "ReLU", (8, 8), 0, None),
        ("2", "Linear", (8, 1), 9, True),
    ]
    assert (s.total_params, s.trainable_params) == (41, 41)
    model[0].requires_grad_(False)
    s = model_summary(model, torch.randn(8, 3))
    assert s.rows[0].trainable is False
    assert s.trainable_params == 9
    text = str(s)
    assert "Total params: 41" in text and "Non-trainable params: 32" in text
    assert "0 (Linear)" in text and "(8, 8)" in text


def test_learner_summary_uses_one_batch():
    learn = Learner(data(bs=4), mlp(), loss_func=nn.MSELoss(), opt_func=SGD)
    s = learner_summary(learn)
    assert s.input_shapes == [(4, 3)]
    assert s.rows[-1].output_shape == (4, 1)
    assert any(line.startswith("Loss function: MSELoss") for line in s.extra)
    assert learn.model.training  # mode restored
