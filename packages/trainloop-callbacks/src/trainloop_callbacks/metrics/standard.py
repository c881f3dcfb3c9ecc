"""Metrics computed in torch: classification, regression, segmentation and language-model metrics."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from trainloop_callbacks.batches import to_plain
from trainloop_callbacks.metrics.base import AccumMetric, AvgLoss

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = [
    "accuracy",
    "error_rate",
    "top_k_accuracy",
    "accuracy_multi",
    "F1Score",
    "FBeta",
    "Precision",
    "Recall",
    "RocAucBinary",
    "MatthewsCorrCoef",
    "BalancedAccuracy",
    "CohenKappa",
    "Dice",
    "JaccardCoeff",
    "mse",
    "rmse",
    "mae",
    "msle",
    "exp_rmspe",
    "R2Score",
    "PearsonCorrCoef",
    "Perplexity",
]


def _flat_check(a: Tensor, b: Tensor, what: str) -> tuple[Tensor, Tensor]:
    a, b = a.reshape(-1), b.reshape(-1)
    if a.numel() != b.numel():
        raise ValueError(f"{what}: predictions and targets differ in size ({a.numel()} vs {b.numel()})")
    return a, b


def accuracy(inp: Tensor, targ: Tensor, axis: int = -1) -> Tensor:
    """Fraction of items whose argmax over `axis` equals the target."""
    pred, targ = _flat_check(inp.argmax(dim=axis), targ, "accuracy")
    return (pred == targ).float().mean()


def error_rate(inp: Tensor, targ: Tensor, axis: int = -1) -> Tensor:
    """1 - accuracy."""
    return 1 - accuracy(inp, targ, axis=axis)


def top_k_accuracy(inp: Tensor, targ: Tensor, k: int = 5, axis: int = -1) -> Tensor:
    """Fraction of items whose target is among the `k` highest predictions."""
    top = inp.topk(k=k, dim=axis).indices
    return (top == targ.reshape(-1, 1)).any(dim=-1).float().mean()


def accuracy_multi(inp: Tensor, targ: Tensor, thresh: float = 0.5, sigmoid: bool = True) -> Tensor:
    """Multi-label accuracy: each label predicted present when its (sigmoid) score exceeds `thresh`."""
    if sigmoid:
        inp = inp.sigmoid()
    pred, targ = _flat_check(inp > thresh, targ.bool(), "accuracy_multi")
    return (pred == targ).float().mean()


# ---- classification from a confusion matrix ------------------------------------------------------------


def _confusion(preds: Tensor, targs: Tensor) -> tuple[Tensor, Tensor]:
    """Confusion matrix (rows: target, columns: prediction) over the labels present, and those labels."""
    preds, targs = preds.long().reshape(-1), targs.long().reshape(-1)
    labels = torch.unique(torch.cat([targs, preds]))
    p, t = torch.searchsorted(labels, preds), torch.searchsorted(labels, targs)
    n = len(labels)
    cm = torch.bincount(t * n + p, minlength=n * n).reshape(n, n).double()
    return cm, labels


def _safe_div(a: Tensor, b: Tensor) -> Tensor:
    return torch.where(b > 0, a / b.clamp(min=1e-300), torch.zeros_like(a))


def _fbeta_from(preds: Tensor, targs: Tensor, beta: float, average: str, pos_label: int, kind: str) -> float:
    cm, labels = _confusion(preds, targs)
    tp = cm.diag()
    pred_pos, true_pos = cm.sum(0), cm.sum(1)
    if average == "binary":
        idx = (labels == pos_label).nonzero()
        if len(labels) > 2 or not torch.isin(labels, torch.tensor([0, 1])).all():
            raise ValueError(
                f"average='binary' needs 0/1 labels, got labels {labels.tolist()}; use 'macro', 'micro' or 'weighted'"
            )
        if len(idx) == 0:
            return 0.0
        i = int(idx[0])
        tp, pred_pos, true_pos = tp[i : i + 1], pred_pos[i : i + 1], true_pos[i : i + 1]
    elif average == "micro":
        tp, pred_pos, true_pos = tp.sum(0, keepdim=True), pred_pos.sum(0, keepdim=True), true_pos.sum(0, keepdim=True)
    elif average not in ("macro", "weighted"):
        raise ValueError(f"average must be 'binary', 'macro', 'micro' or 'weighted', got {average!r}")
    precision, recall = _safe_div(tp, pred_pos), _safe_div(tp, true_pos)
    if kind == "precision":
        score = precision
    elif kind == "recall":
        score = recall
    else:
        b2 = beta**2
        score = _safe_div((1 + b2) * precision * recall, b2 * precision + recall)
    if average == "weighted":
        return float((score * true_pos).sum() / true_pos.sum())
    return float(score.mean())


def _classif_metric(kind: str, beta: float, average: str, pos_label: int, axis: int, name: str) -> AccumMetric:
    def func(preds: Tensor, targs: Tensor) -> float:
        return _fbeta_from(preds, targs, beta, average, pos_label, kind)

    func.__name__ = name
    return AccumMetric(func, dim_argmax=axis, name=name)


def FBeta(beta: float, axis: int = -1, average: str = "binary", pos_label: int = 1) -> AccumMetric:
    """F-beta score; `average` is 'binary', 'macro', 'micro' or 'weighted' (as scikit-learn)."""
    return _classif_metric("fbeta", beta, average, pos_label, axis, "fbeta_score")


def F1Score(axis: int = -1, average: str = "binary", pos_label: int = 1) -> AccumMetric:
    """F1 score (harmonic mean of precision and recall)."""
    return _classif_metric("fbeta", 1.0, average, pos_label, axis, "f1_score")


def Precision(axis: int = -1, average: str = "binary", pos_label: int = 1) -> AccumMetric:
    """Precision: true positives over predicted positives."""
    return _classif_metric("precision", 1.0, average, pos_label, axis, "precision_score")


def Recall(axis: int = -1, average: str = "binary", pos_label: int = 1) -> AccumMetric:
    """Recall: true positives over actual positives."""
    return _classif_metric("recall", 1.0, average, pos_label, axis, "recall_score")


def _auc(scores: Tensor, targs: Tensor) -> float:
    """ROC AUC as the Mann-Whitney statistic, ties counted half."""
    scores, targs = scores.double().reshape(-1), targs.reshape(-1).bool()
    n_pos, n_neg = int(targs.sum()), int((~targs).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError("RocAucBinary needs both classes among the targets")
    order = scores.argsort()
    s = scores[order]
    ranks = torch.empty_like(s)
    i, n = 0, len(s)
    while i < n:  # average ranks over ties
        j = i
        while j + 1 < n and s[j + 1] == s[i]:
            j += 1
        ranks[i : j + 1] = (i + j) / 2 + 1
        i = j + 1
    pos_ranks = ranks[targs[order]]
    return float((pos_ranks.sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _binary_scores(preds: Tensor) -> Tensor:
    if preds.ndim == 2 and preds.shape[1] == 2:
        return torch.softmax(preds.double(), dim=1)[:, 1]
    return preds.double().reshape(-1).sigmoid()


def RocAucBinary() -> AccumMetric:
    """Area under the ROC curve of a binary classifier (2-column logits, or 1 logit per item)."""

    def roc_auc_score(preds: Tensor, targs: Tensor) -> float:
        return _auc(_binary_scores(preds), targs)

    return _RawAccum(roc_auc_score)


class _RawAccum(AccumMetric):
    """An AccumMetric that keeps predictions unflattened (e.g. logits per class)."""

    def __init__(self, func, **kwargs) -> None:
        super().__init__(func, flatten=False, **kwargs)

    def accum_values(self, preds: Tensor, targs: Tensor) -> None:
        self.preds.append(preds.detach().cpu())
        self.targs.append(targs.detach().reshape(-1).cpu())


def _mcc(preds: Tensor, targs: Tensor) -> float:
    cm, _ = _confusion(preds, targs)
    t, p = cm.sum(1), cm.sum(0)
    c, s = cm.trace(), cm.sum()
    cov = c * s - (t * p).sum()
    den = ((s**2 - (p**2).sum()) * (s**2 - (t**2).sum())).sqrt()
    return float(cov / den) if den > 0 else 0.0


def MatthewsCorrCoef(axis: int = -1) -> AccumMetric:
    """Matthews correlation coefficient (multi-class form)."""

    def matthews_corrcoef(preds: Tensor, targs: Tensor) -> float:
        return _mcc(preds, targs)

    return AccumMetric(matthews_corrcoef, dim_argmax=axis)


def BalancedAccuracy(axis: int = -1) -> AccumMetric:
    """Mean recall over the classes present in the targets."""

    def balanced_accuracy_score(preds: Tensor, targs: Tensor) -> float:
        cm, _ = _confusion(preds, targs)
        support = cm.sum(1)
        present = support > 0
        return float((cm.diag()[present] / support[present]).mean())

    return AccumMetric(balanced_accuracy_score, dim_argmax=axis)


def CohenKappa(axis: int = -1, weights: str | None = None) -> AccumMetric:
    """Cohen's kappa, unweighted or with 'linear' / 'quadratic' weights."""
    if weights not in (None, "linear", "quadratic"):
        raise ValueError(f"CohenKappa weights must be None, 'linear' or 'quadratic', got {weights!r}")

    def cohen_kappa_score(preds: Tensor, targs: Tensor) -> float:
        cm, _ = _confusion(preds, targs)
        n = cm.shape[0]
        expected = torch.outer(cm.sum(1), cm.sum(0)) / cm.sum()
        idx = torch.arange(n, dtype=torch.float64)
        if weights is None:
            w = 1 - torch.eye(n, dtype=torch.float64)
        elif weights == "linear":
            w = (idx[:, None] - idx[None, :]).abs()
        else:
            w = (idx[:, None] - idx[None, :]) ** 2
        return float(1 - (w * cm).sum() / (w * expected).sum())

    return AccumMetric(cohen_kappa_score, dim_argmax=axis)


# ---- segmentation -------------------------------------------------------------------------------------


class Dice:
    """Dice coefficient `2|A and B| / (|A|+|B|)` of a binary segmentation, summed over the whole phase."""

    def __init__(self, axis: int = 1, name: str = "dice") -> None:
        self.axis, self.name = axis, name
        self.reset()

    def reset(self) -> None:
        self.inter, self.union = 0.0, 0.0

    def accumulate(self, learn: Learner) -> None:
        self.accum_values(learn.pred, to_plain(learn.yb[0]))

    def accum_values(self, preds: Tensor, targs: Tensor) -> None:
        """Add one batch of logits `(bs, n_classes, ...)` and masks `(bs, ...)`."""
        pred, targ = _flat_check(preds.argmax(dim=self.axis), targs, self.name)
        pred, targ = pred > 0, targ > 0
        self.inter += float((pred & targ).sum())
        self.union += float(pred.sum() + targ.sum())

    @property
    def value(self) -> float | None:
        return self._score() if self.union > 0 else None

    def _score(self) -> float:
        return 2.0 * self.inter / self.union


class JaccardCoeff(Dice):
    """Jaccard index (IoU) `|A and B| / |A or B|` of a binary segmentation."""

    def __init__(self, axis: int = 1, name: str = "jaccard_coeff") -> None:
        super().__init__(axis, name)

    def _score(self) -> float:
        return self.inter / (self.union - self.inter)


# ---- regression ----------------------------------------------------------------------------------------


def mse(inp: Tensor, targ: Tensor) -> Tensor:
    """Mean squared error."""
    a, b = _flat_check(inp, targ, "mse")
    return ((a - b) ** 2).mean()


def mae(inp: Tensor, targ: Tensor) -> Tensor:
    """Mean absolute error."""
    a, b = _flat_check(inp, targ, "mae")
    return (a - b).abs().mean()


def msle(inp: Tensor, targ: Tensor) -> Tensor:
    """Mean squared logarithmic error (`log1p` of both)."""
    a, b = _flat_check(inp, targ, "msle")
    return ((a.log1p() - b.log1p()) ** 2).mean()


def _rmse(preds: Tensor, targs: Tensor) -> Tensor:
    return ((preds - targs) ** 2).mean().sqrt()


_rmse.__name__ = "rmse"
rmse = AccumMetric(_rmse)
"""Root mean squared error over the whole phase."""


def _exp_rmspe(preds: Tensor, targs: Tensor) -> Tensor:
    p, t = preds.exp(), targs.exp()
    return (((t - p) / t) ** 2).mean().sqrt()


_exp_rmspe.__name__ = "exp_rmspe"
exp_rmspe = AccumMetric(_exp_rmspe)
"""Root mean squared percentage error of `exp(pred)` vs `exp(target)` (log-scale targets)."""


def R2Score() -> AccumMetric:
    """Coefficient of determination R²."""

    def r2_score(preds: Tensor, targs: Tensor) -> Tensor:
        p, t = preds.double(), targs.double()
        return 1 - ((t - p) ** 2).sum() / ((t - t.mean()) ** 2).sum()

    return AccumMetric(r2_score)


def PearsonCorrCoef() -> AccumMetric:
    """Pearson correlation between predictions and targets."""

    def pearsonr(preds: Tensor, targs: Tensor) -> Tensor:
        p, t = preds.double() - preds.double().mean(), targs.double() - targs.double().mean()
        return (p * t).sum() / (p.pow(2).sum() * t.pow(2).sum()).sqrt()

    return AccumMetric(pearsonr)


class Perplexity(AvgLoss):
    """exp of the average (cross-entropy) loss: the language model's perplexity."""

    name = "perplexity"

    @property
    def value(self) -> float | None:
        v = super().value
        return None if v is None else math.exp(v)
