"""mean_average_precision against pycocotools (random cases) and against values worked out by hand."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
import torch

from apps_vision import MeanAveragePrecision, mean_average_precision, recall_thresholds, unpad_targets


def _coco_reference(preds, targets, iou_thresholds=None, max_dets=100):
    """mAP and mAP@.5 from pycocotools' COCOeval on the same boxes (converted to COCO's x, y, w, h)."""
    coco_mod = pytest.importorskip("pycocotools.coco")
    cocoeval_mod = pytest.importorskip("pycocotools.cocoeval")
    images, anns, dets = [], [], []
    n_classes = 1 + max([int(t["labels"].max()) for t in targets if len(t["labels"])] + [0])
    n_classes = max(n_classes, 1 + max([int(p["labels"].max()) for p in preds if len(p["labels"])] + [0]))
    for i, (p, t) in enumerate(zip(preds, targets, strict=True)):
        images.append({"id": i + 1, "width": 200, "height": 200})
        for b, c in zip(t["boxes"].tolist(), t["labels"].tolist(), strict=True):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({"id": len(anns) + 1, "image_id": i + 1, "category_id": int(c), "bbox": [b[0], b[1], w, h],
                         "area": w * h, "iscrowd": 0})  # fmt: skip
        for b, c, s in zip(p["boxes"].tolist(), p["labels"].tolist(), p["scores"].tolist(), strict=True):
            dets.append({"image_id": i + 1, "category_id": int(c), "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]],
                         "score": s})  # fmt: skip
    gt = coco_mod.COCO()
    gt.dataset = {"images": images, "annotations": anns, "categories": [{"id": c} for c in range(1, n_classes)]}
    with contextlib.redirect_stdout(io.StringIO()):
        gt.createIndex()
        dt = gt.loadRes(dets) if dets else coco_mod.COCO()
        ev = cocoeval_mod.COCOeval(gt, dt, "bbox")
        ev.params.maxDets = [max_dets]  # COCOeval sorts this list: one value keeps index -1 meaning it
        if iou_thresholds is not None:
            ev.params.iouThrs = np.array(iou_thresholds)
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"][:, :, :, 0, -1]  # all areas, the largest maxDets

    def mean(p):
        p = p[p > -1]
        return float(p.mean()) if p.size else -1.0

    out = {"map": mean(prec)}
    if iou_thresholds is None:
        out["map_50"] = mean(prec[0])
    return out


def _random_case(rng: np.random.Generator, n_images: int, n_classes: int):
    preds, targets = [], []
    for _ in range(n_images):
        n_gt = int(rng.integers(0, 6))
        xy = rng.uniform(0, 150, (n_gt, 2))
        wh = rng.uniform(5, 50, (n_gt, 2))
        gt = np.concatenate([xy, xy + wh], 1)
        gl = rng.integers(1, n_classes, n_gt)
        # detections: jittered copies of ground truths (some with the wrong class) plus random boxes
        n_near = int(rng.integers(0, 2 * n_gt + 1)) if n_gt else 0
        src = rng.integers(0, max(n_gt, 1), n_near)
        near = gt[src] + rng.normal(0, 4, (n_near, 4)) if n_gt else np.zeros((0, 4))
        near_l = np.where(rng.uniform(size=n_near) < 0.8, gl[src] if n_gt else 0, rng.integers(1, n_classes, n_near))
        n_rand = int(rng.integers(0, 4))
        rxy = rng.uniform(0, 150, (n_rand, 2))
        rnd = np.concatenate([rxy, rxy + rng.uniform(5, 50, (n_rand, 2))], 1)
        boxes = np.concatenate([near, rnd])
        boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
        labels = np.concatenate([near_l, rng.integers(1, n_classes, n_rand)]).astype(np.int64)
        scores = rng.uniform(size=len(boxes)).round(2)  # rounded: ties in score happen, as they do in practice
        preds.append({"boxes": torch.tensor(boxes), "labels": torch.tensor(labels), "scores": torch.tensor(scores)})
        targets.append({"boxes": torch.tensor(gt), "labels": torch.tensor(gl, dtype=torch.int64)})
    return preds, targets


@pytest.mark.parametrize("seed", range(12))
def test_map_matches_pycocotools_on_random_cases(seed):
    rng = np.random.default_rng(seed)
    preds, targets = _random_case(rng, n_images=int(rng.integers(1, 8)), n_classes=int(rng.integers(2, 5)))
    ours = mean_average_precision(preds, targets)
    ref = _coco_reference(preds, targets)
    assert ours["map"] == pytest.approx(ref["map"], abs=1e-9)
    assert ours["map_50"] == pytest.approx(ref["map_50"], abs=1e-9)


def test_max_dets_is_per_image_and_class_as_in_pycocotools():
    rng = np.random.default_rng(5)
    preds, targets = _random_case(rng, n_images=4, n_classes=3)
    ours = mean_average_precision(preds, targets, max_dets=2)
    ref = _coco_reference(preds, targets, max_dets=2)
    assert ours["map"] == pytest.approx(ref["map"], abs=1e-9)


def test_custom_thresholds_match_pycocotools():
    rng = np.random.default_rng(7)
    preds, targets = _random_case(rng, n_images=5, n_classes=3)
    ours = mean_average_precision(preds, targets, iou_thresholds=[0.3, 0.6])
    assert ours["map"] == pytest.approx(_coco_reference(preds, targets, iou_thresholds=[0.3, 0.6])["map"], abs=1e-9)


def _box(x1, y1, x2, y2):
    return [float(x1), float(y1), float(x2), float(y2)]


def test_hand_computed_ap():
    # one image, one class, two ground truths A=(0,0,10,10) and B=(20,0,30,10); three detections ranked by score:
    # d1 on A (IoU 1), d2 a miss, d3 half on B: (25,0,35,10) has IoU 50/150 = 1/3 with B.
    gt = {"boxes": torch.tensor([_box(0, 0, 10, 10), _box(20, 0, 30, 10)]), "labels": torch.tensor([1, 1])}
    det = {
        "boxes": torch.tensor([_box(0, 0, 10, 10), _box(50, 50, 60, 60), _box(25, 0, 35, 10)]),
        "scores": torch.tensor([0.9, 0.8, 0.7]),
        "labels": torch.tensor([1, 1, 1]),
    }
    res = mean_average_precision([det], [gt], iou_thresholds=[0.5, 0.3])
    # at IoU .5: ranks TP, FP, FP -> recall 0.5 with precision 1 reached at rank 1; recall points 0..0.5 (51 of
    # 101) read precision 1, the others 0 -> AP = 51/101.
    # at IoU .3: TP, FP, TP -> precision 1, 1/2, 2/3; the envelope is 1, 2/3, 2/3; recall 0.5 then 1:
    # 51 points at 1 and 50 at 2/3 -> AP = (51 + 100/3) / 101.
    ap50, ap30 = 51 / 101, (51 + 100 / 3) / 101
    assert res["precision"][0, :, 0].mean().item() == pytest.approx(ap50)
    assert res["precision"][1, :, 0].mean().item() == pytest.approx(ap30)
    assert res["map"] == pytest.approx((ap50 + ap30) / 2)
    assert res["map_50"] == pytest.approx(ap50)
    assert _coco_reference([det], [gt], iou_thresholds=[0.5, 0.3])["map"] == pytest.approx(res["map"])


def test_hand_computed_classes_and_empty_cases():
    # class 1 found perfectly, class 2 missed entirely, class 3 only predicted (no ground truth: not counted)
    gt = {"boxes": torch.tensor([_box(0, 0, 10, 10), _box(20, 20, 40, 40)]), "labels": torch.tensor([1, 2])}
    det = {"boxes": torch.tensor([_box(0, 0, 10, 10), _box(60, 60, 70, 70)]), "scores": torch.tensor([0.5, 0.9]),
           "labels": torch.tensor([1, 3])}  # fmt: skip
    res = mean_average_precision([det], [gt])
    assert res["map_per_class"] == {1: pytest.approx(1.0), 2: 0.0}
    assert res["map"] == pytest.approx(0.5)
    empty = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.long)}
    assert mean_average_precision([{**empty, "scores": torch.zeros(0)}], [empty])["map"] == -1.0


def test_recall_points_are_numpys():
    assert recall_thresholds().numpy().tolist() == np.linspace(0.0, 1.0, 101).tolist()


def test_bad_input_is_refused():
    det = {"boxes": torch.zeros(2, 4), "labels": torch.zeros(2, dtype=torch.long)}
    gt = {"boxes": torch.zeros(1, 4), "labels": torch.ones(1, dtype=torch.long)}
    with pytest.raises(ValueError, match=r"prediction 0 has no \['scores'\]"):
        mean_average_precision([det], [gt])
    with pytest.raises(ValueError, match="1 predictions for 2 targets"):
        mean_average_precision([{**det, "scores": torch.ones(2)}], [gt, gt])
    with pytest.raises(ValueError, match="iou_thresholds"):
        mean_average_precision([{**det, "scores": torch.ones(2)}], [gt], iou_thresholds=[1.5])


def test_boxes_scores_and_labels_that_would_be_misread_are_refused():
    gt = {"boxes": torch.tensor([[0.0, 0, 10, 10]]), "labels": torch.tensor([1])}
    det = {**gt, "scores": torch.tensor([0.9])}
    assert mean_average_precision([det], [gt])["map"] == pytest.approx(1.0)
    # a NaN coordinate used to count as a match (map 1.0), a box with x2 < x1 as no box (map 0.0)
    cases = [
        ({**det, "boxes": torch.tensor([[0.0, 0, float("nan"), 10]])}, gt, "prediction 0 has boxes or scores that"),
        ({**det, "scores": torch.tensor([float("nan")])}, gt, "prediction 0 has boxes or scores that are not finite"),
        (det, {**gt, "boxes": torch.tensor([[10.0, 10, 0, 0]])}, r"target 0 has box 0 \[10.0, 10.0, 0.0, 0.0\]"),
        ({**det, "boxes": torch.tensor([[10.0, 0, 0, 10]])}, gt, "prediction 0 has box 0 .* x2 < x1"),
        ({**det, "boxes": torch.zeros(1, 5)}, gt, r"boxes of shape \(1, 5\); expected \(k, 4\)"),
        ({**det, "labels": torch.tensor([1.7])}, gt, "expected class indices"),  # used to be read as class 1
    ]
    for p, t, msg in cases:
        with pytest.raises(ValueError, match=msg):
            mean_average_precision([p], [t])


def test_unpad_targets_drops_padding_with_its_labels():
    boxes = torch.tensor([[[1.0, 1, 5, 5], [0, 0, 0, 0]], [[2.0, 2, 3, 3], [4, 4, 8, 8]]])
    labels = torch.tensor([[2, 0], [1, 3]])
    out = unpad_targets(boxes, labels)
    assert out[0]["boxes"].tolist() == [[1, 1, 5, 5]] and out[0]["labels"].tolist() == [2]
    assert out[1]["labels"].tolist() == [1, 3]
    with pytest.raises(ValueError, match=r"boxes \(n, k, 4\)"):
        unpad_targets(boxes[0], labels[0])


class _FakeLearn:
    def __init__(self, pred, yb):
        self.pred, self.yb = pred, yb


def test_metric_accumulates_batches_like_the_function():
    rng = np.random.default_rng(3)
    preds, targets = _random_case(rng, n_images=4, n_classes=3)
    metric, metric50 = MeanAveragePrecision(), MeanAveragePrecision(0.5)
    assert (metric.name, metric50.name) == ("map", "map50")
    for lo in (0, 2):
        k = max(1, max(len(t["labels"]) for t in targets[lo : lo + 2]))
        boxes, labels = torch.zeros(2, k, 4), torch.zeros(2, k, dtype=torch.long)
        for j, t in enumerate(targets[lo : lo + 2]):
            boxes[j, : len(t["labels"])], labels[j, : len(t["labels"])] = t["boxes"], t["labels"]
        learn = _FakeLearn({"detections": preds[lo : lo + 2]}, (boxes, labels))
        metric.accumulate(learn)
        metric50.accumulate(learn)
    expected = mean_average_precision(preds, targets)
    assert metric.value == pytest.approx(expected["map"], abs=1e-6)  # float32 boxes in the padded batch
    assert metric50.value == pytest.approx(expected["map_50"], abs=1e-6)
    with pytest.raises(ValueError, match="needs detections"):
        metric.accumulate(_FakeLearn({"losses": {}}, (boxes, labels)))
