"""The technique methods on `Learner` (precision, summary, tta, compile, distrib_ctx) and the default optimizer
(Adam with weight decay, NoBnBiasDecay) under the full combination of techniques."""

import math

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainloop_callbacks import (
    EMA,
    CrossEntropyLossFlat,
    DistributedTrainer,
    EarlyStoppingCallback,
    GradientAccumulation,
    GradientClip,
    Learner,
    MixedPrecision,
    MixUp,
    SaveModelCallback,
)
from trainloop_callbacks.loop.wd_filter import NoBnBiasDecay


def blobs(n=192, bs=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(3, 8, generator=g) * 2
    y = torch.arange(n) % 3
    x = centres[y] + torch.randn(n, 8, generator=g)
    return (
        DataLoader(TensorDataset(x, y), batch_size=bs, shuffle=True, generator=g),
        DataLoader(TensorDataset(x[:96], y[:96]), batch_size=32),
    )


def quiet(learn):
    learn.remove_cb(learn.progress)
    learn.logger = None
    return learn


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(8, 32), nn.ReLU(), nn.Linear(32, 3))


def test_to_bf16_trains_then_to_fp32_removes_it():
    learn = quiet(Learner(blobs(), mlp(), CrossEntropyLossFlat(), lr=1e-2))
    assert learn.to_bf16() is learn
    assert [c.amp_mode for c in learn.cbs if isinstance(c, MixedPrecision)] == ["bf16"]
    learn.fit(2)
    train_losses = [row[0] for row in learn.recorder.values]
    assert all(math.isfinite(v) for row in learn.recorder.values for v in row)
    assert train_losses[-1] < train_losses[0]
    assert learn.model[0].weight.dtype == torch.float32  # autocast: the weights stay fp32
    learn.to_fp32()
    assert not any(isinstance(c, MixedPrecision) for c in learn.cbs)
    assert not hasattr(learn, "mixed_precision")
    learn.fit(1)  # still trains without it


def test_to_fp16_replaces_bf16_with_one_callback():
    learn = Learner(blobs(), mlp(), CrossEntropyLossFlat())
    learn.to_bf16().to_fp16(init_scale=256.0)
    amp = [c for c in learn.cbs if isinstance(c, MixedPrecision)]
    assert [c.amp_mode for c in amp] == ["fp16"]
    assert learn.mixed_precision is amp[0]


def test_summary_rows_match_hand_computed_shapes():
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(24, 1, 8, 8, generator=g), torch.arange(24) % 3
    dls = DataLoader(TensorDataset(x, y), batch_size=6), DataLoader(TensorDataset(x, y), batch_size=6)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    learn = Learner(dls, model, CrossEntropyLossFlat())
    s = learn.summary()
    # by hand: padding 1 keeps 8x8; pooling by 2 halves it; 4 * 4 * 4 = 64 features; conv 4*1*3*3 + 4 = 40
    # parameters, linear 64*3 + 3 = 195
    assert [(r.name, r.kind, r.output_shape, r.params) for r in s.rows] == [
        ("0", "Conv2d", (6, 4, 8, 8), 40),
        ("1", "ReLU", (6, 4, 8, 8), 0),
        ("2", "MaxPool2d", (6, 4, 4, 4), 0),
        ("3", "Flatten", (6, 64), 0),
        ("4", "Linear", (6, 3), 195),
    ]
    assert s.total_params == s.trainable_params == 235
    assert "Total params: 235" in str(s)


def test_tta_method_averages_as_documented():
    learn = Learner(blobs(), mlp(), CrossEntropyLossFlat())
    x = learn.dls.valid.dataset.tensors[0]
    with torch.no_grad():
        plain = torch.softmax(learn.model(x), 1)
        scaled = torch.softmax(learn.model(2 * x), 1)
        shifted = torch.softmax(learn.model(x + 1), 1)
    preds, targs = learn.tta(n=3, beta=0.4, aug=lambda t: 2 * t)
    torch.testing.assert_close(preds, 0.4 * plain + 0.6 * scaled)
    torch.testing.assert_close(targs, learn.dls.valid.dataset.tensors[1])
    # n passes of alternating augmentations: their mean (or max), with beta=None the plain pass is left out
    calls = []

    def alternate(t):
        calls.append(1)
        return 2 * t if len(calls) % 2 else t + 1

    mean, _ = learn.tta(n=2, beta=None, aug=alternate)
    torch.testing.assert_close(mean, (scaled + shifted) / 2)
    mx, _ = learn.tta(n=2, beta=None, aug=alternate, use_max=True)
    torch.testing.assert_close(mx, torch.maximum(scaled, shifted))


def test_compile_method_checks_its_arguments_and_keeps_state_dict_keys():
    learn = Learner(blobs(), mlp(), CrossEntropyLossFlat())
    with pytest.raises(TypeError, match=r"unknown torch\.compile argument"):
        learn.compile(fullgraf=True)
    keys = list(learn.model.state_dict())
    assert learn.compile(backend="eager") is learn
    assert learn.compile_kwargs == {"backend": "eager"}
    assert list(learn.model.state_dict()) == keys


def test_distrib_ctx_method_is_a_no_op_in_one_process(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    learn = Learner(blobs(), mlp(), CrossEntropyLossFlat())
    before = list(learn.cbs)
    with learn.distrib_ctx() as same:
        assert same is learn
        assert not any(isinstance(c, DistributedTrainer) for c in learn.cbs)
    assert learn.cbs == before


def test_combination_with_the_default_adam_and_weight_decay(tmp_path):
    # The default optimizer path: pluggable-optim Adam with weight decay, and wd_bn_bias=False so NoBnBiasDecay
    # keeps decay off the biases and the batch norm, under every technique at once.
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 3))
    cbs = [
        GradientAccumulation(32),
        GradientClip(1.0),
        MixUp(0.4),
        SaveModelCallback(),
        EarlyStoppingCallback(patience=3),
        EMA(0.9),
    ]
    learn = quiet(Learner(blobs(), model, CrossEntropyLossFlat(), wd=0.1, path=tmp_path, cbs=cbs))
    learn.to_bf16()
    before = learn.validate()[0]
    with pytest.warns(UserWarning, match="BatchNorm"):
        learn.fit_one_cycle(5, 1e-2)
    after = learn.validate()[0]
    assert after < 0.5 * before, (before, after)
    assert any(isinstance(c, NoBnBiasDecay) for c in learn.cbs)
    assert learn.opt.hypers[0]["wd"] == 0.1
    train_losses = [row[0] for row in learn.recorder.values]
    assert all(math.isfinite(v) for v in train_losses)
    assert train_losses[-1] < train_losses[0]
    assert learn.gradient_accumulation.n_steps > 0
    assert (tmp_path / "models" / "model.pth").exists()
