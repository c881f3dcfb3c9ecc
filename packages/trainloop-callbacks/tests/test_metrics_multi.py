"""Multi-class segmentation and multi-label metrics, against scikit-learn and hand-computed values."""

import math

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from trainloop_callbacks import Learner
from trainloop_callbacks.metrics import DiceMulti, F1ScoreMulti, JaccardCoeffMulti, RocAucMulti, foreground_acc

skm = pytest.importorskip("sklearn.metrics")


def _logits(pred_mask, n_classes):
    """Logits whose argmax over axis 1 is `pred_mask`."""
    return torch.nn.functional.one_hot(pred_mask, n_classes).permute(0, 3, 1, 2).float()


# ---- segmentation -------------------------------------------------------------------------------------


def test_dice_multi_hand_computed_and_accumulated_over_batches():
    # batch 1: class 0 pred {a,b} targ {a}; class 1 pred {c} targ {b,c}; class 2 absent
    p1, t1 = torch.tensor([[[0, 0, 1]]]), torch.tensor([[[0, 1, 1]]])
    # batch 2: class 2 pred {a} targ {a,b}; class 1 pred {b} targ {}
    p2, t2 = torch.tensor([[[2, 1, 0]]]), torch.tensor([[[2, 2, 0]]])
    dice, jac = DiceMulti(), JaccardCoeffMulti()
    for m in (dice, jac):
        m.accum_values(_logits(p1, 3), t1)
        m.accum_values(_logits(p2, 3), t2)
    # summed: class 0 inter 2, |p|+|t| 3+2=5; class 1 inter 1, 2+2=4; class 2 inter 1, 1+2=3
    assert dice.per_class == pytest.approx([4 / 5, 2 / 4, 2 / 3])
    assert dice.value == pytest.approx((4 / 5 + 2 / 4 + 2 / 3) / 3)
    assert jac.per_class == pytest.approx([2 / 3, 1 / 3, 1 / 2])
    assert jac.value == pytest.approx((2 / 3 + 1 / 3 + 1 / 2) / 3)
    dice.exclude = (0,)
    assert dice.value == pytest.approx((2 / 4 + 2 / 3) / 2)
    # the per-batch average would differ: the metric accumulates, it does not average per batch
    b1, b2 = DiceMulti(), DiceMulti()
    b1.accum_values(_logits(p1, 3), t1)
    b2.accum_values(_logits(p2, 3), t2)
    assert b1.value == pytest.approx(2 / 3) and b2.value == pytest.approx((1 + 0 + 2 / 3) / 3)
    assert (b1.value + b2.value) / 2 != pytest.approx((4 / 5 + 2 / 4 + 2 / 3) / 3, abs=0.01)


def test_dice_multi_against_sklearn_f1_per_class():
    g = torch.Generator().manual_seed(0)
    preds = torch.randn(4, 5, 6, 7, generator=g)
    targs = torch.randint(0, 4, (4, 6, 7), generator=g)  # class 4 never in targets but predicted
    dice, jac = DiceMulti(), JaccardCoeffMulti()
    for i in range(0, 4, 2):  # two batches
        dice.accum_values(preds[i : i + 2], targs[i : i + 2].unsqueeze(1))  # a channel axis of 1 is accepted
        jac.accum_values(preds[i : i + 2], targs[i : i + 2])
    y, p = targs.reshape(-1).numpy(), preds.argmax(1).reshape(-1).numpy()
    f1 = skm.f1_score(y, p, labels=list(range(5)), average=None, zero_division=0)
    j = skm.jaccard_score(y, p, labels=list(range(5)), average=None, zero_division=0)
    assert dice.per_class == pytest.approx(f1.tolist())
    assert dice.value == pytest.approx(f1.mean())
    assert jac.value == pytest.approx(j.mean())


def test_dice_multi_absent_class_and_ignore_index():
    dice = DiceMulti()
    assert dice.value is None
    targ = torch.tensor([[[0, 1, 255]]])  # 255: an ignored pixel counts for no class
    dice.accum_values(_logits(torch.tensor([[[0, 1, 1]]]), 3), targ)
    per = dice.per_class
    assert per[0] == 1.0 and per[1] == pytest.approx(2 / 3) and math.isnan(per[2])
    assert dice.value == pytest.approx((1 + 2 / 3) / 2)
    with pytest.raises(ValueError, match="differ"):
        dice.accum_values(torch.randn(1, 3, 2, 2), torch.zeros(1, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="4 classes in this batch, 3 before"):
        dice.accum_values(torch.randn(1, 4, 1, 3), torch.zeros(1, 1, 3, dtype=torch.long))


def test_foreground_acc():
    inp = _logits(torch.tensor([[[0, 1, 2, 2]]]), 3)
    targ = torch.tensor([[[0, 1, 1, 2]]])
    # background pixel ignored; foreground 1, 1, 2 predicted 1, 2, 2: 2 of 3
    assert foreground_acc(inp, targ).item() == pytest.approx(2 / 3)
    assert foreground_acc(inp, targ.unsqueeze(1)).item() == pytest.approx(2 / 3)
    assert foreground_acc(inp, targ, bkg_idx=1).item() == pytest.approx(1.0)  # pixels 0 and 3
    with pytest.raises(ValueError, match="differ"):
        foreground_acc(inp, torch.zeros(1, 1, 3, dtype=torch.long))


def test_segmentation_metrics_through_learner():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(12, 3, 4, 4, generator=g)
    y = torch.randint(0, 3, (12, 4, 4), generator=g)
    dl = DataLoader(TensorDataset(x, y), batch_size=5)
    model = torch.nn.Conv2d(3, 3, 1)
    dice = DiceMulti()
    learn = Learner((dl, dl), model, torch.nn.CrossEntropyLoss(), metrics=[dice, foreground_acc])
    with learn.no_bar():
        learn.fit(1, lr=0.0)  # lr 0: the model stays, so the expectation can be computed directly
    with torch.no_grad():
        p = model(x).argmax(1).reshape(-1).numpy()
    f1 = skm.f1_score(y.reshape(-1).numpy(), p, labels=[0, 1, 2], average=None, zero_division=0)
    assert dice.value == pytest.approx(f1.mean())
    assert learn.recorder.values[-1][-2] == pytest.approx(f1.mean())


# ---- multi-label ----------------------------------------------------------------------------------------


def _multilabel(n=60, n_labels=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    targs = (torch.rand(n, n_labels, generator=g) > 0.6).float()
    logits = (targs * 2 - 1) * 0.7 + torch.randn(n, n_labels, generator=g)
    logits = (logits * 4).round() / 4  # ties, which the AUC must average
    return logits, targs


@pytest.mark.parametrize("average", ["micro", "macro", "weighted", "samples"])
@pytest.mark.parametrize(("thresh", "sigmoid"), [(0.5, True), (0.7, True), (0.0, False)])
def test_f1_score_multi_against_sklearn(average, thresh, sigmoid):
    logits, targs = _multilabel()
    m = F1ScoreMulti(thresh=thresh, sigmoid=sigmoid, average=average)
    m.reset()
    m.accum_values(logits[:25], targs[:25])
    m.accum_values(logits[25:], targs[25:])
    # sigmoid per batch, as the metric sees it (a batch's kernel may round differently from the whole's)
    scores = torch.cat([logits[:25].sigmoid(), logits[25:].sigmoid()]) if sigmoid else logits
    expected = skm.f1_score(targs.numpy(), (scores >= thresh).numpy(), average=average, zero_division=0)
    assert m.value == pytest.approx(expected)


@pytest.mark.parametrize("average", ["macro", "micro", "weighted", "samples"])
def test_roc_auc_multi_against_sklearn(average):
    logits, targs = _multilabel(n=40, n_labels=4, seed=1)
    if average == "samples":  # every item needs both classes among its labels
        targs[:, 0], targs[:, 1] = 1.0, 0.0
    m = RocAucMulti(average=average)
    m.accum_values(logits[:15], targs[:15])
    m.accum_values(logits[15:], targs[15:])
    scores = torch.cat([logits[:15].sigmoid(), logits[15:].sigmoid()])  # per batch, as the metric sees them
    expected = skm.roc_auc_score(targs.numpy(), scores.numpy(), average=average)
    assert m.value == pytest.approx(expected)


def test_multilabel_errors():
    with pytest.raises(ValueError, match="average"):
        F1ScoreMulti(average="binary")
    m = RocAucMulti()
    m.accum_values(torch.randn(4, 2), torch.tensor([[1.0, 0], [1, 1], [1, 0], [1, 1]]))
    with pytest.raises(ValueError, match=r"labels \[0\], whose targets are all of one class"):
        _ = m.value
    m = F1ScoreMulti()
    m.accum_values(torch.randn(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="same shape"):
        _ = m.value


def test_multilabel_metrics_through_learner():
    _, targs = _multilabel(n=32, n_labels=3)
    x = torch.randn(32, 4, generator=torch.Generator().manual_seed(2))
    dl = DataLoader(TensorDataset(x, targs), batch_size=10)
    model = torch.nn.Linear(4, 3)
    f1, auc = F1ScoreMulti(), RocAucMulti()
    learn = Learner((dl, dl), model, torch.nn.BCEWithLogitsLoss(), metrics=[f1, auc])
    with learn.no_bar():
        learn.fit(1, lr=0.0)
    with torch.no_grad():
        scores = model(x).sigmoid()
    assert f1.value == pytest.approx(skm.f1_score(targs.numpy(), (scores >= 0.5).numpy(), average="micro"))
    assert auc.value == pytest.approx(skm.roc_auc_score(targs.numpy(), scores.numpy(), average="macro"))
