"""Metrics against scikit-learn and hand computations."""

import math

import numpy as np
import pytest
import torch
from sklearn import metrics as skm

from trainloop_callbacks.metrics import (
    AccumMetric,
    AvgMetric,
    BalancedAccuracy,
    CohenKappa,
    Dice,
    F1Score,
    FBeta,
    JaccardCoeff,
    MatthewsCorrCoef,
    PearsonCorrCoef,
    Perplexity,
    Precision,
    R2Score,
    Recall,
    RocAucBinary,
    accuracy,
    accuracy_multi,
    error_rate,
    exp_rmspe,
    mae,
    mse,
    msle,
    rmse,
    top_k_accuracy,
)
from trainloop_callbacks.metrics.base import AvgLoss, AvgSmoothLoss

g = torch.Generator().manual_seed(0)
LOGITS = torch.randn(200, 4, generator=g)
TARGS = torch.randint(0, 4, (200,), generator=g)
PREDS = LOGITS.argmax(1)
BIN_LOGITS = torch.randn(200, 2, generator=g)
BIN_TARGS = torch.randint(0, 2, (200,), generator=g)


def _accum(metric, preds, targs, chunks=4):
    metric.reset()
    for p, t in zip(preds.chunk(chunks), targs.chunk(chunks), strict=True):
        metric.accum_values(p, t)
    return metric.value


def test_accuracy_error_top_k():
    assert float(accuracy(LOGITS, TARGS)) == pytest.approx(skm.accuracy_score(TARGS, PREDS))
    assert float(error_rate(LOGITS, TARGS)) == pytest.approx(1 - skm.accuracy_score(TARGS, PREDS))
    assert float(top_k_accuracy(LOGITS, TARGS, k=2)) == pytest.approx(
        skm.top_k_accuracy_score(TARGS, LOGITS.numpy(), k=2, labels=range(4))
    )
    assert float(top_k_accuracy(LOGITS, TARGS, k=4)) == 1.0


def test_accuracy_multi_by_hand():
    inp = torch.tensor([[2.0, -1.0], [-3.0, 0.5]])
    targ = torch.tensor([[1, 1], [0, 1]])
    assert float(accuracy_multi(inp, targ)) == 0.75  # sigmoid > .5: [[1,0],[0,1]] vs targets: 3 of 4 right
    with pytest.raises(ValueError, match="differ in size"):
        accuracy_multi(inp, targ[:1])


@pytest.mark.parametrize("average", ["macro", "micro", "weighted"])
def test_f1_precision_recall_fbeta_vs_sklearn(average):
    for metric, ref in [
        (F1Score(average=average), skm.f1_score(TARGS, PREDS, average=average)),
        (Precision(average=average), skm.precision_score(TARGS, PREDS, average=average, zero_division=0)),
        (Recall(average=average), skm.recall_score(TARGS, PREDS, average=average, zero_division=0)),
        (FBeta(2.0, average=average), skm.fbeta_score(TARGS, PREDS, beta=2.0, average=average)),
    ]:
        assert _accum(metric, LOGITS, TARGS) == pytest.approx(ref)


def test_binary_classification_metrics_vs_sklearn():
    preds = BIN_LOGITS.argmax(1)
    assert _accum(F1Score(), BIN_LOGITS, BIN_TARGS) == pytest.approx(skm.f1_score(BIN_TARGS, preds))
    assert _accum(Precision(), BIN_LOGITS, BIN_TARGS) == pytest.approx(skm.precision_score(BIN_TARGS, preds))
    assert _accum(Recall(), BIN_LOGITS, BIN_TARGS) == pytest.approx(skm.recall_score(BIN_TARGS, preds))
    probs = torch.softmax(BIN_LOGITS, 1)[:, 1]
    assert _accum(RocAucBinary(), BIN_LOGITS, BIN_TARGS) == pytest.approx(skm.roc_auc_score(BIN_TARGS, probs))
    with pytest.raises(ValueError, match="0/1 labels"):
        _accum(F1Score(), LOGITS, TARGS)


def test_roc_auc_with_ties_by_hand():
    m = RocAucBinary()
    m.accum_values(torch.tensor([0.0, 0.0, 1.0, 2.0]), torch.tensor([0, 1, 0, 1]))
    # pairs (pos, neg): (0,0) tie -> .5, (0,1) lose, (2,0) win, (2,1) win => 2.5 / 4
    assert m.value == pytest.approx(0.625)


def test_mcc_balanced_accuracy_kappa_vs_sklearn():
    assert _accum(MatthewsCorrCoef(), LOGITS, TARGS) == pytest.approx(skm.matthews_corrcoef(TARGS, PREDS))
    assert _accum(BalancedAccuracy(), LOGITS, TARGS) == pytest.approx(skm.balanced_accuracy_score(TARGS, PREDS))
    for w in (None, "linear", "quadratic"):
        assert _accum(CohenKappa(weights=w), LOGITS, TARGS) == pytest.approx(
            skm.cohen_kappa_score(TARGS, PREDS, weights=w)
        )
    with pytest.raises(ValueError, match="weights"):
        CohenKappa(weights="cubic")


def test_dice_and_jaccard_vs_sklearn():
    logits = torch.randn(3, 2, 5, 5, generator=g)
    masks = torch.randint(0, 2, (3, 5, 5), generator=g)
    pred = logits.argmax(1)
    dice, jac = Dice(), JaccardCoeff()
    for m in (dice, jac):
        m.reset()
        m.accum_values(logits[:2], masks[:2])
        m.accum_values(logits[2:], masks[2:])
    assert dice.value == pytest.approx(skm.f1_score(masks.flatten(), pred.flatten()))
    assert jac.value == pytest.approx(skm.jaccard_score(masks.flatten(), pred.flatten()))


def test_regression_metrics_vs_sklearn():
    p = torch.rand(100, generator=g) * 3
    t = torch.rand(100, generator=g) * 3
    assert float(mse(p, t)) == pytest.approx(skm.mean_squared_error(t, p), rel=1e-5)
    assert float(mae(p, t)) == pytest.approx(skm.mean_absolute_error(t, p), rel=1e-5)
    assert float(msle(p, t)) == pytest.approx(skm.mean_squared_log_error(t, p), rel=1e-5)
    assert _accum(rmse, p, t) == pytest.approx(math.sqrt(skm.mean_squared_error(t, p)), rel=1e-5)
    assert _accum(R2Score(), p, t) == pytest.approx(skm.r2_score(t, p), rel=1e-5)
    assert _accum(PearsonCorrCoef(), p, t) == pytest.approx(np.corrcoef(p.numpy(), t.numpy())[0, 1], rel=1e-5)
    ep, et = np.exp(p.numpy().astype(np.float64)), np.exp(t.numpy().astype(np.float64))
    assert _accum(exp_rmspe, p, t) == pytest.approx(np.sqrt(np.mean(((et - ep) / et) ** 2)), rel=1e-5)


class FakeLearn:
    def __init__(self, pred, yb, loss=None):
        self.pred, self.yb, self.loss = pred, (yb,), loss


def test_avg_metric_weights_by_batch_size():
    m = AvgMetric(accuracy)
    m.reset()
    m.accumulate(FakeLearn(LOGITS[:150], TARGS[:150]))
    m.accumulate(FakeLearn(LOGITS[150:], TARGS[150:]))
    assert m.value == pytest.approx(skm.accuracy_score(TARGS, PREDS))
    assert m.name == "accuracy"


def test_accum_metric_activation_and_thresh():
    m = AccumMetric(lambda p, t: (p == t).float().mean(), activation="sigmoid", thresh=0.5)
    m.accum_values(torch.tensor([3.0, -3.0]), torch.tensor([1, 1]))
    assert m.value == 0.5
    with pytest.raises(ValueError, match="activation"):
        AccumMetric(mse, activation="relu")


def test_avg_loss_smooth_loss_perplexity():
    losses = [torch.tensor(v) for v in (2.0, 1.0, 4.0)]
    avg, ppl, smooth = AvgLoss(), Perplexity(), AvgSmoothLoss(beta=0.5)
    for loss, bs in zip(losses, (1, 2, 1), strict=True):
        learn = FakeLearn(None, torch.zeros(bs), loss)
        avg.accumulate(learn)
        ppl.accumulate(learn)
        smooth.accumulate(learn)
    assert avg.value == pytest.approx((2 + 2 + 4) / 4)
    assert ppl.value == pytest.approx(math.exp(2.0))
    # bias-corrected EMA with beta .5: v = .5*(.5*(.5*0 + .5*2) + .5*1) + .5*4 ... divided by 1 - .5**3
    raw = 0.5 * (0.5 * (0.5 * 2.0) + 0.5 * 1.0) + 0.5 * 4.0
    assert float(smooth.value) == pytest.approx(raw / (1 - 0.5**3))
