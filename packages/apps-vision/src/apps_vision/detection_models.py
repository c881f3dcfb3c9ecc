"""Detection models: torchvision's RetinaNet, FCOS, Faster R-CNN and SSDlite on any registry backbone.

`FPNBackbone(arch)` is a registry body (`create_body`) whose stage outputs (found by running a small image
through its children and keeping the last child at each resolution) feed torchvision's `FeaturePyramidNetwork`;
`SSDLiteBackbone(arch)` adds SSDlite's extra depthwise blocks to the last two stages instead. `DetectionModel`
wraps the torchvision model for the Learner: it takes a batch tensor and padded targets (boxes (n, k, 4) in
pixels, labels (n, k), padding label `pad_idx`) and returns a dict: `losses` (the model's loss terms) in
training; in eval mode `detections` (one dict of boxes, scores, labels per image) and, when targets are given,
`losses` computed in train mode without gradients and with batch norm and dropout in eval mode (frozen), which
is what `valid_loss` means for a detection learner.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection import FCOS, FasterRCNN, RetinaNet
from torchvision.models.detection.anchor_utils import AnchorGenerator, DefaultBoxGenerator
from torchvision.models.detection.fcos import FCOSClassificationHead, FCOSHead, FCOSRegressionHead
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.retinanet import RetinaNetHead
from torchvision.models.detection.roi_heads import RoIHeads
from torchvision.models.detection.rpn import RegionProposalNetwork
from torchvision.models.detection.ssd import SSD
from torchvision.models.detection.ssdlite import SSDLiteHead
from torchvision.models.detection.transform import GeneralizedRCNNTransform
from torchvision.ops import FeaturePyramidNetwork, MultiScaleRoIAlign
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool, LastLevelP6P7

from apps_vision.backbones import backbone, create_body, imagenet_stats
from apps_vision.metrics_detection import unpad_targets

__all__ = ["DETECTION_ARCHS", "LOSS_TERMS", "FPNBackbone", "SSDLiteBackbone", "DetectionModel", "build_detector"]

DETECTION_ARCHS: tuple[str, ...] = ("retinanet", "fcos", "fasterrcnn", "ssdlite")
"""The detection models `detection_learner` builds (torchvision's, on a registry backbone)."""

LOSS_TERMS: dict[str, tuple[str, ...]] = {
    "retinanet": ("classification", "bbox_regression"),
    "fcos": ("classification", "bbox_regression", "bbox_ctrness"),
    "fasterrcnn": ("loss_classifier", "loss_box_reg", "loss_objectness", "loss_rpn_box_reg"),
    "ssdlite": ("bbox_regression", "classification"),
}
"""The loss dictionary's keys of each model (the terms the Learner records); checked by test_detection.py."""

_PROBE = 128  # side of the image run through a body to find its stages


def _stages(body: nn.Sequential, n_in: int) -> list[tuple[int, int, int]]:
    """(child index, channels, stride) of the last child at each resolution of `body` (a dry run, no grad)."""
    was = body.training
    body.eval()
    out: list[tuple[int, int, int]] = []
    try:
        with torch.no_grad():
            x = torch.zeros(1, n_in, _PROBE, _PROBE, device=next(body.parameters()).device)
            for i, layer in enumerate(body):
                x = layer(x)
                if x.ndim != 4:
                    raise ValueError(f"child {i} of the body gives a {x.ndim}-d output, not a (n, c, h, w) map")
                stride = _PROBE // x.shape[-1]
                if out and out[-1][2] == stride:
                    out[-1] = (i, x.shape[1], stride)
                else:
                    out.append((i, x.shape[1], stride))
    finally:
        body.train(was)
    return out


class _TappedBody(nn.Module):
    """Runs a body's children in order and returns the outputs of the children at `taps`, as named maps."""

    def __init__(self, body: nn.Sequential, taps: Sequence[int]) -> None:
        super().__init__()
        self.body, self.taps = body[: max(taps) + 1], list(taps)

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        feats: OrderedDict[str, Tensor] = OrderedDict()
        for i, layer in enumerate(self.body):
            x = layer(x)
            if i in self.taps:
                feats[str(len(feats))] = x
        return feats


def _tapped(arch: str, n_in: int, pretrained: bool, weights: Any, n_levels: int) -> tuple[_TappedBody, list, list]:
    bb = backbone(arch)
    if bb.family in ("vit", "swin", "maxvit"):
        raise ValueError(
            f"detection needs a convolutional backbone with feature maps at several strides; {bb.name} "
            f"({bb.family}) gives a single map. Use e.g. resnet18, resnet50, mobilenet_v3_large, efficientnet_b0"
        )
    body = create_body(bb.name, n_in=n_in, pretrained=pretrained, weights=weights)
    stages = [s for s in _stages(body, n_in) if s[2] >= 4]
    if len(stages) < n_levels:
        raise ValueError(f"{bb.name}: its body has {len(stages)} stages of stride >= 4, {n_levels} are needed")
    chosen = stages[-n_levels:]
    return _TappedBody(body, [s[0] for s in chosen]), [s[1] for s in chosen], [s[2] for s in chosen]


class FPNBackbone(nn.Module):
    """A registry body with a feature pyramid on its last `n_levels` stages (strides 8, 16, 32 for a ResNet).

    `extra` adds levels: "p6p7" (RetinaNet, FCOS: two stride-2 convs on P5) or "pool" (Faster R-CNN: a max
    pool of the last level). `out_channels` (every level's width) is what torchvision's detectors read; `strides`
    lists each output level's stride.
    """

    out_channels: int
    strides: list[int]

    def __init__(
        self,
        arch: str = "resnet18",
        out_channels: int = 128,
        n_levels: int = 3,
        extra: str | None = "p6p7",
        pretrained: bool = False,
        weights: Any = None,
        n_in: int = 3,
    ) -> None:
        super().__init__()
        self.body, in_channels, strides = _tapped(arch, n_in, pretrained, weights, n_levels)
        if extra == "p6p7":
            extra_blocks: nn.Module | None = LastLevelP6P7(out_channels, out_channels)
            strides = [*strides, strides[-1] * 2, strides[-1] * 4]
        elif extra == "pool":
            extra_blocks = LastLevelMaxPool()
            strides = [*strides, strides[-1] * 2]
        elif extra is None:
            extra_blocks = None
        else:
            raise ValueError(f"FPNBackbone: extra must be 'p6p7', 'pool' or None, got {extra!r}")
        self.fpn = FeaturePyramidNetwork(in_channels, out_channels, extra_blocks=extra_blocks)
        self.out_channels, self.strides = out_channels, strides

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        return self.fpn(self.body(x))


def _extra_block(c_in: int, c_out: int) -> nn.Sequential:
    """SSDlite's extra layer: 1x1 conv to c_out/2, depthwise 3x3 stride 2, 1x1 conv to c_out (BN + ReLU6)."""
    mid = c_out // 2

    def cbr(ci: int, co: int, k: int, stride: int = 1, groups: int = 1) -> list[nn.Module]:
        conv = nn.Conv2d(ci, co, k, stride, k // 2, groups=groups, bias=False)
        return [conv, nn.BatchNorm2d(co, eps=0.001, momentum=0.03), nn.ReLU6(inplace=True)]

    return nn.Sequential(*cbr(c_in, mid, 1), *cbr(mid, mid, 3, 2, mid), *cbr(mid, c_out, 1))


class SSDLiteBackbone(nn.Module):
    """A registry body's last two stages plus four SSDlite extra blocks (widths 512, 256, 256, 128): six maps."""

    def __init__(self, arch: str = "mobilenet_v3_large", pretrained: bool = False, weights: Any = None, n_in: int = 3):
        super().__init__()
        self.body, chans, _ = _tapped(arch, n_in, pretrained, weights, 2)
        widths = [512, 256, 256, 128]
        self.extra = nn.ModuleList(
            _extra_block(ci, co) for ci, co in zip([chans[-1], *widths[:-1]], widths, strict=True)
        )
        self.out_channels = [*chans, *widths]

    def forward(self, x: Tensor) -> OrderedDict[str, Tensor]:
        feats = self.body(x)
        y = next(reversed(feats.values()))
        for block in self.extra:
            y = block(y)
            feats[str(len(feats))] = y
        return feats


def _anchor_sizes(strides: Sequence[int], scale: float) -> tuple[tuple[int, ...], ...]:
    """Three sizes per level (RetinaNet's 2^0, 2^(1/3), 2^(2/3)) around `scale` x the level's stride."""
    return tuple(tuple(int(scale * s * 2 ** (i / 3)) for i in range(3)) for s in strides)


def build_detector(
    arch: str,
    n_classes: int,
    backbone_arch: str | None = None,
    pretrained: bool = False,
    weights: Any = None,
    min_size: int = 800,
    max_size: int = 1333,
    image_mean: Sequence[float] | None = None,
    image_std: Sequence[float] | None = None,
    fpn_channels: int = 128,
    anchor_scale: float = 4.0,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
    **kwargs: Any,
) -> nn.Module:
    """A torchvision detector `arch` ("retinanet", "fcos", "fasterrcnn", "ssdlite") for `n_classes` classes
    (background included, at index 0) on the registry backbone `backbone_arch` (default resnet18 with an FPN of
    `fpn_channels`; mobilenet_v3_large for SSDlite).

    Images are resized so the short side is `min_size` and the long side at most `max_size` (SSDlite: to a fixed
    `min_size` square) and normalised by `image_mean`/`image_std` inside the model (default ImageNet's). Anchor
    sizes are `anchor_scale` x each level's stride (x 2^0, 2^(1/3), 2^(2/3); FCOS uses the strides). Detections
    keep scores >= `score_thresh` after per-class NMS at `nms_thresh`, at most `detections_per_img`.
    `kwargs` go to the torchvision model's constructor.
    """
    if arch not in DETECTION_ARCHS:
        raise ValueError(f"unknown detection arch {arch!r}; one of {list(DETECTION_ARCHS)}")
    if n_classes < 2:
        raise ValueError(f"detection needs n_classes >= 2 (background at 0 and at least one class), got {n_classes}")
    mean = list(image_mean) if image_mean is not None else imagenet_stats[0]
    std = list(image_std) if image_std is not None else imagenet_stats[1]
    common: dict[str, Any] = {"image_mean": mean, "image_std": std}
    if arch == "ssdlite":
        ssd_bb = SSDLiteBackbone(backbone_arch or "mobilenet_v3_large", pretrained, weights)
        boxes = DefaultBoxGenerator([[2, 3] for _ in range(6)], min_ratio=0.2, max_ratio=0.95)
        norm = _ssd_norm
        head = SSDLiteHead(ssd_bb.out_channels, boxes.num_anchors_per_location(), n_classes, norm)
        return SSD(
            ssd_bb, boxes, (min_size, min_size), n_classes, head=head, score_thresh=score_thresh, nms_thresh=nms_thresh,
            detections_per_img=detections_per_img, topk_candidates=300, **common, **kwargs,
        )  # fmt: skip
    common |= {"min_size": min_size, "max_size": max_size}
    name = backbone_arch or "resnet18"
    if arch == "fasterrcnn":
        bb = FPNBackbone(name, fpn_channels, 3, "pool", pretrained, weights)
        anchors = AnchorGenerator(
            tuple((int(anchor_scale * s),) for s in bb.strides), ((0.5, 1.0, 2.0),) * len(bb.strides)
        )
        pool = MultiScaleRoIAlign([str(i) for i in range(len(bb.strides) - 1)], 7, 2)
        return FasterRCNN(
            bb, n_classes, rpn_anchor_generator=anchors, box_roi_pool=pool, box_score_thresh=score_thresh,
            box_nms_thresh=nms_thresh, box_detections_per_img=detections_per_img, **common, **kwargs,
        )  # fmt: skip
    bb = FPNBackbone(name, fpn_channels, 3, "p6p7", pretrained, weights)
    post = {"score_thresh": score_thresh, "nms_thresh": nms_thresh, "detections_per_img": detections_per_img}
    if arch == "fcos":
        anchors = AnchorGenerator(tuple((s,) for s in bb.strides), ((1.0,),) * len(bb.strides))
        n_anchors = anchors.num_anchors_per_location()[0]
        # torchvision's FCOSHead hard-codes GroupNorm(32) in its two branches: build it at a width that allows
        # that (its box coder does not depend on the width), then put in branches of the pyramid's width
        head = FCOSHead(32, n_anchors, n_classes)
        head.classification_head = FCOSClassificationHead(fpn_channels, n_anchors, n_classes, norm_layer=_group_norm)
        head.regression_head = FCOSRegressionHead(fpn_channels, n_anchors, norm_layer=_group_norm)
        return FCOS(bb, n_classes, anchor_generator=anchors, head=head, **common, **post, **kwargs)
    anchors = AnchorGenerator(_anchor_sizes(bb.strides, anchor_scale), ((0.5, 1.0, 2.0),) * len(bb.strides))
    head = RetinaNetHead(fpn_channels, anchors.num_anchors_per_location()[0], n_classes, norm_layer=_group_norm)
    return RetinaNet(bb, n_classes, anchor_generator=anchors, head=head, **common, **post, **kwargs)


def _ssd_norm(c: int) -> nn.Module:
    return nn.BatchNorm2d(c, eps=0.001, momentum=0.03)


def _group_norm(c: int) -> nn.Module:
    # torchvision's RetinaNet v2 head: GroupNorm(32) trains from scratch better than no normalization
    return nn.GroupNorm(min(32, c // 4), c)


# modules of a torchvision detector that branch on `training` to compute losses (the rest are layers)
_LOSS_MODULES = (RetinaNet, FCOS, SSD, GeneralizedRCNN, RegionProposalNetwork, RoIHeads, GeneralizedRCNNTransform)


class DetectionModel(nn.Module):
    """A torchvision detector seen by the Learner: `forward(images, boxes=None, labels=None)` on a batch tensor
    (n, 3, h, w) and padded pixel targets; returns `{"losses": {...}}` in training, `{"detections": [...]}` in
    eval mode, plus the frozen-norm `losses` when targets are given (see the module docstring)."""

    config_safe = True  # described by plain arguments: an export may rebuild it

    def __init__(self, arch: str, n_classes: int, pad_idx: int = 0, **config: Any) -> None:
        super().__init__()
        self.net = build_detector(arch, n_classes, **config)
        self.arch, self.n_classes, self.pad_idx = arch, n_classes, pad_idx
        self._config = {"arch": arch, "n_classes": n_classes, "pad_idx": pad_idx, **config}

    def to_config(self) -> dict[str, Any]:
        """The arguments that rebuild this model (without pretrained weights: load the exported ones after)."""
        cfg = dict(self._config)
        cfg["pretrained"] = False
        cfg.pop("weights", None)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in cfg.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DetectionModel:
        """Rebuild from `to_config()` with random weights."""
        return cls(**config)

    def forward(self, images: Tensor, boxes: Tensor | None = None, labels: Tensor | None = None) -> dict[str, Any]:
        imgs = list(images.as_subclass(Tensor))
        targets = None if boxes is None or labels is None else unpad_targets(boxes, labels, self.pad_idx)
        if self.training:
            if targets is None:
                raise ValueError("DetectionModel in training mode needs targets: forward(images, boxes, labels)")
            return {"losses": self.net(imgs, targets)}
        out: dict[str, Any] = {"detections": [self._drop_background(d) for d in self.net(imgs)]}
        if targets is not None:
            out["losses"] = self.frozen_losses(imgs, targets)
        return out

    def _drop_background(self, det: dict[str, Tensor]) -> dict[str, Tensor]:
        # RetinaNet and FCOS score every class column, the background's (index pad_idx) too: never a detection
        keep = det["labels"] != self.pad_idx
        return det if bool(keep.all()) else {k: v[keep] for k, v in det.items()}

    def frozen_losses(self, images: list[Tensor], targets: list[dict[str, Tensor]]) -> dict[str, Tensor]:
        """The training losses without gradients, batch norm and dropout in eval mode (their statistics and
        outputs untouched) and the global random state kept (Faster R-CNN samples proposals at random)."""
        modes = {m: m.training for m in self.net.modules()}
        devices = [images[0].device] if images and images[0].is_cuda else []
        try:
            self.net.eval()
            for m in self.net.modules():
                if isinstance(m, _LOSS_MODULES):
                    m.training = True
            with torch.no_grad(), torch.random.fork_rng(devices=devices):
                return self.net(images, targets)
        finally:
            for m, mode in modes.items():
                m.training = mode
