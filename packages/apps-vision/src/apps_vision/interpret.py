"""Looking at what a vision model gets wrong: the images with the largest losses, for classifiers and segmenters.

`ImageClassificationInterpretation` is trainloop-callbacks' `ClassificationInterpretation` (confusion matrix,
`most_confused`, per-class report) plus `plot_top_losses`; `SegmentationInterpretation` ranks images by their mean
pixel loss and shows each with its predicted mask. Pictures are Pillow canvases (save with `.save(path)`).
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from trainloop_callbacks import ClassificationInterpretation, Interpretation
from typedtensor import Canvas, TensorMask, show_images

__all__ = ["ImageClassificationInterpretation", "SegmentationInterpretation"]


def _decoded(interp: Interpretation, idxs: Tensor) -> list[Any]:
    """The items at `idxs` (inputs and targets) decoded back to showable form by the data's own pipelines."""
    inputs = interp.inputs if isinstance(interp.inputs, tuple) else (interp.inputs,)
    batch = (*[x[idxs] for x in inputs], interp.targs[idxs])
    decode = getattr(interp.learn.dls, "decode_batch", None)
    if not callable(decode):
        raise ValueError("plot_top_losses needs the data protocol hook dls.decode_batch to show the images")
    return decode(batch, max_n=len(idxs), full=False)


def _check_k(k: int | None) -> None:
    """`k` images to show: None (all) or a count >= 0 (more than there are gives them all)."""
    if k is not None and (isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0):
        raise ValueError(f"plot_top_losses: k must be a number of images >= 0 (or None for all), got {k!r}")


def _save(canvas: Canvas, fname: str | Path | None) -> Canvas:
    if fname is not None:
        canvas.save(fname)
    return canvas


class ImageClassificationInterpretation(ClassificationInterpretation):
    """Confusion matrix, most confused pairs, report, and the images the classifier got most wrong."""

    def plot_top_losses(
        self, k: int = 9, largest: bool = True, ncols: int = 3, scale: int = 2, fname: str | Path | None = None
    ) -> Canvas:
        """The `k` images with the largest (or smallest) losses, titled `prediction/actual/loss/probability`
        (fastai's order), as one grid; saved to `fname` when given."""
        _check_k(k)
        losses, idxs = self.top_losses(k, largest)
        items = _decoded(self, idxs)
        vocab = self.vocab
        titles = []
        for loss, i in zip(losses.tolist(), idxs.tolist(), strict=True):
            pred, actual = int(self.decoded[i]), int(self.targs[i])
            prob = float(self.preds[i][pred])
            titles.append(f"{vocab[pred]}/{vocab[actual]}\n{loss:.2f}/{prob:.2f}")
        pictures = [it[0] for it in items]
        return _save(show_images(pictures, ncols=ncols, titles=titles, scale=scale), fname)


class SegmentationInterpretation(Interpretation):
    """Images ranked by their mean pixel loss; `plot_top_losses` shows each with its predicted mask."""

    def top_losses(self, k: int | None = None, largest: bool = True) -> tuple[Tensor, Tensor]:
        """The `k` largest (or smallest) per-image losses (mean over the image's pixels) and their indices."""
        n = len(self.targs)
        losses = self.losses.reshape(n, -1).mean(1)
        return losses.topk(n if k is None else min(k, n), largest=largest)

    def plot_top_losses(
        self, k: int = 9, largest: bool = True, ncols: int = 3, scale: int = 2, fname: str | Path | None = None
    ) -> Canvas:
        """The `k` images with the largest (or smallest) mean loss, each with its predicted mask, titled with the
        loss; saved to `fname` when given."""
        _check_k(k)
        losses, idxs = self.top_losses(k, largest)
        items = _decoded(self, idxs)
        codes = getattr(self.learn.dls, "vocab", None)
        pictures = []
        for it, i in zip(items, idxs.tolist(), strict=True):
            pred = self.decoded[i].as_subclass(torch.Tensor)
            mask = TensorMask(pred.long(), codes=list(codes) if codes is not None else None)
            pictures.append((it[0], mask))
        titles = [f"loss {v:.3f}" for v in losses.tolist()]
        return _save(show_images(pictures, ncols=ncols, titles=titles, scale=scale), fname)
