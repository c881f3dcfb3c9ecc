"""The box padding convention: an empty or padding box is (0, 0, 0, 0) with label `pad_idx`.

A batch holds the same number of boxes per item, so `bb_pad` pads shorter lists with (0, 0, 0, 0) boxes
labelled `pad_idx` (as fastai's `bb_pad`); a batch transform that pushes a box off the canvas turns it
into that same padding box (see `affine_boxes`); `DropEmptyBoxes` removes padding boxes and their
labels from an item (and from a decoded item, for showing); `PadEmptyBoxes` gives the boxes a batch transform
emptied the padding label too, so boxes and labels stay consistent in the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from dispatch_transforms import ItemTransform
from typedtensor import TensorBBox

__all__ = ["bb_pad", "empty_boxes", "DropEmptyBoxes", "PadEmptyBoxes"]


def empty_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """(...,) bools: which boxes (..., 4) have no area (padding boxes included)."""
    return (boxes[..., 2] <= boxes[..., 0]) | (boxes[..., 3] <= boxes[..., 1])


def bb_pad(samples: Sequence[tuple[Any, ...]], pad_idx: int = 0) -> list[tuple[Any, ...]]:
    """Pad each sample's boxes (k, 4) and labels (k,) (the last two elements) to the largest k of the batch.

    Padding boxes are (0, 0, 0, 0) and padding labels `pad_idx`; types and metadata are kept. A sample that ends
    with a `TensorBBox` (boxes without labels) has its boxes padded alone.
    """
    if not samples:
        return []
    if all(isinstance(s, tuple) and s and isinstance(s[-1], TensorBBox) for s in samples):
        most = max(int(s[-1].shape[0]) for s in samples)
        return [(*s[:-1], torch.cat([s[-1], s[-1].new_zeros(most - s[-1].shape[0], 4)])) for s in samples]
    most = max(int(s[-2].shape[0]) for s in samples)
    out = []
    for i, s in enumerate(samples):
        if len(s) < 2:
            raise ValueError(f"bb_pad: sample {i} must end with (boxes, labels), got {len(s)} element(s)")
        boxes, labels = s[-2], s[-1]
        if boxes.ndim != 2 or boxes.shape[-1] != 4 or labels.shape[0] != boxes.shape[0]:
            raise ValueError(
                f"bb_pad: sample {i} needs boxes (k, 4), k labels; got {tuple(boxes.shape)} and {tuple(labels.shape)}"
            )
        extra = most - boxes.shape[0]
        padded_boxes = torch.cat([boxes, boxes.new_zeros(extra, 4)])
        padded_labels = torch.cat([labels, labels.new_full((extra, *labels.shape[1:]), pad_idx)])
        out.append((*s[:-2], padded_boxes, padded_labels))
    return out


class DropEmptyBoxes(ItemTransform):
    """Item-level step: remove the empty (padding) boxes of a sample together with their labels.

    The sample is a tuple holding one `TensorBBox` of shape (k, 4) followed by its k labels.
    """

    config_safe = True  # its subclasses too: an export may name them (plain arguments only)

    order = 50

    def encodes(self, x: tuple) -> tuple:
        """Drop the empty boxes of the sample `x` and the labels at the same positions."""
        return self._drop(x)

    def decodes(self, x: tuple) -> tuple:
        """The same on a decoded sample (padding boxes of a batch are not shown)."""
        return self._drop(x)

    def _drop(self, x: tuple) -> tuple:
        where = [i for i, e in enumerate(x) if isinstance(e, TensorBBox)]
        if not where:  # e.g. an unlabelled item of a test set: nothing to drop
            return x
        if len(where) != 1 or where[0] + 1 >= len(x):
            names = ", ".join(type(e).__name__ for e in x)
            raise ValueError(f"DropEmptyBoxes: expected one TensorBBox followed by its labels, got ({names})")
        i = where[0]
        boxes, labels = x[i], x[i + 1]
        if boxes.ndim != 2 or labels.shape[0] != boxes.shape[0]:
            raise ValueError(
                f"DropEmptyBoxes: expected boxes (k, 4), k labels; got {tuple(boxes.shape)} and {tuple(labels.shape)}"
            )
        keep = ~empty_boxes(boxes.as_subclass(torch.Tensor))
        return (*x[:i], boxes[keep], labels[keep], *x[i + 2 :])


class PadEmptyBoxes(ItemTransform):
    """Batch step: labels of the boxes that a batch transform left empty become `pad_idx`, like `bb_pad`'s padding.

    The batch is a tuple holding one `TensorBBox` (n, k, 4) followed by its labels (n, k); a geometric transform
    (`AffineCoordTfm`) turns a box pushed off the canvas into (0, 0, 0, 0), and this step gives it the padding
    label, so a model reading the labels never sees an object without a box. Runs right after the geometric
    transforms (order 31). Batches without boxes pass through.
    """

    config_safe = True  # rebuilt from plain data by an export (plain arguments only)

    order = 31

    def __init__(self, pad_idx: int = 0) -> None:
        super().__init__()
        self.pad_idx = pad_idx

    def encodes(self, x: tuple) -> tuple:
        """`x` with the labels of its empty boxes set to `pad_idx`."""
        where = [i for i, e in enumerate(x) if isinstance(e, TensorBBox)]
        if not where:
            return x
        i = where[0]
        if len(where) != 1 or i + 1 >= len(x):
            names = ", ".join(type(e).__name__ for e in x)
            raise ValueError(f"PadEmptyBoxes: expected one TensorBBox followed by its labels, got ({names})")
        boxes, labels = x[i], x[i + 1]
        if labels.shape != boxes.shape[:-1]:
            raise ValueError(
                f"PadEmptyBoxes: expected labels of shape {tuple(boxes.shape[:-1])} for boxes {tuple(boxes.shape)}, "
                f"got {tuple(labels.shape)}"
            )
        empty = empty_boxes(boxes.as_subclass(torch.Tensor))
        return (*x[: i + 1], labels.masked_fill(empty, self.pad_idx), *x[i + 2 :])
