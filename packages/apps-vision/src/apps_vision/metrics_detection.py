"""COCO-style mean average precision for boxes, computed in torch.

`mean_average_precision(preds, targets)` follows pycocotools' `COCOeval` for boxes with the area range "all"
and one `max_dets` (100): per image and class the `max_dets` best-scored detections are matched greedily (best
score first) to the unmatched ground-truth box of highest IoU at each threshold; per class, detections of all
images are ranked by score, the precision curve is made non-increasing and read at 101 recall points
(0, 0.01, ..., 1); mAP is the mean over thresholds, recall points and the classes that have ground truth.
`test_metrics_detection.py` checks it against pycocotools on random cases and against hand-computed values.

Boxes are (x1, y1, x2, y2) in pixels; labels are class indices (the background/padding index never occurs in
a target here: remove padding first, e.g. with `unpad_targets`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import torch
from torch import Tensor
from torchvision.ops import box_iou

if TYPE_CHECKING:
    from trainloop_callbacks import Learner

__all__ = [
    "COCO_IOU_THRESHOLDS",
    "recall_thresholds",
    "mean_average_precision",
    "MeanAveragePrecision",
    "unpad_targets",
]

COCO_IOU_THRESHOLDS: tuple[float, ...] = tuple(0.5 + 0.05 * i for i in range(10))
"""0.5, 0.55, ..., 0.95: the IoU thresholds of COCO's mAP@[.5:.95] (as numpy.linspace(.5, .95, 10))."""

_EPS = 2.220446049250313e-16  # numpy.spacing(1): pycocotools adds it to the precision's denominator


def recall_thresholds(n: int = 101) -> Tensor:
    """The `n` recall points 0, 1/(n-1), ..., 1 in float64, computed as numpy.linspace does (i * step, the last
    set to 1), so that a recall exactly on a point is read the same way as pycocotools reads it."""
    r = torch.arange(n, dtype=torch.float64) * (1.0 / (n - 1))
    r[-1] = 1.0
    return r


def _iou_thresholds(iou_thresholds: Sequence[float] | None) -> Tensor:
    if iou_thresholds is None:
        # numpy.linspace(.5, .95, 10): i * 0.05 + 0.5, the last set to 0.95 (what pycocotools uses)
        t = torch.arange(10, dtype=torch.float64) * ((0.95 - 0.5) / 9) + 0.5
        t[-1] = 0.95
        return t
    t = torch.tensor([float(v) for v in iou_thresholds], dtype=torch.float64)
    if t.ndim != 1 or len(t) == 0 or bool(((t <= 0) | (t > 1)).any()):
        raise ValueError(f"mean_average_precision: iou_thresholds must be values in (0, 1], got {iou_thresholds}")
    return t


@overload
def _check(kind: str, i: int, d: Mapping[str, Tensor], with_scores: Literal[True]) -> tuple[Tensor, Tensor, Tensor]: ...
@overload
def _check(kind: str, i: int, d: Mapping[str, Tensor], with_scores: Literal[False]) -> tuple[Tensor, Tensor, None]: ...
def _check(kind: str, i: int, d: Mapping[str, Tensor], with_scores: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    keys = ("boxes", "labels", "scores") if with_scores else ("boxes", "labels")
    missing = [k for k in keys if k not in d]
    if missing:
        raise ValueError(f"mean_average_precision: {kind} {i} has no {missing} (expected keys {list(keys)})")
    raw_boxes = torch.as_tensor(d["boxes"]).detach().to("cpu", torch.float64)
    if raw_boxes.numel() and (raw_boxes.ndim > 2 or raw_boxes.shape[-1] != 4):
        raise ValueError(
            f"mean_average_precision: {kind} {i} has boxes of shape {tuple(raw_boxes.shape)}; expected (k, 4)"
        )
    boxes = raw_boxes.reshape(-1, 4)
    raw_labels = torch.as_tensor(d["labels"]).detach().to("cpu").reshape(-1)
    if raw_labels.is_floating_point() and not bool((raw_labels == raw_labels.round()).all()):
        raise ValueError(f"mean_average_precision: {kind} {i} has labels {raw_labels.tolist()}; expected class indices")
    labels = raw_labels.long()
    scores = torch.as_tensor(d["scores"]).detach().to("cpu", torch.float64).reshape(-1) if with_scores else None
    # a NaN box or score would compare as a match (NaN < t is False) and a box with x2 < x1 as no box: refuse both
    if not bool(torch.isfinite(boxes).all()) or (scores is not None and not bool(torch.isfinite(scores).all())):
        raise ValueError(f"mean_average_precision: {kind} {i} has boxes or scores that are not finite")
    bad = ((boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])).nonzero().flatten().tolist()
    if bad:
        raise ValueError(
            f"mean_average_precision: {kind} {i} has box {bad[0]} {boxes[bad[0]].tolist()} with x2 < x1 or y2 < y1; "
            "boxes are (x1, y1, x2, y2)"
        )
    if len(labels) != len(boxes) or (scores is not None and len(scores) != len(boxes)):
        raise ValueError(
            f"mean_average_precision: {kind} {i} has {len(boxes)} boxes, {len(labels)} labels"
            + (f" and {len(scores)} scores" if scores is not None else "")
            + ": one of each per box is expected"
        )
    return boxes, labels, scores


def _match_image(dt: Tensor, gt: Tensor, thresholds: Tensor) -> Tensor:
    """(T, n_dt) bools: which detections (sorted by score) are true positives at each threshold, by COCOeval's
    greedy rule: each detection takes the unmatched ground truth of highest IoU >= t (the last one on a tie)."""
    n_t, n_dt, n_gt = len(thresholds), len(dt), len(gt)
    matched = torch.zeros(n_t, n_dt, dtype=torch.bool)
    if n_dt == 0 or n_gt == 0:
        return matched
    ious = box_iou(dt, gt)  # float64 in, float64 out
    order = torch.arange(n_gt, dtype=torch.float64)
    for ti in range(n_t):
        t = min(float(thresholds[ti]), 1 - 1e-10)
        taken = torch.zeros(n_gt, dtype=torch.bool)
        for di in range(n_dt):
            row = ious[di].masked_fill(taken, -1.0)
            best = row.max()
            if best < t:
                continue
            # pycocotools keeps the later ground truth when two have the same IoU (`if iou < best: continue`)
            g = int(torch.where(row == best, order, -1.0).argmax())
            taken[g] = True
            matched[ti, di] = True
    return matched


def _precision_at_recalls(tp: Tensor, n_gt: int, rec_thrs: Tensor) -> Tensor:
    """(T, R) interpolated precision of one class from its ranked true-positive flags tp (T, n)."""
    n_t, n = tp.shape
    out = torch.zeros(n_t, len(rec_thrs), dtype=torch.float64)
    if n == 0:
        return out
    tps = tp.to(torch.float64).cumsum(1)
    fps = (~tp).to(torch.float64).cumsum(1)
    rc = tps / n_gt
    pr = tps / (fps + tps + _EPS)
    # the envelope: precision at a rank is the best precision at this rank or any later one
    pr = pr.flip(1).cummax(1).values.flip(1)
    for ti in range(n_t):
        idx = torch.searchsorted(rc[ti].contiguous(), rec_thrs, side="left")
        ok = idx < n
        out[ti, ok] = pr[ti, idx[ok]]
    return out


def mean_average_precision(
    preds: Sequence[Mapping[str, Tensor]],
    targets: Sequence[Mapping[str, Tensor]],
    iou_thresholds: Sequence[float] | None = None,
    max_dets: int = 100,
    n_recall: int = 101,
) -> dict[str, Any]:
    """COCO mAP of box detections, one dict per image in each list.

    `preds[i]`: `boxes` (k, 4) x1y1x2y2, `scores` (k,), `labels` (k,); `targets[i]`: `boxes`, `labels`.
    `iou_thresholds` default to COCO's 0.5:0.95 (10 values). Returns `map` (mean over thresholds, recall points
    and classes with ground truth), `map_50` and `map_75` (when those thresholds are evaluated), `map_per_class`
    ({class: AP over the thresholds}) and `precision` (T, R, classes; -1 for a class without ground truth, as in
    pycocotools). A value is -1 when no class has ground truth (pycocotools' convention).
    """
    if len(preds) != len(targets):
        raise ValueError(f"mean_average_precision: {len(preds)} predictions for {len(targets)} targets (one per image)")
    if max_dets < 1:
        raise ValueError(f"mean_average_precision: max_dets must be >= 1, got {max_dets}")
    thresholds, rec_thrs = _iou_thresholds(iou_thresholds), recall_thresholds(n_recall)
    images = [
        (_check("prediction", i, p, True), _check("target", i, t, False))
        for i, (p, t) in enumerate(zip(preds, targets, strict=True))
    ]
    classes = sorted({int(c) for (_, (_, gl, _)) in images for c in gl.tolist()})
    precision = torch.full((len(thresholds), len(rec_thrs), len(classes)), -1.0, dtype=torch.float64)
    for k, c in enumerate(classes):
        scores, flags, n_gt = [], [], 0
        for (pb, pl, ps), (gb, gl, _) in images:
            gt = gb[gl == c]
            sel = pl == c
            s = ps[sel]
            order = torch.sort(s, descending=True, stable=True).indices[:max_dets]
            n_gt += len(gt)
            scores.append(s[order])
            flags.append(_match_image(pb[sel][order], gt, thresholds))
        s_all = torch.cat(scores)
        rank = torch.sort(s_all, descending=True, stable=True).indices
        tp = torch.cat(flags, 1)[:, rank]
        precision[:, :, k] = _precision_at_recalls(tp, n_gt, rec_thrs)

    def mean(p: Tensor) -> float:
        valid = p[p > -1]
        return float(valid.mean()) if len(valid) else -1.0

    out: dict[str, Any] = {"map": mean(precision)}
    for name, t in (("map_50", 0.5), ("map_75", 0.75)):
        hit = torch.isclose(thresholds, torch.tensor(t, dtype=torch.float64))
        if hit.any():
            out[name] = mean(precision[hit])
    out["map_per_class"] = {c: mean(precision[:, :, k]) for k, c in enumerate(classes)}
    out["precision"] = precision
    return out


def unpad_targets(boxes: Tensor, labels: Tensor, pad_idx: int = 0) -> list[dict[str, Tensor]]:
    """Padded batch targets (n, k, 4) boxes and (n, k) labels → one dict per image without the padding (label
    `pad_idx` or a box without area, the convention of `gpu_augment.bb_pad`)."""
    boxes, labels = boxes.as_subclass(Tensor), labels.as_subclass(Tensor)
    if boxes.ndim != 3 or boxes.shape[-1] != 4 or labels.shape != boxes.shape[:2]:
        raise ValueError(
            f"unpad_targets: expected boxes (n, k, 4) and labels (n, k), got {tuple(boxes.shape)} and "
            f"{tuple(labels.shape)}"
        )
    keep = (labels != pad_idx) & (boxes[..., 2] > boxes[..., 0]) & (boxes[..., 3] > boxes[..., 1])
    return [{"boxes": b[m], "labels": lbl[m].long()} for b, lbl, m in zip(boxes, labels, keep, strict=True)]


class MeanAveragePrecision:
    """COCO mAP over a validation pass, a `Metric` for the Learner: `MeanAveragePrecision()` is mAP@[.5:.95]
    (named `map`), `MeanAveragePrecision(0.5)` mAP@.5 (named `map50`).

    It reads each batch's detections (`learn.pred["detections"]`, what `DetectionModel` gives in eval mode) and
    the padded targets `learn.yb = (boxes, labels)` (padding label `pad_idx`), and computes the value once per
    phase with `mean_average_precision`. Training batches (train mode: losses only) are skipped, so with
    `Recorder(train_metrics=True)` the training column reads None.
    """

    def __init__(
        self, iou: float | Sequence[float] | None = None, max_dets: int = 100, pad_idx: int = 0, name: str | None = None
    ) -> None:
        thresholds = None if iou is None else ([iou] if isinstance(iou, (int, float)) else list(iou))
        _iou_thresholds(thresholds)  # fail early on bad thresholds
        self.iou_thresholds = thresholds
        self.max_dets, self.pad_idx = max_dets, pad_idx
        if name is None:
            name = "map" if thresholds is None else "map" + "_".join(f"{round(100 * v)}" for v in thresholds)
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.preds: list[dict[str, Tensor]] = []
        self.targets: list[dict[str, Tensor]] = []

    def accumulate(self, learn: Learner) -> None:
        if getattr(learn, "training", False):
            return  # training batches hold only losses (train mode): the value of a training phase is None
        pred = learn.pred
        dets = pred.get("detections") if isinstance(pred, Mapping) else None
        if dets is None:
            raise ValueError(
                "MeanAveragePrecision needs detections: learn.pred['detections'] (what a DetectionModel gives in "
                f"eval mode); got a prediction of type {type(pred).__name__}"
            )
        if len(learn.yb) != 2:
            raise ValueError(f"MeanAveragePrecision expects targets (boxes, labels), got {len(learn.yb)} element(s)")
        self.preds += [{k: v.detach().cpu() for k, v in d.items()} for d in dets]
        self.targets += [{k: v.cpu() for k, v in t.items()} for t in unpad_targets(*learn.yb, pad_idx=self.pad_idx)]

    @property
    def value(self) -> float | None:
        if not self.preds:
            return None
        return mean_average_precision(self.preds, self.targets, self.iou_thresholds, self.max_dets)["map"]
