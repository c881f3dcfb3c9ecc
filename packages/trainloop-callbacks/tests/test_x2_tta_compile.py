"""TTA against hand-blended predictions; learn.compile across freeze/unfreeze and discriminative lrs."""

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from pluggable_optim import SGD
from trainloop_callbacks import CrossEntropyLossFlat, Learner
from trainloop_callbacks.callbacks.compiled import compile_learner
from trainloop_callbacks.inference.tta import tta


def clf():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(40, 4, generator=g)
    y = torch.arange(40) % 3
    ds = TensorDataset(x, y)
    return DataLoader(ds, batch_size=8, shuffle=True), DataLoader(ds, batch_size=8)


def learner(dls=None):
    torch.manual_seed(0)
    return Learner(dls or clf(), nn.Linear(4, 3), loss_func=CrossEntropyLossFlat(), opt_func=SGD)


def test_tta_with_explicit_augmentation_blends_with_plain_predictions():
    learn = learner()
    x = learn.dls.valid.dataset.tensors[0]
    with torch.no_grad():
        plain = torch.softmax(learn.model(x), 1)
        flipped = torch.softmax(learn.model(-x), 1)
    preds, targs = tta(learn, n=3, beta=0.25, aug=lambda t: -t)
    torch.testing.assert_close(preds, 0.25 * plain + 0.75 * flipped)
    torch.testing.assert_close(targs, learn.dls.valid.dataset.tensors[1])
    only_aug, _ = tta(learn, n=2, beta=None, aug=lambda t: -t)
    torch.testing.assert_close(only_aug, flipped)


def test_tta_max_over_random_passes():
    learn = learner()
    noisy = lambda t: t + torch.randn_like(t)  # noqa: E731
    torch.manual_seed(5)
    mean, _ = tta(learn, n=4, beta=None, aug=noisy)
    torch.manual_seed(5)
    mx, _ = tta(learn, n=4, beta=None, aug=noisy, use_max=True)
    assert (mx >= mean - 1e-7).all() and not torch.allclose(mx, mean)


class AugmentingLoader:
    """A loader with datablock's `new(...)`: the copy applies this loader's 'augmentation' (+1) to the items."""

    def __init__(self, dataset, shuffle=False, drop_last=False):
        self.dataset, self.shuffle, self.drop_last = dataset, shuffle, drop_last

    def new(self, dataset=None, shuffle=None, drop_last=None):
        return AugmentingLoader(dataset, bool(shuffle), bool(drop_last))

    def __len__(self):
        return (len(self.dataset) + 7) // 8

    def __iter__(self):
        x, y = self.dataset.tensors
        for i in range(0, len(x), 8):
            yield x[i : i + 8] + 1.0, y[i : i + 8]


class Data:
    def __init__(self, train, valid):
        self.train, self.valid = train, valid


def test_tta_uses_the_training_loaders_transforms_by_duck_typing():
    _, valid = clf()
    learn = learner(Data(AugmentingLoader(valid.dataset, shuffle=True), valid))
    x = valid.dataset.tensors[0]
    with torch.no_grad():
        expected = 0.5 * torch.softmax(learn.model(x), 1) + 0.5 * torch.softmax(learn.model(x + 1), 1)
    preds, _ = tta(learn, n=2, beta=0.5)
    torch.testing.assert_close(preds, expected)


def test_tta_without_augmentations_says_what_is_missing():
    learn = learner()
    learn.dls.train = list(learn.dls.train)
    with pytest.raises(ValueError, match=r"tta needs augmentations: pass aug="):
        tta(learn)


def test_compile_rejects_unknown_arguments():
    with pytest.raises(TypeError, match=r"unknown torch.compile argument\(s\) \['fullgraf'\]"):
        compile_learner(learner(), fullgraf=True)


def two_group_learner():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = torch.arange(64) % 3
    dls = DataLoader(TensorDataset(x, y), batch_size=16), DataLoader(TensorDataset(x, y), batch_size=16)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    learn = Learner(
        dls,
        model,
        loss_func=CrossEntropyLossFlat(),
        opt_func=SGD,
        lr=0.1,
        splitter=lambda m: [list(m[0].parameters()), list(m[2].parameters())],
    )
    learn.remove_cb(learn.progress)
    learn.logger = None
    return learn


@pytest.mark.slow
def test_compile_on_cpu_across_freeze_unfreeze_and_discriminative_lrs():
    runs = []
    for compiled in (False, True):
        learn = two_group_learner()
        if compiled:
            compile_learner(learn, backend="aot_eager")
        learn.fit(1)
        learn.freeze()
        frozen = learn.model[0].weight.detach().clone()
        learn.fit(1)
        assert torch.equal(learn.model[0].weight, frozen)  # the frozen group did not move
        learn.unfreeze()
        learn.fit(1, lr=slice(1e-2, 1e-1))
        runs.append([p.detach().clone() for p in learn.model.parameters()])
        assert list(learn.model.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    for a, b in zip(*runs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
