"""The box padding convention: an empty or padding box is (0, 0, 0, 0) with label `pad_idx`.

A batch holds the same number of boxes per item, so `bb_pad` pads shorter lists with (0, 0, 0, 0) boxes
labelled `pad_idx` (as fastai's `bb_pad`); a batch transform that pushes a box off the canvas turns it
into that same padding box (see `affine_boxes`); `DropEmptyBoxes` removes padding boxes and their
labels from an item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from dispatch_transforms import ItemTransform
from typedtensor import TensorBBox

__all__ = ["bb_pad", "empty_boxes", "DropEmptyBoxes"]


def empty_boxes(boxes: torch.Tensor) -> torch.Tensor:
    """(...,) bools: which boxes (..., 4) have no area (padding boxes included)."""
    return (boxes[..., 2] <= boxes[..., 0]) | (boxes[..., 3] <= boxes[..., 1])


def bb_pad(samples: Sequence[tuple[Any, ...]], pad_idx: int = 0) -> list[tuple[Any, ...]]:
    """Pad each sample's boxes (k, 4) and labels (k,) (the last two elements) to the largest k of the batch.

    Padding boxes are (0, 0, 0, 0) and padding labels `pad_idx`; types and metadata are kept.
    """
    if not samples:
        return []
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
        where = [i for i, e in enumerate(x) if isinstance(e, TensorBBox)]
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
