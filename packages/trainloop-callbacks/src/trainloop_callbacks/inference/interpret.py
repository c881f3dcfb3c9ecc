"""`Interpretation` and `ClassificationInterpretation`: look at what a trained model gets wrong."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch
from torch import Tensor

from trainloop_callbacks.loop.protocols import HasVocab
from trainloop_callbacks.plotting import matrix_image

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["Interpretation", "ClassificationInterpretation"]

_I = TypeVar("_I", bound="Interpretation")  # `from_learner` returns the class it is called on


class Interpretation:
    """Inputs, predictions, targets, decoded predictions and per-item losses of a learner on one dataset."""

    def __init__(
        self,
        learn: Learner,
        dl: Iterable[Any],
        inputs: Any,
        preds: Tensor,
        targs: Tensor,
        decoded: Tensor,
        losses: Tensor,
    ):
        self.learn, self.dl = learn, dl
        self.inputs, self.preds, self.targs, self.decoded, self.losses = inputs, preds, targs, decoded, losses

    @classmethod
    def from_learner(
        cls: type[_I],
        learn: Learner,
        ds_idx: int = 1,
        dl: Iterable[Any] | None = None,
        act: Callable[[Tensor], Tensor] | None = None,
    ) -> _I:
        """Run `learn.get_preds` on the dataset (`ds_idx` 0: train, 1: valid) or `dl`, with inputs and losses."""
        dl = learn._dl(ds_idx, dl)
        inputs, preds, targs, decoded, losses = learn.get_preds(
            dl=dl, with_input=True, with_loss=True, with_decoded=True, act=act
        )
        return cls(learn, dl, inputs, preds, targs, decoded, losses)

    def top_losses(self, k: int | None = None, largest: bool = True) -> tuple[Tensor, Tensor]:
        """The `k` largest (or smallest) per-item losses and their indices in the dataset."""
        losses = self.losses.reshape(len(self.losses), -1).mean(1) if self.losses.ndim > 1 else self.losses
        return losses.topk(len(losses) if k is None else min(k, len(losses)), largest=largest)


class ClassificationInterpretation(Interpretation):
    """Confusion matrix, most confused pairs and a per-class report of a single-label classifier."""

    @property
    def vocab(self) -> list[Any]:
        """Class names: `dls.vocab` when the data have one, else the class indices."""
        dls = self.learn.dls
        vocab = dls.vocab if isinstance(dls, HasVocab) else None
        if vocab is not None:
            return list(vocab[-1] if vocab and isinstance(vocab[0], (list, tuple)) else vocab)
        n = self.preds.shape[-1] if self.preds.ndim > 1 else int(max(self.targs.max(), self.decoded.max())) + 1
        return list(range(n))

    def confusion_matrix(self) -> Tensor:
        """Counts of (actual, predicted) pairs: rows are actual classes, columns predicted."""
        n = len(self.vocab)
        t, d = self.targs.reshape(-1).long(), self.decoded.reshape(-1).long()
        return torch.bincount(t * n + d, minlength=n * n).reshape(n, n)

    def most_confused(self, min_val: int = 1) -> list[tuple[Any, Any, int]]:
        """(actual, predicted, count) of off-diagonal cells with at least `min_val` items, most frequent first."""
        cm, vocab = self.confusion_matrix(), self.vocab
        pairs = [
            (vocab[i], vocab[j], int(cm[i, j]))
            for i in range(len(vocab))
            for j in range(len(vocab))
            if i != j and cm[i, j] >= min_val
        ]
        return sorted(pairs, key=lambda p: -p[2])

    def classification_report(self) -> list[tuple[Any, float, float, float, int]]:
        """Per class: (name, precision, recall, f1, support)."""
        cm = self.confusion_matrix().double()
        tp, pred_pos, support = cm.diag(), cm.sum(0), cm.sum(1)
        rows = []
        for i, name in enumerate(self.vocab):
            p = float(tp[i] / pred_pos[i]) if pred_pos[i] > 0 else 0.0
            r = float(tp[i] / support[i]) if support[i] > 0 else 0.0
            f = 2 * p * r / (p + r) if p + r > 0 else 0.0
            rows.append((name, p, r, f, int(support[i])))
        return rows

    def print_classification_report(self) -> None:
        """Print precision, recall, f1 and support per class, and the accuracy."""
        rows = self.classification_report()
        width = max(12, *(len(str(r[0])) for r in rows))
        print(f"{'':>{width}} precision    recall  f1-score   support")
        for name, p, r, f, s in rows:
            print(f"{name!s:>{width}} {p:9.2f} {r:9.2f} {f:9.2f} {s:9d}")
        cm = self.confusion_matrix()
        print(f"{'accuracy':>{width}} {'':9} {'':9} {float(cm.trace() / cm.sum()):9.2f} {int(cm.sum()):9d}")

    def plot_confusion_matrix(self, fname: str | Path | None = None, labels: Sequence[str] | None = None) -> Any:
        """Render the confusion matrix (pillow image); saved to `fname` when given."""
        cm = self.confusion_matrix().tolist()
        return matrix_image(cm, [str(v) for v in (labels or self.vocab)], fname)
