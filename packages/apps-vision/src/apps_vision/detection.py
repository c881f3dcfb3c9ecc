"""`detection_learner`: torchvision's detectors trained by the same Learner, callbacks and schedules as any model.

The batch is `(images, boxes, labels)`: images (n, 3, h, w), boxes (n, k, 4) in pixels and labels (n, k) padded
with label 0 (`BBoxBlock` + `BBoxLblBlock` with `add_na`, or any loader that pads the same way). The
`DetectionTargets` callback hands the targets to the model with the images (torchvision's detectors need them
in `forward` to compute their losses); the model (`DetectionModel`) returns its loss dictionary, which
`DetectionLoss` sums and `LossTerm` metrics record term by term. Validation runs the model in eval mode for
detections (for `MeanAveragePrecision`) and computes the losses in train mode without gradients with batch norm
frozen: that is `valid_loss`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import torch
from torch import Tensor
from torchvision.ops import batched_nms

from apps_vision.detection_inference import EXPORTABLE_DETECTORS, DetectionInference
from apps_vision.detection_models import DETECTION_ARCHS, LOSS_TERMS, DetectionModel
from apps_vision.metrics_detection import MeanAveragePrecision, unpad_targets
from datablock import Normalize, with_progress
from dispatch_transforms import Pipeline
from pluggable_optim import Adam
from trainloop_callbacks import Callback, Learner
from trainloop_callbacks.loop.data import DataLoaderPair
from typedtensor import TensorBBox, TensorImage, show_images

if TYPE_CHECKING:
    from typedtensor import Canvas

__all__ = ["DetectionTargets", "DetectionLoss", "LossTerm", "Detections", "DetectionLearner", "detection_learner"]


class DetectionTargets(Callback):
    """Before each batch, appends the targets to the model's inputs: `model(images, boxes, labels)` (torchvision's
    detectors compute their losses inside `forward`). The targets stay in `learn.yb` for the loss and metrics."""

    order = -5  # before MixedPrecision (10) and anything that reads the inputs

    def before_batch(self) -> None:
        learn = self.learn
        if learn.yb:
            learn.xb = (*learn.xb, *learn.yb)


class DetectionLoss:
    """The loss of a detector: the sum of the terms of the model's loss dictionary (`pred["losses"]`).
    The targets are ignored here: the model used them already (see `DetectionTargets`)."""

    config_safe = True

    def __call__(self, pred: Mapping[str, Any], *yb: Any) -> Tensor:  # noqa: ARG002 - the Learner's loss protocol
        losses = pred.get("losses") if isinstance(pred, Mapping) else None
        if not losses:
            raise ValueError(
                "DetectionLoss: the model gave no losses (pred['losses']); a DetectionModel needs the targets, "
                "which the DetectionTargets callback passes (detection_learner adds it)"
            )
        return sum(losses.values())


class LossTerm:
    """One term of the detector's loss dictionary averaged over a phase (a `Metric` named after the term), so
    the Recorder logs each term next to the total loss; `Recorder(train_metrics=True)` logs them on training too."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.reset()

    def reset(self) -> None:
        self.total, self.count = 0.0, 0

    def accumulate(self, learn: Learner) -> None:
        losses = learn.pred.get("losses", {}) if isinstance(learn.pred, Mapping) else {}
        if self.name not in losses:
            raise ValueError(f"LossTerm({self.name!r}): the model's losses have the terms {sorted(losses)}")
        bs = len(learn.xb[0])
        self.total += float(losses[self.name]) * bs
        self.count += bs

    @property
    def value(self) -> float | None:
        return self.total / self.count if self.count else None


class Detections(NamedTuple):
    """What `DetectionLearner.predict` gives for one image: `boxes` (k, 4) x1y1x2y2 pixels of the image as the
    model saw it (after the item transforms), `labels` (class names, or indices without a vocab), `scores` (k,)."""

    boxes: TensorBBox
    labels: list[Any]
    scores: Tensor


class _LabelledBoxes:
    """Boxes drawn with captions on a picture (the `show` protocol of `show_images`)."""

    def __init__(self, boxes: TensorBBox, labels: list[str]) -> None:
        self.boxes, self.labels = boxes, labels

    def show(self, ctx: Canvas | None = None, **kwargs: Any) -> Canvas:  # noqa: ARG002
        return self.boxes.show(ctx, labels=self.labels)


class DetectionLearner(Learner):
    """A `Learner` for a `DetectionModel`: `get_preds` gives detections per image, `predict` one image's boxes,
    labels and scores after a score threshold and NMS, `show_results` draws targets and predictions."""

    config_safe = True

    vocab: list[Any] | None = None

    def _loader(self, ds_idx: int, dl: Iterable[Any] | None) -> Iterable[Any]:
        if dl is not None:
            return dl
        if ds_idx not in (0, 1):
            raise ValueError(f"ds_idx must be 0 (train) or 1 (valid), got {ds_idx}")
        return self.dls.train if ds_idx == 0 else self.dls.valid

    def _images(self, dl: Iterable[Any]) -> Iterable[tuple[Tensor, tuple[Any, ...]]]:
        device = next(self.model.parameters()).device
        n_inp = getattr(self.dls, "n_inp", 1)
        for b in dl:
            b = tuple(b) if isinstance(b, (tuple, list)) else (b,)
            yield b[0].to(device), tuple(o.to(device) for o in b[n_inp:])

    def get_preds(  # type: ignore[override]  # detections are lists of dicts, not one tensor: no with_decoded/act
        self, ds_idx: int = 1, dl: Iterable[Any] | None = None, with_input: bool = False, **kwargs: Any
    ) -> tuple[Any, ...]:
        """`([images,] detections, targets)` over a dataset: per image a dict of `boxes`, `scores`, `labels` (on
        the CPU), and the unpadded targets (an empty list on unlabelled data). The model runs in eval mode under
        `no_grad`, without the training callbacks. `kwargs` (`reorder`, `with_decoded`...) are not used."""
        del kwargs
        dl = self._loader(ds_idx, dl)
        was = self.model.training
        self.model.eval()
        preds: list[dict[str, Tensor]] = []
        targets: list[dict[str, Tensor]] = []
        inputs: list[Tensor] = []
        try:
            with torch.no_grad():
                for images, yb in self._images(dl):
                    out = self.model(images.as_subclass(Tensor))
                    preds += [{k: v.cpu() for k, v in d.items()} for d in out["detections"]]
                    if len(yb) == 2:
                        pad_idx = getattr(self.model, "pad_idx", 0)
                        targets += [{k: v.cpu() for k, v in t.items()} for t in unpad_targets(*yb, pad_idx=pad_idx)]
                    if with_input:
                        inputs.append(images.cpu())
        finally:
            self.model.train(was)
        res: tuple[Any, ...] = (preds, targets)
        return (torch.cat(inputs), *res) if with_input else res

    def _names(self, labels: Tensor) -> list[Any]:
        vocab = self.vocab
        return [str(vocab[i]) if vocab is not None else i for i in labels.tolist()]

    def _filter(self, det: Mapping[str, Tensor], thresh: float, nms_iou: float | None) -> dict[str, Tensor]:
        keep = det["scores"] >= thresh
        boxes, scores, labels = det["boxes"][keep], det["scores"][keep], det["labels"][keep]
        if nms_iou is not None and len(boxes):
            idx = batched_nms(boxes.float(), scores.float(), labels, nms_iou)
            boxes, scores, labels = boxes[idx], scores[idx], labels[idx]
        return {"boxes": boxes, "scores": scores, "labels": labels}

    def predict(self, item: Any, thresh: float = 0.5, nms_iou: float | None = 0.5) -> Detections:
        """One image's detections with a score >= `thresh`, after per-class NMS at IoU `nms_iou` (None: only the
        model's own NMS): `Detections(boxes, labels, scores)`, best score first. `item` is a raw item
        (a file name, a PIL image...) that goes through `dls.test_dl`, or an image tensor (3, h, w).
        FCOS, RetinaNet and SSDlite run through `DetectionInference`, the module the exported program runs
        (torchvision's post-processing with static sizes: the same detections); Faster R-CNN through torchvision's."""
        test_dl = getattr(self.dls, "test_dl", None)
        if callable(test_dl) and not isinstance(item, Tensor):
            dl: Iterable[Any] = test_dl([item])  # the image alone (bb_pad passes box-less samples)
        elif isinstance(item, Tensor) and item.ndim == 3:
            dl = [(item[None],)]
        else:
            raise TypeError(
                f"predict: expected an image tensor (3, h, w) or, with data that have `test_dl`, a raw item; got "
                f"{type(item).__name__}" + (f" of shape {tuple(item.shape)}" if isinstance(item, Tensor) else "")
            )
        net = getattr(self.model, "net", None)
        if isinstance(net, EXPORTABLE_DETECTORS):  # the module the exported program runs (static sizes)
            images, _ = next(iter(self._images(dl)))
            was = self.model.training
            self.model.eval()
            try:
                with torch.no_grad():
                    pad_idx = int(getattr(self.model, "pad_idx", 0))
                    infer = DetectionInference(net, pad_idx, thresh, nms_iou)
                    boxes, labels, scores = infer(images[0].as_subclass(Tensor))
            finally:
                self.model.train(was)
            det = {"boxes": boxes.cpu(), "labels": labels.cpu(), "scores": scores.cpu()}
        else:  # torchvision's post-processing (Faster R-CNN)
            images, dets, _ = self.get_preds(dl=dl, with_input=True)
            det = self._filter(dets[0], thresh, nms_iou)
        h, w = images.shape[-2:]
        return Detections(TensorBBox(det["boxes"], canvas_size=(h, w)), self._names(det["labels"]), det["scores"])

    def predict_files(
        self,
        items: Sequence[Any],
        bs: int = 16,
        thresh: float = 0.5,
        nms_iou: float | None = 0.5,
        progress: bool = True,
        **kwargs: Any,
    ) -> list[Detections]:
        """`predict(item, thresh, nms_iou)` for many raw items (file names...), in order: decoded in batches of
        `bs` through `dls.test_dl` (`kwargs` go to it, e.g. `num_workers`), each image then detected as `predict`
        does it, with a progress bar."""
        if isinstance(items, (str, Path)):
            raise TypeError(f"predict_files: expected a list of items, got one {type(items).__name__} {items!r}")
        items = list(items)
        if not items:
            return []
        test_dl = getattr(self.dls, "test_dl", None)
        if not callable(test_dl):
            raise TypeError(f"predict_files: the learner's data ({type(self.dls).__name__}) have no `test_dl`")
        dl = test_dl(items, bs=bs, **kwargs)
        net = getattr(self.model, "net", None)
        pad_idx = int(getattr(self.model, "pad_idx", 0))
        out: list[Detections] = []
        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                for images, _ in with_progress(self._images(dl), len(dl), progress):
                    plain = images.as_subclass(Tensor)
                    if isinstance(net, EXPORTABLE_DETECTORS):  # as `predict`: the exported module, image by image
                        infer = DetectionInference(net, pad_idx, thresh, nms_iou)
                        dets = [dict(zip(("boxes", "labels", "scores"), infer(im), strict=True)) for im in plain]
                    else:
                        dets = [self._filter(d, thresh, nms_iou) for d in self.model(plain)["detections"]]
                    h, w = images.shape[-2:]
                    out += [
                        Detections(
                            TensorBBox(d["boxes"].cpu(), canvas_size=(h, w)),
                            self._names(d["labels"].cpu()),
                            d["scores"].cpu(),
                        )
                        for d in dets
                    ]
        finally:
            self.model.train(was)
        return out

    def export_program(self, path: str | Path = "model.pt2", thresh: float = 0.5, nms_iou: float | None = 0.5) -> Path:
        """`predict(item, thresh, nms_iou)` as a `torch.export` program on a uint8 image (see
        `apps_vision.export_detection`); a `RuntimeError` names the limit when torch.export cannot trace the model."""
        from apps_vision.deploy import export_detection

        return export_detection(self, path, "program", thresh, nms_iou)

    def export_onnx(
        self,
        path: str | Path = "model.onnx",
        thresh: float = 0.5,
        nms_iou: float | None = 0.5,
        opset_version: int | None = None,
    ) -> Path:
        """`predict(item, thresh, nms_iou)` as an ONNX file (see `apps_vision.export_detection`); a `RuntimeError`
        names the limit when the exporter cannot trace the model."""
        from apps_vision.deploy import export_detection

        return export_detection(self, path, "onnx", thresh, nms_iou, opset_version)

    def show_results(  # type: ignore[override]  # takes `thresh`; the base's options do not apply to boxes
        self, ds_idx: int = 1, dl: Iterable[Any] | None = None, max_n: int = 6, thresh: float = 0.5, scale: int = 2
    ) -> Canvas:
        """A batch drawn in two columns: the targets' boxes, then the detections with a score >= `thresh` (captions
        "label score"), each on its image."""
        b = next(iter(self._loader(ds_idx, dl)))
        images, dets, targets = self.get_preds(dl=[b], with_input=True)
        decode = getattr(self.dls, "decode_batch", None)
        shown = [it[0] for it in decode((images,), max_n=max_n, full=False)] if callable(decode) else None
        pictures, titles = [], []
        for i in range(min(max_n, len(dets))):
            img = shown[i] if shown is not None else TensorImage(images[i])
            h, w = images.shape[-2:]
            det = self._filter(dets[i], thresh, None)
            names = [f"{n} {s:.2f}" for n, s in zip(self._names(det["labels"]), det["scores"].tolist(), strict=True)]
            if targets:
                tb = TensorBBox(targets[i]["boxes"], canvas_size=(h, w))
                pictures.append((img, _LabelledBoxes(tb, [str(n) for n in self._names(targets[i]["labels"])])))
                titles.append("target")
            pictures.append((img, _LabelledBoxes(TensorBBox(det["boxes"], canvas_size=(h, w)), names)))
            titles.append("prediction")
        return show_images(pictures, ncols=2 if targets else 3, titles=titles, scale=scale)


def _normalized(dls: Any) -> bool:
    """Whether the data's batch pipeline normalizes the images already (then the model must not again)."""
    for dl in getattr(dls, "loaders", None) or []:
        pipe = getattr(dl, "after_batch", None)
        if isinstance(pipe, Pipeline) and any(isinstance(t, Normalize) for t in pipe.fs):
            return True
    return False


def _first_batch(dls: Any) -> tuple[Any, ...]:
    one = getattr(dls, "one_batch", None)
    b = one() if callable(one) else next(iter(dls.train))
    return tuple(b) if isinstance(b, (tuple, list)) else (b,)


def _classes(dls: Any, n_classes: int | None) -> tuple[int, list[Any] | None]:
    try:
        vocab = list(dls.vocab)
    except (AttributeError, TypeError):
        vocab = None
    if vocab is not None and vocab and str(vocab[0]) != "#na#":
        raise ValueError(
            f"detection_learner: the label vocab must start with the background/padding label '#na#' (index 0, "
            f"BBoxLblBlock(add_na=True)); got {vocab[:4]}... With add_na=False label 0 is a real class, which "
            "torchvision's detectors reserve for the background"
        )
    if n_classes is None:
        if vocab is None:
            raise ValueError("detection_learner: pass n_classes= (background included): the data have no vocab")
        n_classes = len(vocab)
    elif vocab is not None and n_classes != len(vocab):
        raise ValueError(f"detection_learner: n_classes={n_classes} but the data's vocab has {len(vocab)} labels")
    return n_classes, vocab


def detection_learner(
    dls: Any,
    arch: str = "fcos",
    backbone: str | None = None,
    pretrained: bool = False,
    weights: Any = None,
    min_size: int | None = None,
    max_size: int | None = None,
    n_classes: int | None = None,
    fpn_channels: int = 128,
    anchor_scale: float = 4.0,
    score_thresh: float = 0.05,
    nms_thresh: float = 0.5,
    detections_per_img: int = 100,
    opt_func: Callable[..., Any] = Adam,
    lr: float = 1e-3,
    cbs: Callback | Sequence[Callback] | None = None,
    metrics: Any = None,
    path: str | Path | None = None,
    model_dir: str | Path = "models",
    wd: float | None = None,
    wd_bn_bias: bool = False,
    train_bn: bool = True,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
    **model_kwargs: Any,
) -> DetectionLearner:
    """A `DetectionLearner` training torchvision's `arch` ("fcos", "retinanet", "fasterrcnn" or "ssdlite") on the
    registry `backbone` (default resnet18 with an FPN; mobilenet_v3_large for SSDlite). The default, FCOS
    (anchor-free), learns from scratch much faster than RetinaNet on the generated set (README: the recipe).

    `pretrained` loads the backbone's ImageNet weights from disk (as `create_body`; never a download); the
    detection layers start random. Images are resized inside the model to `min_size` (short side) / `max_size`
    (long side) pixels, by default the size of the data's images; the model normalizes them with ImageNet's stats
    unless the data do already. `n_classes` (background included) defaults to `len(dls.vocab)`, whose label 0
    must be the padding/background '#na#'. Metrics default to the loss terms, mAP@[.5:.95] and mAP@.5 on the
    validation set (pass `metrics=[]` to skip the mAP evaluation); see `build_detector` for the other arguments.
    """
    if arch not in DETECTION_ARCHS:
        raise ValueError(f"detection_learner: unknown arch {arch!r}; one of {list(DETECTION_ARCHS)}")
    if isinstance(dls, (tuple, list)) and len(dls) == 2:
        dls = DataLoaderPair(*dls)  # (train_dl, valid_dl), as the Learner takes them
    n_classes, vocab = _classes(dls, n_classes)
    if min_size is None or max_size is None:
        images = _first_batch(dls)[0]
        h, w = int(images.shape[-2]), int(images.shape[-1])
        min_size = min(h, w) if min_size is None else min_size
        max_size = max(h, w, min_size) if max_size is None else max_size
    stats = ([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]) if _normalized(dls) else (None, None)
    model = DetectionModel(
        arch, n_classes, backbone_arch=backbone, pretrained=pretrained, weights=weights, min_size=min_size,
        max_size=max_size, image_mean=stats[0], image_std=stats[1], fpn_channels=fpn_channels,
        anchor_scale=anchor_scale, score_thresh=score_thresh, nms_thresh=nms_thresh,
        detections_per_img=detections_per_img, **model_kwargs,
    )  # fmt: skip
    if metrics is None:
        metrics = [MeanAveragePrecision(), MeanAveragePrecision(0.5)]
    elif not isinstance(metrics, (list, tuple)):
        metrics = [metrics]
    all_metrics = [LossTerm(t) for t in LOSS_TERMS[arch]] + list(metrics)
    extra = [cbs] if isinstance(cbs, Callback) else list(cbs or [])
    learn = DetectionLearner(
        dls, model, loss_func=DetectionLoss(), opt_func=opt_func, lr=lr, cbs=[DetectionTargets(), *extra],
        metrics=all_metrics, path=path if path is not None else getattr(dls, "path", "."), model_dir=model_dir,
        wd=wd, wd_bn_bias=wd_bn_bias, train_bn=train_bn, moms=moms,
    )  # fmt: skip
    learn.vocab = vocab
    return learn
