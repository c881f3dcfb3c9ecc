"""`DetectionInference` (the post-processing of static sizes that the exporters trace) gives what torchvision's own
detectors give: the reference is the torchvision model's forward in eval mode."""

import pytest
import torch
from torchvision.ops import batched_nms

from apps_vision import DetectionInference, batched_nms_static, build_detector, fixed_candidates


@pytest.mark.parametrize("seed", range(3))
def test_batched_nms_static_is_torchvisions(seed):
    # more than 1000 boxes: torchvision then runs its per-class loop (the reference), ours the coordinate trick
    g = torch.Generator().manual_seed(seed)
    n = 1200
    xy = torch.rand(n, 2, generator=g) * 90
    wh = torch.rand(n, 2, generator=g) * 30 + 1
    boxes = torch.cat([xy, xy + wh], 1)
    scores = torch.rand(n, generator=g)
    labels = torch.randint(0, 4, (n,), generator=g)
    want = batched_nms(boxes, scores, labels, 0.5)
    assert want.numel() < n  # something is suppressed
    assert torch.equal(batched_nms_static(boxes, scores, labels, 0.5), want)
    # masked candidates (below every valid score) neither suppress nor count for the offsets
    valid = scores > 0.3
    masked = torch.where(valid, scores, torch.full_like(scores, -1.0))
    keep = batched_nms_static(boxes, masked, labels, 0.5, valid)
    idx = valid.nonzero().flatten()
    assert torch.equal(keep[valid[keep]], idx[batched_nms(boxes[idx], scores[idx], labels[idx], 0.5)])
    assert batched_nms_static(boxes[:0], scores[:0], labels[:0], 0.5).numel() == 0


def test_fixed_candidates_are_the_top_scores_above_the_threshold():
    scores = torch.tensor([0.2, 0.9, 0.05, 0.6, 0.1, 0.7])
    top, idx, valid = fixed_candidates(scores, 0.15, 4)
    assert idx.tolist()[:3] == [1, 5, 3] and top.tolist()[:3] == pytest.approx([0.9, 0.7, 0.6])
    assert valid.tolist() == [True, True, True, True]  # 0.2 is the fourth
    top, idx, valid = fixed_candidates(scores, 0.5, 4)
    assert valid.tolist() == [True, True, True, False] and top[3] == -1.0


def _spread(net, seed, std=0.05):
    """Untrained heads score every anchor alike: scale the last layers so that scores and boxes vary, and set
    the batch norms' statistics from one batch (untrained, they shrink SSDlite's features to nothing)."""
    g = torch.Generator().manual_seed(seed)
    norms = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: one batch's statistics
    net.backbone.train()
    with torch.no_grad():
        net.backbone(torch.rand(4, 3, 64, 64, generator=g))
    for name, p in net.head.named_parameters():
        with torch.no_grad():
            if p.ndim == 4 and ("cls_logits" in name or "bbox" in name or "module_list" in name):
                p.copy_(torch.randn(p.shape, generator=g) * std)
            elif p.ndim == 1 and "cls_logits" in name:
                p.zero_()  # the prior's bias (-4.6: every score near 0.01)
    return net.eval()


@pytest.mark.parametrize(
    ("arch", "size"), [("fcos", (40, 56)), ("retinanet", (48, 48)), ("ssdlite", (64, 64))]
)  # fmt: skip
def test_inference_is_torchvisions_forward(arch, size):
    # the whole detector: ours (static sizes) against torchvision's forward, with the candidates per level, the
    # score threshold and the detections per image all cutting (small values), and boxes mapped back to the input
    torch.manual_seed(0)
    kw = {"backbone_arch": "resnet18", "fpn_channels": 16} if arch != "ssdlite" else {}
    net = build_detector(arch, 4, min_size=64, max_size=80, score_thresh=0.3, detections_per_img=12, **kw)
    net = _spread(net, 1, 0.005 if arch == "ssdlite" else 0.05)
    net.topk_candidates = 25
    ours = DetectionInference(net, pad_idx=-1, thresh=0.0, nms_iou=None).eval()
    n = 0
    for seed in range(3):
        x = torch.rand(3, *size, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            want = net([x])[0]
            boxes, labels, scores = ours(x)
        assert torch.equal(labels, want["labels"]), (arch, seed)
        torch.testing.assert_close(scores, want["scores"], atol=1e-6, rtol=0)
        torch.testing.assert_close(boxes, want["boxes"], atol=1e-4, rtol=0)
        n += len(labels)
    assert n > 3 * 5  # the comparison covers detections (and the cut at 12 per image)


def test_inference_drops_background_thresholds_and_suppresses():
    torch.manual_seed(0)
    net = _spread(build_detector("fcos", 3, "resnet18", min_size=48, max_size=48, fpn_channels=16), 2)
    x = torch.rand(3, 48, 48, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        raw = net([x])[0]
        boxes, labels, scores = DetectionInference(net, pad_idx=0, thresh=0.2, nms_iou=0.3)(x)
    keep = (raw["labels"] != 0) & (raw["scores"] >= 0.2)
    b, s, lbl = raw["boxes"][keep], raw["scores"][keep], raw["labels"][keep]
    idx = batched_nms(b, s, lbl, 0.3)
    assert len(idx) > 0 and torch.equal(labels, lbl[idx])
    torch.testing.assert_close(scores, s[idx])
    torch.testing.assert_close(boxes, b[idx])


def test_inference_refuses_faster_rcnn():
    net = build_detector("fasterrcnn", 3, "resnet18", min_size=48, max_size=48, fpn_channels=16)
    with pytest.raises(TypeError, match="FasterRCNN is not supported"):
        DetectionInference(net)
