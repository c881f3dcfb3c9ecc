"""The box padding convention: an empty or padding box is (0, 0, 0, 0) with label `pad_idx`.

A batch holds the same number of boxes per item, so `bb_pad` pads shorter lists with (0, 0, 0, 0) boxes
labelled `pad_idx` (as fastai's `bb_pad`); a batch transform that pushes a box off the canvas turns it
into that same padding box (see `affine_boxes`); `DropEmptyBoxes` removes padding boxes and their
labels from an item (and from a decoded item, for showing); `PadEmptyBoxes` gives the boxes a batch transform
emptied the padding label too, so boxes and labels stay consistent in the batch.
"""

from __future__ import annotations

from typing import Any

import torch

from dispatch_transforms import ItemTransform
from typedtensor import TensorBase, TensorBBox

__all__ = ["bb_pad", "empty_boxes", "DropEmptyBoxes", "PadEmptyBoxes"]


def empty_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """(...,) bools: which boxes (..., 4) have no area (padding boxes included)."""
    return (boxes[..., 2] <= boxes[..., 0]) | (boxes[..., 3] <= boxes[..., 1])


def _box_place(sample: tuple[Any, ...]) -> tuple[int, bool] | None:
    """Where a sample's boxes are and whether labels follow them: its `TensorBBox` (labels: the element after it,
    when there is one), else the last two elements (plain tensors: boxes, then labels). None: the sample has no
    boxes (all its elements are typed and none is a `TensorBBox`, e.g. an unlabelled image of `test_dl`)."""
    where = [i for i, e in enumerate(sample) if isinstance(e, TensorBBox)]
    if len(where) == 1:
        return where[0], where[0] + 1 < len(sample)
    if not where and all(isinstance(e, TensorBase) for e in sample):
        return None
    return len(sample) - 2, True


def bb_pad(samples: list, pad_idx: int = 0) -> list[tuple[Any, ...]]:
    """Pad each sample's boxes (k, 4) and their labels (k,) to the largest k of the batch.

    The boxes are the sample's `TensorBBox` and the labels the element right after it (a sample ending with its
    `TensorBBox` has its boxes padded alone); without a `TensorBBox`, the last two elements (as fastai's `bb_pad`).
    Padding boxes are (0, 0, 0, 0) and padding labels `pad_idx`; types and metadata are kept. A batch whose
    samples have no boxes (typed elements only, none a `TensorBBox`: the unlabelled items of `test_dl`) passes
    unchanged. Marked `config_safe`: a loaders config may name it as `before_batch`.
    """
    # `samples: list`, a class (not `Sequence[...]`): a loaders config rebuilds this step inside a `Pipeline`,
    # whose `Transform` dispatches on the annotation (apps-vision: test_loaders_config_with_bb_pad_round_trips)
    if not samples:
        return []
    places = []
    for i, s in enumerate(samples):
        if not isinstance(s, tuple) or not s:
            n = len(s) if isinstance(s, tuple) else 1
            raise ValueError(f"bb_pad: sample {i} must hold an image and its boxes (and labels), got {n} element(s)")
        place = _box_place(s)
        if place is None or place[0] >= 0:
            places.append(place)
            continue
        raise ValueError(f"bb_pad: sample {i} must hold an image and its boxes (and labels), got {len(s)} element(s)")
    if all(p is None for p in places):
        return list(samples)  # nothing to pad: images without box targets
    if any(p is None for p in places):
        i = places.index(None)
        raise ValueError(
            f"bb_pad: sample {i} has no boxes (no TensorBBox among {[type(e).__name__ for e in samples[i]]}) while "
            "other samples of the batch have some"
        )
    boxed = [(s, p) for s, p in zip(samples, places, strict=True) if p is not None]
    most = max(int(s[j].shape[0]) if s[j].ndim else 0 for s, (j, _) in boxed)
    out = []
    for i, (s, (j, labelled)) in enumerate(boxed):
        boxes = s[j]
        labels = s[j + 1] if labelled else None
        if boxes.ndim != 2 or boxes.shape[-1] != 4 or (labels is not None and labels.shape[0] != boxes.shape[0]):
            got = f"{tuple(boxes.shape)}" + (f" and {tuple(labels.shape)}" if labels is not None else "")
            raise ValueError(f"bb_pad: sample {i} needs boxes (k, 4) and k labels; got {got}")
        extra = most - boxes.shape[0]
        padded = [torch.cat([boxes, boxes.new_zeros(extra, 4)])]
        if labels is not None:
            padded.append(torch.cat([labels, labels.new_full((extra, *labels.shape[1:]), pad_idx)]))
        out.append((*s[:j], *padded, *s[j + len(padded) :]))
    return out


# the marker datablock's SafeResolver reads (gpu-augment does not import datablock): a loaders config may name
# `bb_pad` as a step; it only computes on the batch it is given
bb_pad.config_safe = True  # type: ignore[attr-defined]


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
