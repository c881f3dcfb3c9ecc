"""Deployment: a trained vision learner as one file that runs with plain torch (or onnxruntime), without tiers.

`export_program(learn, path)` writes a `torch.export` program whose input is a decoded image, a uint8 tensor
(C, H, W) of any height and width (RGB for colour models, one channel for grey-scale ones), and which does inside
what `learn.predict` does around the model: the validation item transforms (`Resize`: crop, squish; the
validation form of `RandomResizedCrop`), the scaling to [0, 1], the normalization, the model, and the decoding to
class indices and scores. The class names and the stated input layout travel in the file (`extra_files`,
"tiers.json"); `export_onnx` writes the same program through torch's ONNX exporter, with the same description in
the model's `metadata_props`.

The resize inside is Pillow's: the data pipeline resizes `PILImage`s with Pillow's bilinear filter (antialiased,
8-bit fixed point, two separable passes), and `pil_resize` computes the same integers with tensor ops (float64
matrix products of exact integers), so the program's scores match `learn.predict` to float rounding, not just
roughly. Pillow 13 changed which pass runs first; the order of the Pillow that trained the model is written into
the program at export.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import PIL
import torch
import torchvision
from torch import nn
from torchvision.ops import batched_nms

from apps_vision.detection_inference import EXPORTABLE_DETECTORS, DetectionInference

__all__ = [
    "PROGRAM_META_FILE",
    "pil_resize",
    "ImagePredictor",
    "image_predictor",
    "export_program",
    "export_onnx",
    "predict_files",
    "DetectionPredictor",
    "detection_predictor",
    "export_detection",
]

PROGRAM_META_FILE = "tiers.json"  # the extra file of an exported program (and the ONNX metadata key) describing it

_PRECISION_BITS = 22  # Pillow's fixed point for 8-bit images: 32 - 8 - 2 bits
_ONE = float(1 << _PRECISION_BITS)
_HALF = float(1 << (_PRECISION_BITS - 1))


def _pil_vertical_first_rule() -> bool:
    """Whether the installed Pillow may run the vertical pass first (Pillow >= 13 does, when it is cheaper)."""
    try:
        return int(PIL.__version__.split(".")[0]) >= 13
    except ValueError:  # an unparseable version: assume the current behaviour
        return True


def _pil_weights(pos: torch.Tensor, offset: torch.Tensor, length: torch.Tensor, out_size: int) -> torch.Tensor:
    """Pillow's fixed-point bilinear coefficients (`precompute_coeffs` + `normalize_coeffs_8bpc`) for resizing the
    window [offset, offset + length) of an axis to `out_size`, as a dense (out_size, N) float64 matrix over the
    axis' pixels `pos` (zero outside each output pixel's support and outside the window)."""
    scale = length / out_size
    filterscale = torch.clamp(scale, min=1.0)
    support = filterscale  # the bilinear (triangle) filter's support is 1
    center = (torch.arange(out_size, dtype=torch.float64, device=pos.device) + 0.5) * scale
    inv = 1.0 / filterscale
    xmin = torch.clamp(torch.trunc(center - support + 0.5), min=0.0)
    xmax = torch.minimum(torch.trunc(center + support + 0.5), length)
    rel = (pos - offset)[None, :]
    # the same expression, in the same order, as Pillow: ((x + xmin) - center + 0.5) * ss
    w = torch.clamp(1.0 - (((rel - center[:, None]) + 0.5) * inv).abs(), min=0.0)
    w = torch.where((rel >= xmin[:, None]) & (rel < xmax[:, None]), w, torch.zeros_like(w))
    ww = torch.cumsum(w, dim=1)[:, -1:]  # summed left to right, as Pillow's loop does
    k = torch.where(ww != 0, w / torch.where(ww != 0, ww, torch.ones_like(ww)), w)
    return torch.where(k < 0, torch.trunc(k * _ONE - 0.5), torch.trunc(k * _ONE + 0.5))


def _clip8(acc: torch.Tensor) -> torch.Tensor:
    return torch.clamp(torch.floor((acc + _HALF) / _ONE), 0.0, 255.0)


def _branch(
    pred: torch.Tensor, if_true: Callable[..., torch.Tensor], if_false: Callable[..., torch.Tensor], args: tuple
) -> torch.Tensor:
    """`if_true(*args)` where the 0-d boolean `pred` holds, else `if_false(*args)`: one branch runs. Eagerly a
    Python `if`; under `torch.export` (or `torch.compile`) a `torch.cond`, so the exported program keeps both
    branches and decides per image (its H and W are dynamic). Branch results must not alias `args`."""
    if torch.compiler.is_compiling():
        return torch.cond(pred, if_true, if_false, args)
    return if_true(*args) if bool(pred) else if_false(*args)


def _pass(img: torch.Tensor, start: torch.Tensor, length: torch.Tensor, out_size: int, dim: int) -> torch.Tensor:
    """One Pillow resize pass along `dim` (-1 horizontal, -2 vertical): the window [start, start + length) of that
    axis resampled to `out_size`, rounded and clipped to 8 bits as Pillow stores its intermediate image."""
    pos = torch.arange(img.shape[dim], dtype=torch.float64, device=img.device)
    k = _pil_weights(pos, start, length, out_size)  # (out_size, N)
    return _clip8(img @ k.T if dim == -1 else k @ img)


def _select(img: torch.Tensor, start: torch.Tensor, out_size: int, dim: int) -> torch.Tensor:
    """The pass Pillow skips (the window already has `out_size` pixels on that axis): the window itself, a copy."""
    idx = start.to(torch.long) + torch.arange(out_size, device=img.device)
    return img.index_select(dim, idx)


def pil_resize(
    img: torch.Tensor,
    size: tuple[int, int],
    window: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    vertical_first_rule: bool | None = None,
) -> torch.Tensor:
    """The (top, left, height, width) `window` of `img` (C, H, W), integer values, float64, resized to
    `size` (height, width) as Pillow's `crop(window).resize(size, BILINEAR)` does: the same uint8 values.

    The window's numbers are 0-d float64 tensors (they may depend on the image size: the function decides with
    `torch.cond` under `torch.export`, so the program keeps H and W dynamic); no window is the whole image.
    As Pillow, a pass runs only along an axis whose window length differs from the target's (an image already
    at the size costs two copies), and `vertical_first_rule` (default: as the installed Pillow) runs the
    vertical pass first when it removes more rows than twice the columns the horizontal pass removes, as
    Pillow >= 13 does; only the order used is computed.
    """
    th, tw = size
    dev = img.device
    if window is None:
        zero = torch.zeros((), dtype=torch.float64, device=dev)
        h = torch.arange(img.shape[-2], dtype=torch.float64, device=dev)[-1] + 1
        w = torch.arange(img.shape[-1], dtype=torch.float64, device=dev)[-1] + 1
        window = (zero, zero, h, w)
    top, left, ch, cw = window

    def horizontal(x: torch.Tensor, left: torch.Tensor, cw: torch.Tensor) -> torch.Tensor:
        run, skip = (lambda x, s, n: _pass(x, s, n, tw, -1)), (lambda x, s, _n: _select(x, s, tw, -1))
        return _branch(cw != tw, run, skip, (x, left, cw))

    def vertical(x: torch.Tensor, top: torch.Tensor, ch: torch.Tensor) -> torch.Tensor:
        run, skip = (lambda x, s, n: _pass(x, s, n, th, -2)), (lambda x, s, _n: _select(x, s, th, -2))
        return _branch(ch != th, run, skip, (x, top, ch))

    def h_first(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, ch: torch.Tensor, cw: torch.Tensor):
        return vertical(horizontal(x, left, cw), top, ch)

    def v_first(x: torch.Tensor, top: torch.Tensor, left: torch.Tensor, ch: torch.Tensor, cw: torch.Tensor):
        return horizontal(vertical(x, top, ch), left, cw)

    if vertical_first_rule is None:
        vertical_first_rule = _pil_vertical_first_rule()
    if not vertical_first_rule:
        return h_first(img, top, left, ch, cw)
    use_v = 2.0 * torch.clamp(cw - tw, min=0.0) < ch - th
    return _branch(use_v, v_first, h_first, (img, top, left, ch, cw))


class _ResizeStep(nn.Module):
    """`apps_vision.Resize` on validation: the centre window of the target's aspect ratio (crop) or the whole
    image (squish), resized with Pillow's bilinear filter; the same integer arithmetic as `Resize.window`."""

    def __init__(self, size: tuple[int, int], method: str, vertical_first_rule: bool) -> None:
        super().__init__()
        self.size, self.method, self.rule = size, method, vertical_first_rule

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        th, tw = self.size
        h = torch.arange(img.shape[-2], dtype=torch.float64, device=img.device)[-1] + 1
        w = torch.arange(img.shape[-1], dtype=torch.float64, device=img.device)[-1] + 1
        if self.method == "squish":
            zero = torch.zeros_like(h)
            return pil_resize(img, self.size, (zero, zero, h, w), self.rule)
        by_w = (w / tw) < (h / th)  # crop: fit the side that is relatively shorter
        m = torch.where(by_w, w / tw, h / th)
        cw, ch = torch.trunc(m * tw), torch.trunc(m * th)
        left, top = torch.trunc(0.5 * (w - cw)), torch.trunc(0.5 * (h - ch))
        return pil_resize(img, self.size, (top, left, ch, cw), self.rule)


class _ResizeCentreCropStep(nn.Module):
    """`RandomResizedCrop` on validation: the whole image resized to `final` (width + xtra...), then centre-cropped."""

    def __init__(self, final_hw: tuple[int, int], size: tuple[int, int], vertical_first_rule: bool) -> None:
        super().__init__()
        self.final_hw, self.size, self.rule = final_hw, size, vertical_first_rule

    def forward(self, img: torch.Tensor) -> torch.Tensor:
        out = pil_resize(img, self.final_hw, None, self.rule)
        (fh, fw), (th, tw) = self.final_hw, self.size
        top, left = (fh - th) // 2, (fw - tw) // 2
        return out[:, top : top + th, left : left + tw]


class _Preprocessing(nn.Module):
    """What the validation loader does to a decoded image (uint8 (C, H, W)) before the model: the item transforms
    `steps` (modules on float64 integer images), float32, `/ div`, `(x - mean) / std` (as datablock's
    IntToFloatTensor and Normalize: float32 first, then the division, then the stats). Shared by the predictors."""

    mean: torch.Tensor | None  # buffers (C, 1, 1), both set or both None
    std: torch.Tensor | None

    def __init__(
        self, steps: Sequence[nn.Module], div: float | None, mean: Sequence[float] | None, std: Sequence[float] | None
    ) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError(f"{type(self).__name__}: give both mean and std, or neither")
        self.steps, self.div = nn.ModuleList(steps), div
        self.register_buffer("mean", None if mean is None else torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1))
        self.register_buffer("std", None if std is None else torch.tensor(std, dtype=torch.float32).view(-1, 1, 1))

    def preprocess(self, image: torch.Tensor) -> torch.Tensor:
        x = image
        if self.steps:
            x = x.to(torch.float64)
            for step in self.steps:
                x = step(x)
        x = x.to(torch.float32)
        if self.div is not None:
            x = x / self.div
        if self.mean is not None and self.std is not None:  # both or neither (checked in __init__)
            x = (x - self.mean) / self.std
        return x


class ImagePredictor(_Preprocessing):
    """A decoded image (uint8 (C, H, W)) → the model's decoded prediction, everything `learn.predict` does inside.

    `steps` are the validation item transforms (as modules on float64 integer images), then `/ div`,
    `(x - mean) / std`, the model, and the decoding of `task`: "classification" → (class index, class
    probabilities); "multi_label" → (a boolean per class, probability > thresh; probabilities);
    "segmentation" → (per-pixel class indices (h, w), probabilities (classes, h, w)).
    """

    def __init__(
        self,
        model: nn.Module,
        steps: Sequence[nn.Module],
        div: float | None,
        mean: Sequence[float] | None,
        std: Sequence[float] | None,
        task: str,
        thresh: float = 0.5,
        channels: int = 3,
    ) -> None:
        if task not in ("classification", "multi_label", "segmentation"):
            raise ValueError(f"ImagePredictor: task must be classification, multi_label or segmentation, got {task!r}")
        super().__init__(steps, div, mean, std)
        self.model, self.task, self.thresh, self.channels = model, task, thresh, channels

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.model(self.preprocess(image)[None])[0]
        if self.task == "multi_label":
            probs = torch.sigmoid(out)
            return probs > self.thresh, probs
        probs = torch.softmax(out, dim=0)
        return probs.argmax(dim=0), probs


def _step_for(t: Any, rule: bool) -> nn.Module | None:
    """The module doing what item transform `t` does on validation (None: nothing), or an error naming it."""
    from apps_vision.augment import RandomResizedCrop, Resize
    from apps_vision.coords import CanvasFromImage
    from datablock import ToTensor
    from gpu_augment import DropEmptyBoxes

    if isinstance(t, ToTensor) or getattr(t, "split_idx", None) == 0:
        return None  # the conversion (the program's input is already a tensor) or a training-only transform
    if isinstance(t, (CanvasFromImage, DropEmptyBoxes)):
        return None  # steps of the points and boxes only: the image passes them unchanged
    if isinstance(t, Resize):
        if t.method == "pad":
            raise ValueError(
                "export: Resize(method='pad') cannot be exported yet (only crop and squish); "
                "use Resize(size, method='crop' or 'squish') for a model you deploy"
            )
        return _ResizeStep((t._wh[1], t._wh[0]), t.method, rule)
    if isinstance(t, RandomResizedCrop):
        tw, th = t._wh
        import math

        xtra = math.ceil(max(t._wh) * t.val_xtra / 8) * 8
        return _ResizeCentreCropStep((th + xtra, tw + xtra), (th, tw), rule)
    raise ValueError(
        f"export: the validation item transform {type(t).__name__} has no exported form (supported: Resize with "
        "crop or squish, RandomResizedCrop, and training-only transforms); predict with learn.predict instead"
    )


def _batch_steps(
    fs: Sequence[Any], skip: tuple[type, ...] = ()
) -> tuple[float | None, list[float] | None, list[float] | None]:
    from datablock import IntToFloatTensor, Normalize

    div = mean = std = None
    for t in fs:
        if getattr(t, "split_idx", None) == 0 or isinstance(t, skip):
            continue  # training-only batch augmentation, or a step of the targets only
        if isinstance(t, IntToFloatTensor):
            div = float(t.div)
        elif isinstance(t, Normalize):
            if t.mean is None or t.std is None:
                raise ValueError("export: Normalize has no stats yet (run one batch through the loader first)")
            mean, std = list(t.mean), list(t.std)
        else:
            raise ValueError(
                f"export: the validation batch transform {type(t).__name__} has no exported form (supported: "
                "IntToFloatTensor, Normalize and training-only augmentations)"
            )
    return div, mean, std


def _task(learn: Any) -> tuple[str, float]:
    from trainloop_callbacks import BCEWithLogitsLossFlat, CrossEntropyLossFlat

    loss = learn.loss_func
    if isinstance(loss, BCEWithLogitsLossFlat):
        return "multi_label", float(loss.thresh)
    if isinstance(loss, CrossEntropyLossFlat):
        axis = loss.config.get("axis", -1)
        return ("segmentation" if axis == 1 else "classification"), 0.5
    raise ValueError(
        f"export: cannot tell how to decode the outputs of a model trained with {type(loss).__name__} (supported: "
        "CrossEntropyLossFlat for classes and masks, BCEWithLogitsLossFlat for several labels)"
    )


def image_predictor(learn: Any) -> tuple[ImagePredictor, dict[str, Any]]:
    """The learner's validation pipeline and model as one `ImagePredictor` (on CPU, eval mode, a copy), and the
    description written with it: task, class names, input layout, outputs."""
    from apps_vision.core import PILBase

    dl = learn.dls.valid
    rule = _pil_vertical_first_rule()
    steps = [s for t in getattr(dl.after_item, "fs", []) if (s := _step_for(t, rule)) is not None]
    if getattr(dl, "before_batch", None) is not None and list(getattr(dl.before_batch, "fs", [])):
        names = [type(t).__name__ for t in dl.before_batch.fs]
        raise ValueError(f"export: before_batch transforms {names} have no exported form")
    div, mean, std = _batch_steps(getattr(dl.after_batch, "fs", []))
    task, thresh = _task(learn)
    img_cls = next((t._cls for t in learn.dls.valid_ds.tls[0].tfms.fs if hasattr(t, "_cls")), None)
    mode = img_cls._open_mode if isinstance(img_cls, type) and issubclass(img_cls, PILBase) else "RGB"
    channels = 1 if mode == "L" else 3
    model = copy.deepcopy(learn.model).cpu().eval()
    predictor = ImagePredictor(model, steps, div, mean, std, task, thresh, channels).eval()
    predictor.requires_grad_(False)  # an inference program: its outputs carry no autograd history
    vocab = getattr(learn.dls, "vocab", None)
    classes = [str(v) for v in vocab] if vocab is not None else None
    outputs = {
        "classification": ["index: int64 scalar, the class", "scores: float32 (classes,), softmax probabilities"],
        "multi_label": ["labels: bool (classes,), probability > thresh", "scores: float32 (classes,), sigmoids"],
        "segmentation": ["indices: int64 (h, w), class per pixel", "scores: float32 (classes, h, w), softmax"],
    }[task]
    meta = {
        "format": "tiers-vision-program/1",
        "task": task,
        "classes": classes,
        "thresh": thresh if task == "multi_label" else None,
        "input": {
            "dtype": "uint8",
            "layout": "CHW",
            "channels": channels,
            "color": "RGB" if channels == 3 else "L",
            "height": "any >= 2",
            "width": "any >= 2",
            "note": "a decoded image as Pillow gives it (upright: apply the EXIF orientation before), unbatched",
        },
        "outputs": outputs,
        "preprocessing": [type(s).__name__ for s in steps] + ["div", "normalize"],
        "pillow_version": PIL.__version__,
    }
    return predictor, meta


def _example(channels: int) -> tuple[torch.Tensor, dict[str, Any]]:
    from torch.export import Dim

    example = torch.randint(0, 256, (channels, 67, 91), dtype=torch.uint8)
    dims = {1: Dim("height", min=2, max=16384), 2: Dim("width", min=2, max=16384)}
    return example, {"image": dims}


def export_program(learn: Any, path: str | Path = "model.pt2") -> Path:
    """Write `learn` as a `torch.export` program (see the module doc): load it with plain torch,
    `torch.export.load(path, extra_files={"tiers.json": ""})`, and call `.module()(image)` on a uint8 (C, H, W)
    image; the description (class names, input layout, outputs) is the JSON of that extra file."""
    predictor, meta = image_predictor(learn)
    example, dynamic = _example(meta["input"]["channels"])
    try:
        ep = torch.export.export(predictor, (example,), dynamic_shapes=dynamic, strict=False)
    except Exception as e:  # torch's messages are long; say what to change first
        raise RuntimeError(
            f"export_program: torch.export could not trace the {meta['task']} program with a dynamic image size "
            f"({type(e).__name__}: {str(e)[:500]}); a model whose forward branches on the input size needs a "
            "Resize item transform, so that it sees one fixed size"
        ) from e
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(ep, path, extra_files={PROGRAM_META_FILE: json.dumps(meta)})
    return path


def export_onnx(learn: Any, path: str | Path = "model.onnx", opset_version: int | None = None) -> Path:
    """Write `learn` as an ONNX model doing what `export_program`'s program does (input "image", uint8 (C, H, W)
    with dynamic H and W; outputs as described), the description in `metadata_props["tiers.json"]` and the
    class names in `metadata_props["classes"]` (JSON). Needs the `onnx` extra (onnx, onnxscript)."""
    try:
        import onnx
    except ImportError as e:
        raise ImportError("export_onnx needs onnx and onnxscript: pip install 'apps-vision[onnx]'") from e
    predictor, meta = image_predictor(learn)
    example, dynamic = _example(meta["input"]["channels"])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    names = ["labels", "scores"] if meta["task"] == "multi_label" else ["index", "scores"]
    torch.onnx.export(
        predictor,
        (example,),
        str(path),
        input_names=["image"],
        output_names=names,
        dynamic_shapes=dynamic,
        opset_version=opset_version,
        dynamo=True,
        external_data=False,
        verbose=False,
    )
    proto = onnx.load(str(path))
    for key, value in ((PROGRAM_META_FILE, json.dumps(meta)), ("classes", json.dumps(meta["classes"]))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return path


def predict_files(learn: Any, paths: Sequence[str | Path], bs: int = 64, **kwargs: Any) -> tuple[list[Any], Any, Any]:
    """Predictions for many image files in batches of `bs` through the validation pipeline, with a progress bar:
    `(labels, decoded, probabilities)` for all files in order, like `predict` for each (labels: class names,
    lists of names for several labels, the decoded masks or numbers otherwise). `kwargs` go to `test_dl`
    (e.g. `num_workers`)."""
    items = [Path(p) for p in paths]
    if not items:
        return [], None, None
    dl = learn.dls.test_dl(items, bs=bs, **kwargs)
    probs, _, dec = learn.get_preds(dl=dl, with_decoded=True)
    vocab = getattr(learn.dls, "vocab", None)
    plain = dec.as_subclass(torch.Tensor) if isinstance(dec, torch.Tensor) else dec
    if vocab is not None and isinstance(plain, torch.Tensor) and plain.ndim == 1 and not plain.is_floating_point():
        labels: list[Any] = [vocab[int(i)] for i in plain]
    elif vocab is not None and isinstance(plain, torch.Tensor) and plain.ndim == 2 and plain.dtype == torch.bool:
        labels = [[vocab[int(j)] for j in torch.nonzero(row).flatten()] for row in plain]
    else:
        labels = list(dec)
    return labels, dec, probs


class DetectionPredictor(_Preprocessing):
    """A decoded image (uint8 (C, H, W)) → `(boxes, labels, scores)`, what `DetectionLearner.predict` gives:
    the validation item transforms, `/ div`, `(x - mean) / std`, then the detector and its post-processing:
    the background label `pad_idx` dropped, scores >= `thresh` kept and per-class NMS at IoU `nms_iou` (None:
    only the detector's own). FCOS, RetinaNet and SSD run through `DetectionInference` (static sizes: the form
    the exporters trace, and the one `predict` runs); other torchvision detectors (Faster R-CNN) through their
    own forward. Boxes are x1y1x2y2 pixels of the image as the model saw it (after the item transforms), float32
    (k, 4); labels int64 (k,) class indices; scores float32 (k,), best first."""

    def __init__(
        self,
        net: nn.Module,
        steps: Sequence[nn.Module],
        div: float | None,
        mean: Sequence[float] | None,
        std: Sequence[float] | None,
        pad_idx: int = 0,
        thresh: float = 0.5,
        nms_iou: float | None = 0.5,
    ) -> None:
        super().__init__(steps, div, mean, std)
        self.net, self.pad_idx, self.thresh, self.nms_iou = net, pad_idx, thresh, nms_iou
        exportable = isinstance(net, EXPORTABLE_DETECTORS)
        self.inference = DetectionInference(net, pad_idx, thresh, nms_iou) if exportable else None

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.preprocess(image)
        if self.inference is not None:
            return self.inference(x)
        det = self.net([x])[0]
        keep = (det["labels"] != self.pad_idx) & (det["scores"] >= self.thresh)
        boxes, scores, labels = det["boxes"][keep], det["scores"][keep], det["labels"][keep]
        if self.nms_iou is not None:
            idx = batched_nms(boxes.float(), scores.float(), labels, self.nms_iou)
            boxes, scores, labels = boxes[idx], scores[idx], labels[idx]
        return boxes, labels, scores


def detection_predictor(
    learn: Any, thresh: float = 0.5, nms_iou: float | None = 0.5
) -> tuple[DetectionPredictor, dict[str, Any], tuple[int, int] | None]:
    """A `DetectionLearner`'s validation pipeline and detector as one `DetectionPredictor` (CPU, eval mode, a
    copy), its description, and the fixed input (height, width) when the item transforms do not resize (None:
    any size). The steps that only pad or fix the targets (`bb_pad`, `PadEmptyBoxes`) are left out."""
    from apps_vision.core import PILBase
    from gpu_augment import PadEmptyBoxes, bb_pad

    dl = learn.dls.valid
    rule = _pil_vertical_first_rule()
    steps = [s for t in getattr(dl.after_item, "fs", []) if (s := _step_for(t, rule)) is not None]
    before = getattr(dl, "before_batch", None)
    others = [t for t in getattr(before, "fs", [before] if before is not None else []) if _function_of(t) is not bb_pad]
    if others:
        raise ValueError(f"export: before_batch transforms {[type(t).__name__ for t in others]} have no exported form")
    div, mean, std = _batch_steps(getattr(dl.after_batch, "fs", []), skip=(PadEmptyBoxes,))
    fixed: tuple[int, int] | None = None
    if not any(isinstance(s, (_ResizeStep, _ResizeCentreCropStep)) for s in steps):
        first = learn.dls.valid_ds[0][0]
        h, w = (first.height, first.width) if isinstance(first, PILBase) else (first.shape[-2], first.shape[-1])
        fixed = (int(h), int(w))
    net = copy.deepcopy(learn.model.net).cpu().eval()
    pad_idx = int(getattr(learn.model, "pad_idx", 0))
    predictor = DetectionPredictor(net, steps, div, mean, std, pad_idx, thresh, nms_iou).eval()
    predictor.requires_grad_(False)
    vocab = getattr(learn, "vocab", None)
    meta = {
        "format": "tiers-vision-program/1",
        "task": "detection",
        "arch": getattr(learn.model, "arch", type(net).__name__),
        "classes": [str(v) for v in vocab] if vocab is not None else None,
        "thresh": thresh,
        "nms_iou": nms_iou,
        "input": {
            "dtype": "uint8",
            "layout": "CHW",
            "channels": 3,
            "color": "RGB",
            "height": "any >= 2" if fixed is None else fixed[0],
            "width": "any >= 2" if fixed is None else fixed[1],
            "note": "a decoded image as Pillow gives it (upright: apply the EXIF orientation before), unbatched",
        },
        "outputs": [
            "boxes: float32 (k, 4), x1 y1 x2 y2 pixels of the image after the preprocessing",
            "labels: int64 (k,), indices into classes",
            "scores: float32 (k,), best first",
        ],
        "preprocessing": [type(s).__name__ for s in steps] + ["div", "normalize"],
        "pillow_version": PIL.__version__,
    }
    return predictor, meta, fixed


def _function_of(step: Any) -> Any:
    """The function behind a loader step (itself, or what a plain `Transform(f)` wraps)."""
    return getattr(step, "enc", step)


_DETECTION_LIMIT = (
    "{who}: the {arch} detector ({net}) cannot be exported: only FCOS, RetinaNet and SSD run through "
    "DetectionInference, the post-processing of static sizes that torch.export traces; torchvision's own "
    "post-processing (Faster R-CNN's region proposals and box heads) keeps the boxes above a score threshold and "
    "branches in Python on how many there are, a data-dependent size a program cannot branch on{onnx}. Predict "
    "with learn.predict / learn.get_preds, or deploy with learn.export (weights and pipeline as data)"
)


def export_detection(
    learn: Any,
    path: str | Path,
    fmt: str = "program",
    thresh: float = 0.5,
    nms_iou: float | None = 0.5,
    opset_version: int | None = None,
) -> Path:
    """Write a `DetectionLearner` as a `torch.export` program (`fmt="program"`) or an ONNX file (`"onnx"`) doing
    what `predict(item, thresh, nms_iou)` does (see `DetectionPredictor`; FCOS, RetinaNet and SSDlite), the
    description in "tiers.json" as for `export_program`: input a uint8 (3, H, W) RGB image, outputs `boxes`
    float32 (k, 4) x1y1x2y2 pixels, `labels` int64 (k,) indices into the classes, `scores` float32 (k,), best
    first (k, the number of detections, varies per image). A Faster R-CNN raises a `RuntimeError` naming the
    limit (its post-processing has data-dependent branches)."""
    if fmt not in ("program", "onnx"):
        raise ValueError(f"export_detection: fmt must be 'program' or 'onnx', got {fmt!r}")
    who = "export_program" if fmt == "program" else "export_onnx"
    if fmt == "onnx":
        try:
            import onnx
        except ImportError as e:
            raise ImportError("export_onnx needs onnx and onnxscript: pip install 'apps-vision[onnx]'") from e
    predictor, meta, fixed = detection_predictor(learn, thresh, nms_iou)
    if predictor.inference is None:
        onnx_note = "; torch.onnx.export (dynamo=True) is built on torch.export and stops there too"
        raise RuntimeError(
            _DETECTION_LIMIT.format(
                who=who, arch=meta["arch"], net=type(predictor.net).__name__, onnx=onnx_note if fmt == "onnx" else ""
            )
        )
    if fixed is None:
        example, dynamic = _example(3)
    else:
        example, dynamic = torch.randint(0, 256, (3, *fixed), dtype=torch.uint8), None
    try:
        ep = torch.export.export(predictor, (example,), dynamic_shapes=dynamic, strict=False)
    except Exception as e:  # torch's messages are long; say what was exported first
        raise RuntimeError(
            f"{who}: torch.export (torch {torch.__version__}, torchvision {torchvision.__version__}) could not "
            f"trace the {meta['arch']} detection program ({type(e).__name__}: {str(e)[:500]})"
        ) from e
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "program":
        torch.export.save(ep, path, extra_files={PROGRAM_META_FILE: json.dumps(meta)})
        return path
    torch.onnx.export(
        ep, (example,), str(path), input_names=["image"], output_names=["boxes", "labels", "scores"],
        opset_version=opset_version, dynamo=True, external_data=False, verbose=False,
    )  # fmt: skip
    proto = onnx.load(str(path))
    for key, value in ((PROGRAM_META_FILE, json.dumps(meta)), ("classes", json.dumps(meta["classes"]))):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(proto, str(path))
    return path
