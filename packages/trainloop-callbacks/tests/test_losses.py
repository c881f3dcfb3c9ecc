"""Losses: values against torch's functional forms and hand computations, activation/decodes, shape errors."""

import pytest
import torch
import torch.nn.functional as F

from trainloop_callbacks import (
    BCELossFlat,
    BCEWithLogitsLossFlat,
    CrossEntropyLossFlat,
    DiceLoss,
    FocalLossFlat,
    L1LossFlat,
    LabelSmoothingCrossEntropy,
    LabelSmoothingCrossEntropyFlat,
    MSELossFlat,
)
from trainloop_callbacks.losses import loss_from_kind, unreduced

g = torch.Generator().manual_seed(0)


def test_cross_entropy_flat_over_any_axis():
    out = torch.randn(2, 5, 3, generator=g)  # (bs, seq, classes)
    targ = torch.randint(0, 3, (2, 5), generator=g)
    loss = CrossEntropyLossFlat()
    assert torch.allclose(loss(out, targ), F.cross_entropy(out.reshape(-1, 3), targ.reshape(-1)))
    chan_first = CrossEntropyLossFlat(axis=1)  # (bs, classes, seq), as segmentation outputs are
    assert torch.allclose(chan_first(out.transpose(1, 2), targ), loss(out, targ))
    probs = loss.activation(out)
    assert torch.allclose(probs.sum(-1), torch.ones(2, 5))
    assert torch.equal(loss.decodes(probs), out.argmax(-1))
    loss.reduction = "none"
    assert loss(out, targ).shape == (10,)


def test_bce_losses():
    out = torch.randn(4, 3, generator=g)
    targ = torch.randint(0, 2, (4, 3), generator=g)
    assert torch.allclose(BCEWithLogitsLossFlat()(out, targ), F.binary_cross_entropy_with_logits(out, targ.float()))
    assert torch.equal(BCEWithLogitsLossFlat(thresh=0.7).decodes(torch.tensor([0.6, 0.8])), torch.tensor([False, True]))
    p = out.sigmoid()
    assert torch.allclose(BCELossFlat()(p, targ), F.binary_cross_entropy(p, targ.float()))


def test_regression_losses_flatten_and_floatify():
    out = torch.randn(6, 1, generator=g)
    targ = torch.randint(0, 5, (6,), generator=g)
    assert torch.allclose(MSELossFlat()(out, targ), ((out.squeeze(1) - targ.float()) ** 2).mean())
    assert torch.allclose(L1LossFlat()(out, targ), (out.squeeze(1) - targ.float()).abs().mean())


def test_shape_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"CrossEntropyLossFlat.*\(4, 3\).*\(5,\)"):
        CrossEntropyLossFlat()(torch.randn(4, 3), torch.zeros(5, dtype=torch.long))
    with pytest.raises(ValueError, match=r"MSELossFlat.*\(4, 2\).*\(4,\)"):
        MSELossFlat()(torch.randn(4, 2), torch.zeros(4))


def test_label_smoothing_by_hand_and_vs_torch():
    out = torch.randn(5, 4, generator=g)
    targ = torch.randint(0, 4, (5,), generator=g)
    eps = 0.1
    logp = out.log_softmax(-1)
    by_hand = ((1 - eps) * -logp[torch.arange(5), targ] + eps * -logp.mean(-1)).mean()
    assert torch.allclose(LabelSmoothingCrossEntropy(eps)(out, targ), by_hand)
    assert torch.allclose(
        LabelSmoothingCrossEntropyFlat(eps)(out, targ), F.cross_entropy(out, targ, label_smoothing=eps)
    )


def test_focal_loss_by_hand():
    out = torch.randn(5, 3, generator=g)
    targ = torch.randint(0, 3, (5,), generator=g)
    p_t = out.softmax(-1)[torch.arange(5), targ]
    assert torch.allclose(FocalLossFlat(gamma=2.0)(out, targ), ((1 - p_t) ** 2 * -p_t.log()).mean())
    assert torch.allclose(FocalLossFlat(gamma=0.0)(out, targ), F.cross_entropy(out, targ))


def test_dice_loss_by_hand():
    out = torch.randn(2, 3, 4, 4, generator=g)
    targ = torch.randint(0, 3, (2, 4, 4), generator=g)
    probs = out.softmax(1)
    onehot = F.one_hot(targ, 3).permute(0, 3, 1, 2).float()
    inter = (probs * onehot).sum((2, 3))
    union = (probs + onehot).sum((2, 3))
    expected = (1 - (2 * inter + 1e-6) / (union + 1e-6)).sum()
    loss = DiceLoss()
    assert torch.allclose(loss(out, targ), expected)
    assert torch.equal(loss.decodes(loss.activation(out)), out.argmax(1))
    with pytest.raises(ValueError, match="DiceLoss"):
        loss(out, targ[:, :2])


# Shapes (N, C, H, W): square and non-square images, the class axis at 1 as segmentation models output it.
_IMAGE_SHAPES = [(2, 4, 3, 3), (2, 4, 3, 5)]


@pytest.mark.parametrize("shape", _IMAGE_SHAPES)
def test_flat_losses_match_torch_class_axis_1(shape):
    n, c, h, w = shape
    out = torch.randn(*shape, generator=g)
    targ = torch.randint(0, c, (n, h, w), generator=g)
    weight = torch.rand(c, generator=g) + 0.5
    targ_ignored = targ.clone()
    targ_ignored[0, 0] = 255
    assert torch.allclose(CrossEntropyLossFlat(axis=1)(out, targ), F.cross_entropy(out, targ))
    assert torch.allclose(
        CrossEntropyLossFlat(weight=weight, axis=1, ignore_index=255)(out, targ_ignored),
        F.cross_entropy(out, targ_ignored, weight=weight, ignore_index=255),
    )
    probs_targ = torch.rand(*shape, generator=g).softmax(1)  # class probabilities as targets
    assert torch.allclose(CrossEntropyLossFlat(axis=1)(out, probs_targ), F.cross_entropy(out, probs_targ))
    assert torch.allclose(
        LabelSmoothingCrossEntropyFlat(0.1, axis=1)(out, targ), F.cross_entropy(out, targ, label_smoothing=0.1)
    )
    ce = F.cross_entropy(out, targ, reduction="none")
    assert torch.allclose(FocalLossFlat(gamma=2.0, axis=1)(out, targ), ((1 - (-ce).exp()) ** 2 * ce).mean())
    dice = DiceLoss(axis=1)
    assert torch.allclose(DiceLoss(axis=-1)(out.movedim(1, -1), targ), dice(out, targ))
    loss = CrossEntropyLossFlat(axis=1)
    assert torch.equal(loss.decodes(loss.activation(out)), out.argmax(1))
    assert loss.decodes(out).shape == targ.shape


@pytest.mark.parametrize("shape", _IMAGE_SHAPES)
def test_flat_losses_match_torch_same_shape_targets_axis_1(shape):
    out = torch.randn(*shape, generator=g)
    targ = torch.randint(0, 2, shape, generator=g)
    assert torch.allclose(
        BCEWithLogitsLossFlat(axis=1)(out, targ), F.binary_cross_entropy_with_logits(out, targ.float())
    )
    assert torch.allclose(BCELossFlat(axis=1)(out.sigmoid(), targ), F.binary_cross_entropy(out.sigmoid(), targ.float()))
    real = torch.randn(*shape, generator=g)
    assert torch.allclose(MSELossFlat(axis=1)(out, real), F.mse_loss(out, real))
    assert torch.allclose(L1LossFlat(axis=1)(out, real), F.l1_loss(out, real))
    loss = MSELossFlat(axis=1)
    loss.reduction = "none"  # element order follows the moved axis: (N, H, W, C)
    assert torch.allclose(loss(out, real), ((out - real) ** 2).movedim(1, -1).reshape(-1))


@pytest.mark.parametrize(
    ("loss_kind", "cls", "axis"),
    [
        ({"kind": "cross_entropy", "axis": -1}, CrossEntropyLossFlat, -1),
        ({"kind": "cross_entropy", "axis": 1}, CrossEntropyLossFlat, 1),
        ({"kind": "cross_entropy"}, CrossEntropyLossFlat, -1),
        ({"kind": "bce", "axis": -1}, BCEWithLogitsLossFlat, -1),
        ({"kind": "mse", "axis": -1}, MSELossFlat, -1),
    ],
)
def test_loss_from_kind(loss_kind, cls, axis):
    loss = loss_from_kind(loss_kind)
    assert type(loss) is cls and loss.axis == axis


@pytest.mark.parametrize(
    "bad",
    [
        {"kind": "hinge"},
        {"axis": 1},
        {"kind": "mse", "axis": 1.5},
        {"kind": "mse", "axis": True},
        {"kind": "bce", "c": 3},
    ],
)
def test_loss_from_kind_refuses_what_it_cannot_read(bad):
    with pytest.raises(
        ValueError, match=r"loss_kind .* cannot be read: expected 'kind' one of \['bce', 'cross_entropy', 'mse'\]"
    ):
        loss_from_kind(bad)
    with pytest.raises(TypeError, match="loss_kind must be a dict"):
        loss_from_kind("cross_entropy")


def test_unreduced_gives_per_item_losses_and_restores_the_reduction():
    lf = CrossEntropyLossFlat()
    pred, targ = torch.randn(4, 3), torch.tensor([0, 1, 2, 1])
    with unreduced(lf, "test") as old:
        per_item = lf(pred, targ)
    assert old == "mean" and lf.reduction == "mean" and per_item.shape == (4,)
    torch.testing.assert_close(per_item.mean(), lf(pred, targ))
    with pytest.raises(ValueError, match="test needs a loss_func with a `reduction` attribute"):
        with unreduced(lambda p, t: p.sum(), "test"):
            pass
