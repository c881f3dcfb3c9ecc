"""Model utilities: model_sizes, dummy_eval, num_features_model, in_channels, params_of, ModelResetter."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from trainloop_callbacks import Callback, Learner, MSELossFlat
from trainloop_callbacks.layers import ConvLayer
from trainloop_callbacks.models.model_utils import (
    ModelResetter,
    dummy_eval,
    in_channels,
    model_sizes,
    num_features_model,
    params_of,
)


def _body():
    return nn.Sequential(ConvLayer(3, 8, stride=2), ConvLayer(8, 16, stride=2), nn.MaxPool2d(2), ConvLayer(16, 32))


def test_model_sizes_hand_computed():
    m = _body()
    assert model_sizes(m, (64, 48)) == [(1, 8, 32, 24), (1, 16, 16, 12), (1, 16, 8, 6), (1, 32, 8, 6)]
    assert model_sizes(m, (5, 5))[-1] == (1, 32, 1, 1)


def test_dummy_eval_restores_mode_and_follows_device_dtype():
    m = _body().double().train()
    out = dummy_eval(m, (16, 16))
    assert out.shape == (1, 32, 2, 2) and out.dtype == torch.float64 and not out.requires_grad
    assert m.training and all(c.training for c in m.modules())
    bn = m[0][1]
    before = bn.running_mean.clone()
    dummy_eval(m)
    torch.testing.assert_close(bn.running_mean, before)  # evaluated in eval mode: statistics untouched


def test_in_channels():
    assert in_channels(_body()) == 3
    wn = ConvLayer(5, 4, norm_type="Weight")  # a parametrized conv still exposes its weight
    assert in_channels(nn.Sequential(nn.Identity(), wn)) == 5
    with pytest.raises(ValueError, match="4-dimensional"):
        in_channels(nn.Sequential(nn.Linear(3, 4)))


def test_num_features_model_grows_the_image_until_the_body_fits():
    assert num_features_model(_body()) == 32
    # 6 halvings with a 3x3 unpadded conv at the end: 32 px is too small, 64 px is not
    deep = nn.Sequential(*[nn.MaxPool2d(2) for _ in range(5)], nn.Conv2d(3, 7, 3))
    with pytest.raises(RuntimeError):
        model_sizes(deep, (32, 32))
    assert num_features_model(deep) == 7


def test_params_of_keeps_order_once():
    a, b = nn.Linear(2, 3), nn.Linear(3, 1)
    shared = nn.Sequential(a, b, a)
    ps = params_of(shared, b)
    assert [p.shape for p in ps] == [(3, 2), (3,), (1, 3), (1,)]
    assert params_of(a) == [a.weight, a.bias]
    with pytest.raises(TypeError, match=r"nn\.Module"):
        params_of([a])


class _Stateful(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(2, 1)
        self.resets = 0

    def reset(self):
        self.resets += 1

    def forward(self, x):
        return self.lin(x)


class _Log(Callback):
    run_after = (ModelResetter,)

    def __init__(self):
        self.log = []

    def before_train(self):
        self.log.append(("train", self.learn.model.resets))

    def before_validate(self):
        self.log.append(("valid", self.learn.model.resets))


def test_model_resetter_calls_reset_at_fastai_events():
    x, y = torch.randn(8, 2), torch.randn(8, 1)
    dl = DataLoader(TensorDataset(x, y), batch_size=4)
    model, log = _Stateful(), _Log()
    learn = Learner((dl, dl), model, MSELossFlat(), cbs=[ModelResetter(), log])
    with learn.no_bar():
        learn.fit(2)
    # reset before each training and validation phase (seen already done by _Log), and once after fit
    assert log.log == [("train", 1), ("valid", 2), ("train", 3), ("valid", 4)]
    assert model.resets == 5
    plain = Learner((dl, dl), nn.Linear(2, 1), MSELossFlat(), cbs=ModelResetter())
    with plain.no_bar():
        plain.fit(1)  # a model without reset is left alone


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU (no CUDA device here)")
def test_model_utils_and_segmentation_metric_on_gpu():
    from trainloop_callbacks.metrics import DiceMulti

    m = _body().cuda()
    assert dummy_eval(m, (16, 16)).device.type == "cuda"
    assert model_sizes(m, (16, 16))[-1] == (1, 32, 2, 2) and num_features_model(m) == 32
    dice = DiceMulti()
    pred = torch.randn(2, 3, 4, 4, device="cuda")
    targ = pred.argmax(1)
    dice.accum_values(pred, targ)
    assert dice.value == pytest.approx(1.0)
