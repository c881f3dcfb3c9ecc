"""Detection inference without data-dependent Python branches: what `torch.export` and the ONNX exporter can trace.

torchvision's detectors keep the candidates above their score threshold by boolean indexing, then branch in
Python on how many remain (`topk(min(k, n))`, `batched_nms`'s `numel() > 4000` and `numel() == 0`): a program
cannot branch on such a size. `DetectionInference` runs the same detector (its transform, backbone, head, anchor
generator and box coder, the very modules) and replaces its post-processing by one of static sizes with the same
result: every level's candidates are the top `min(topk_candidates, n)` scores (`n` is known from the feature
map's shape) with the scores not above the threshold masked to -1, so the masked ones come last and cannot
suppress anything; per-class NMS is `torchvision.ops.nms` on class-offset boxes (its output size is the one
data-dependent size, which the exporters carry as a dynamic dimension: ONNX's NonMaxSuppression), and the masked
candidates are dropped after it by a boolean mask. RetinaNet, FCOS and SSD (SSDlite) are supported; Faster R-CNN
(two stages, proposals sampled per image) is not.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection import FCOS, RetinaNet
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.transform import resize_boxes
from torchvision.ops import clip_boxes_to_image, nms

__all__ = ["EXPORTABLE_DETECTORS", "DetectionInference", "batched_nms_static", "fixed_candidates"]

EXPORTABLE_DETECTORS: tuple[type[nn.Module], ...] = (FCOS, RetinaNet, SSD)
"""The torchvision detector classes `DetectionInference` runs (and so the ones that export)."""

_MASKED = -1.0  # the score of a candidate not above the threshold: below every real score (scores are in [0, 1])


def batched_nms_static(
    boxes: Tensor, scores: Tensor, labels: Tensor, iou: float, valid: Tensor | None = None
) -> Tensor:
    """Per-class NMS (torchvision's coordinate trick: each class's boxes offset by `label x (max + 1)`) without a
    branch on the number of boxes: the indices kept, best score first. `valid` (bool, optional) marks the boxes
    that count for the offset's maximum (the rest must have scores below every valid one). The boxes are clipped
    to the image (non-negative): the offset's maximum is taken with 0, so that no boxes needs no branch."""
    coords = boxes if valid is None else torch.where(valid[:, None], boxes, torch.zeros_like(boxes))
    top = torch.cat([coords.flatten(), coords.new_zeros(1)]).max()  # no branch on the size; 0 when empty
    offsets = labels.to(boxes) * (top + 1.0)
    return nms(boxes + offsets[:, None], scores, iou)


def fixed_candidates(scores: Tensor, score_thresh: float, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """The top `k` of the flat `scores` (k <= its length) with those not above `score_thresh` masked to -1:
    `(scores, indices, valid)`. torchvision keeps the scores above the threshold, then takes its top
    `min(k, kept)`: the same candidates, first in the same order, the rest marked invalid."""
    masked = torch.where(scores > score_thresh, scores, torch.full_like(scores, _MASKED))
    top, idx = masked.topk(k)
    return top, idx, top > score_thresh


def _concat(parts: list[tuple[Tensor, Tensor, Tensor, Tensor]]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """`(boxes, scores, labels, valid)` of several groups of candidates, joined in order."""
    boxes, scores, labels, valid = (torch.cat(group) for group in zip(*parts, strict=True))
    return boxes, scores, labels, valid


class DetectionInference(nn.Module):
    """One image (float (3, h, w), as the detector receives it) → `(boxes, labels, scores)`, what
    `DetectionLearner.predict` gives: the torchvision detector `net` (FCOS, RetinaNet or SSD, its own settings:
    score threshold, candidates per level, NMS IoU, detections per image), the background label `pad_idx`
    dropped, scores >= `thresh` kept, per-class NMS at IoU `nms_iou` (None: only the detector's own). Boxes are
    x1y1x2y2 pixels of the input image, float32 (k, 4); labels int64 (k,); scores float32 (k,), best first.
    No Python branch depends on the data, so `torch.export` and the ONNX exporter can trace it."""

    def __init__(self, net: nn.Module, pad_idx: int = 0, thresh: float = 0.5, nms_iou: float | None = 0.5) -> None:
        super().__init__()
        if not isinstance(net, EXPORTABLE_DETECTORS):
            names = [c.__name__ for c in EXPORTABLE_DETECTORS]
            raise TypeError(f"DetectionInference: {type(net).__name__} is not supported (one of {names})")
        self.net, self.pad_idx, self.thresh, self.nms_iou = net, pad_idx, thresh, nms_iou

    def forward(self, image: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        net: Any = self.net  # a torchvision detector (its attributes are typed as Tensor | Module)
        h, w = image.shape[-2], image.shape[-1]
        images, _ = net.transform([image])
        feats = list(net.backbone(images.tensors).values())
        head = net.head(feats)
        anchors = net.anchor_generator(images, feats)[0]
        size = images.image_sizes[0]
        boxes, scores, labels, valid = self.candidates(head, anchors, feats, size)
        keep = batched_nms_static(boxes, scores, labels, net.nms_thresh, valid)
        keep = keep[valid[keep]][: net.detections_per_img]
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        boxes = resize_boxes(boxes, list(size), [h, w])
        keep = (labels != self.pad_idx) & (scores >= self.thresh)
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        if self.nms_iou is not None:
            keep = batched_nms_static(boxes, scores, labels, self.nms_iou)
            boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        return boxes, labels, scores

    def candidates(
        self, head: dict[str, Tensor], anchors: Tensor, feats: list[Tensor], size: tuple[int, int]
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """The detector's candidates before its NMS, of a size fixed by the shapes: `(boxes, scores, labels,
        valid)`, clipped to the image `size`; the invalid ones (not above the score threshold) score -1."""
        net: Any = self.net  # a torchvision detector (its attributes are typed as Tensor | Module)
        if isinstance(net, SSD):
            return self._ssd(head, anchors, size)
        logits, regression = head["cls_logits"][0], head["bbox_regression"][0]
        n_classes = logits.shape[-1]
        per_level = [f.shape[-2] * f.shape[-1] for f in feats]
        a = logits.shape[0] // sum(per_level)  # anchors per location
        out: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        start = 0
        for n in per_level:
            end = start + n * a
            if isinstance(net, FCOS):
                ctr = head["bbox_ctrness"][0][start:end]
                flat = torch.sqrt(torch.sigmoid(logits[start:end]) * torch.sigmoid(ctr)).flatten()
            else:
                flat = torch.sigmoid(logits[start:end]).flatten()
            k = min(int(net.topk_candidates), flat.shape[0])
            scores, idx, valid = fixed_candidates(flat, net.score_thresh, k)
            anchor_idx = torch.div(idx, n_classes, rounding_mode="floor") + start
            labels = idx % n_classes
            if isinstance(net, FCOS):
                boxes = net.box_coder.decode(regression[anchor_idx], anchors[anchor_idx])
            else:
                boxes = net.box_coder.decode_single(regression[anchor_idx], anchors[anchor_idx])
            out.append((clip_boxes_to_image(boxes, size), scores, labels, valid))
            start = end
        return _concat(out)

    def _ssd(
        self, head: dict[str, Tensor], anchors: Tensor, size: tuple[int, int]
    ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        net: Any = self.net  # a torchvision detector (its attributes are typed as Tensor | Module)
        boxes = net.box_coder.decode_single(head["bbox_regression"][0], anchors)
        boxes = clip_boxes_to_image(boxes, size)
        probs = torch.softmax(head["cls_logits"][0], dim=-1)
        k = min(int(net.topk_candidates), probs.shape[0])
        out: list[tuple[Tensor, Tensor, Tensor, Tensor]] = []
        for label in range(1, probs.shape[-1]):  # SSD scores the real classes only (label 0: background)
            scores, idx, valid = fixed_candidates(probs[:, label], net.score_thresh, k)
            out.append((boxes[idx], scores, torch.full_like(idx, label), valid))
        return _concat(out)
