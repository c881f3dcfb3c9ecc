"""Metrics over several classes at once: multi-class segmentation (`DiceMulti`, `JaccardCoeffMulti`,
`foreground_acc`) and multi-label classification (`F1ScoreMulti`, `RocAucMulti`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from trainloop_callbacks.batches import to_plain
from trainloop_callbacks.metrics.base import AccumMetric

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["DiceMulti", "JaccardCoeffMulti", "foreground_acc", "F1ScoreMulti", "RocAucMulti"]

_AVERAGES = ("micro", "macro", "weighted", "samples")


# ---- multi-class segmentation -------------------------------------------------------------------------


def foreground_acc(inp: Tensor, targ: Tensor, bkg_idx: int = 0, axis: int = 1) -> Tensor:
    """Accuracy over the pixels whose target is not the background class `bkg_idx` (fastai's `foreground_acc`):
    `inp` holds logits with classes on `axis`, `targ` the mask (a channel axis of size 1 is dropped). NaN for a
    batch without foreground, as fastai."""
    if targ.ndim == inp.ndim and targ.shape[1] == 1:
        targ = targ.squeeze(1)
    pred = inp.argmax(dim=axis)
    if pred.shape != targ.shape:
        raise ValueError(f"foreground_acc: predictions {tuple(pred.shape)} and targets {tuple(targ.shape)} differ")
    mask = targ != bkg_idx
    return (pred[mask] == targ[mask]).float().mean()


class DiceMulti:
    """Dice coefficient of each class of a segmentation, averaged over the classes (fastai's `DiceMulti`, a macro
    F1). Intersections and sizes are summed over the whole phase, not averaged per batch; a class absent from
    both predictions and targets is left out of the mean. `exclude` leaves classes out (e.g. `exclude=(0,)` for
    the mean over the foreground; beyond fastai, which averages over every class). `per_class` gives each
    class's score (NaN where absent)."""

    def __init__(self, axis: int = 1, exclude: Sequence[int] = (), name: str = "dice_multi") -> None:
        self.axis, self.exclude, self.name = axis, tuple(exclude), name
        self.reset()

    def reset(self) -> None:
        self.inter: Tensor | None = None
        self.union: Tensor | None = None

    def accumulate(self, learn: Learner) -> None:
        self.accum_values(learn.pred, to_plain(learn.yb[0]))

    def accum_values(self, preds: Tensor, targs: Tensor) -> None:
        """Add one batch of logits `(bs, n_classes, ...)` and masks `(bs, ...)` (a channel axis of 1 is dropped)."""
        n = preds.shape[self.axis]
        pred = preds.detach().argmax(dim=self.axis)
        targ = targs.detach()
        if targ.ndim == pred.ndim + 1 and targ.shape[1] == 1:
            targ = targ.squeeze(1)
        if pred.shape != targ.shape:
            raise ValueError(f"{self.name}: predictions {tuple(pred.shape)} and masks {tuple(targ.shape)} differ")
        pred, targ = pred.reshape(-1), targ.reshape(-1).long()
        # counted per class with bincount; target values outside [0, n) (e.g. an ignore index) count for no class
        inter = torch.bincount(targ[(pred == targ) & (targ >= 0) & (targ < n)], minlength=n)
        sizes = torch.bincount(pred, minlength=n)[:n] + torch.bincount(targ[(targ >= 0) & (targ < n)], minlength=n)
        inter, sizes = inter.double().cpu(), sizes.double().cpu()
        if self.inter is None or self.union is None or len(self.inter) != n:
            if self.inter is not None:
                raise ValueError(f"{self.name}: {n} classes in this batch, {len(self.inter)} before")
            self.inter, self.union = inter, sizes
        else:
            self.inter += inter
            self.union += sizes

    def _scores(self, inter: Tensor, union: Tensor) -> Tensor:
        return 2 * inter / union

    @property
    def per_class(self) -> list[float] | None:
        """The score of each class (NaN for a class seen neither in predictions nor in targets)."""
        if self.inter is None or self.union is None:
            return None
        scores = torch.where(self.union > 0, self._scores(self.inter, self.union.clamp(min=1)), math.nan)
        return scores.tolist()

    @property
    def value(self) -> float | None:
        scores = self.per_class
        if scores is None:
            return None
        kept = [s for c, s in enumerate(scores) if c not in self.exclude and not math.isnan(s)]
        return sum(kept) / len(kept) if kept else None


class JaccardCoeffMulti(DiceMulti):
    """Jaccard index (IoU) of each class of a segmentation, averaged over the classes (fastai's
    `JaccardCoeffMulti`); accumulated over the phase as `DiceMulti`."""

    def __init__(self, axis: int = 1, exclude: Sequence[int] = (), name: str = "jaccard_coeff_multi") -> None:
        super().__init__(axis, exclude, name)

    def _scores(self, inter: Tensor, union: Tensor) -> Tensor:
        return inter / (union - inter)


# ---- multi-label classification -------------------------------------------------------------------------


def _check_average(average: str, allowed: Sequence[str] = _AVERAGES) -> None:
    if average not in allowed:
        raise ValueError(f"average must be one of {list(allowed)}, got {average!r}")


def _check_multilabel(preds: Tensor, targs: Tensor, what: str) -> tuple[Tensor, Tensor]:
    if preds.shape != targs.shape or preds.ndim != 2:
        raise ValueError(
            f"{what}: expects predictions and one-hot targets of the same shape (n_items, n_labels), got "
            f"{tuple(preds.shape)} and {tuple(targs.shape)}"
        )
    return preds, targs.bool()


def _f1_multilabel(preds: Tensor, targs: Tensor, average: str) -> float:
    """F1 of 0/1 multi-label predictions as scikit-learn's `f1_score` (a 0/0 score counts 0)."""
    preds, targs = _check_multilabel(preds, targs, "F1ScoreMulti")
    preds = preds.bool()
    axis = 1 if average == "samples" else 0
    tp = (preds & targs).sum(axis).double()
    fp = (preds & ~targs).sum(axis).double()
    fn = (~preds & targs).sum(axis).double()
    if average == "micro":
        tp, fp, fn = tp.sum(), fp.sum(), fn.sum()
    denom = 2 * tp + fp + fn
    f1 = torch.where(denom > 0, 2 * tp / denom.clamp(min=1), 0.0)
    if average == "weighted":
        support = tp + fn
        return float((f1 * support).sum() / support.sum()) if support.sum() > 0 else 0.0
    return float(f1.mean())


def F1ScoreMulti(thresh: float = 0.5, sigmoid: bool = True, average: str = "micro") -> AccumMetric:
    """F1 score of multi-label predictions (fastai's `F1ScoreMulti`): logits through a sigmoid (`sigmoid`), a label
    predicted when its score is at least `thresh`, compared with the one-hot targets over the whole phase;
    `average` is 'micro' (the default, as fastai), 'macro', 'weighted' or 'samples', as scikit-learn."""
    _check_average(average)

    def f1_score(preds: Tensor, targs: Tensor) -> float:
        return _f1_multilabel(preds, targs, average)

    return AccumMetric(f1_score, activation="sigmoid" if sigmoid else "no", thresh=thresh, flatten=False)


def _auc_columns(scores: Tensor, targs: Tensor) -> Tensor:
    """ROC AUC of each column (the Mann-Whitney statistic with tied scores sharing their mean rank); NaN for a
    column whose targets are all of one class."""
    scores, targs = scores.double(), targs.bool()
    n = scores.shape[0]
    order = scores.argsort(dim=0)
    s = scores.gather(0, order)
    t = targs.gather(0, order)
    ranks = torch.empty_like(s)
    for j in range(s.shape[1]):  # one pass per label: ties averaged by runs of equal sorted scores
        _, inverse, counts = torch.unique_consecutive(s[:, j], return_inverse=True, return_counts=True)
        ends = counts.cumsum(0).double()
        ranks[:, j] = (ends - (counts.double() - 1) / 2)[inverse]
    n_pos = t.sum(0).double()
    n_neg = n - n_pos
    rank_sum = (ranks * t).sum(0)
    auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return torch.where((n_pos > 0) & (n_neg > 0), auc, math.nan)


def _roc_auc_multilabel(preds: Tensor, targs: Tensor, average: str) -> float:
    preds, targs = _check_multilabel(preds, targs, "RocAucMulti")
    if average == "micro":
        preds, targs = preds.reshape(-1, 1), targs.reshape(-1, 1)
    elif average == "samples":
        preds, targs = preds.T, targs.T
    auc = _auc_columns(preds, targs)
    if torch.isnan(auc).any():
        bad = torch.isnan(auc).nonzero().reshape(-1).tolist()
        what = "items" if average == "samples" else "labels"
        raise ValueError(
            f"RocAucMulti: the ROC AUC is undefined for {what} {bad[:10]}, whose targets are all of one class"
        )
    if average == "weighted":
        support = targs.sum(0).double()
        return float((auc * support).sum() / support.sum())
    return float(auc.mean())


def RocAucMulti(average: str = "macro", sigmoid: bool = True) -> AccumMetric:
    """Area under the ROC curve of multi-label predictions (fastai's `RocAucMulti`): sigmoid scores (`sigmoid`)
    against the one-hot targets over the whole phase; `average` is 'macro' (the default, as fastai), 'micro',
    'weighted' or 'samples', as scikit-learn's `roc_auc_score`. Differs from fastai: no `max_fpr`."""
    _check_average(average)

    def roc_auc_score(preds: Tensor, targs: Tensor) -> float:
        return _roc_auc_multilabel(preds, targs, average)

    return AccumMetric(roc_auc_score, activation="sigmoid" if sigmoid else "no", flatten=False)
