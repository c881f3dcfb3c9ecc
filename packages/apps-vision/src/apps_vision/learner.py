"""`vision_learner`: a backbone's body, a new head sized by the data, discriminative learning rates, ready to train.

The model is `VisionModel(body, head)` (an `nn.Sequential`, so `model[0]` is the body and `model[1]` the head, as
in fastai) that describes itself by registry name and head arguments: `learn.export()` writes no pickle and
`load_learner` rebuilds it without downloading anything.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from PIL import Image
from torch import nn

from apps_vision.backbones import Backbone, backbone, create_body, num_features
from apps_vision.blocks import ImageCreate
from datablock import DataLoaders, Normalize
from dispatch_transforms import Pipeline
from pluggable_optim import Adam
from trainloop_callbacks import BCEWithLogitsLossFlat, Callback, CrossEntropyLossFlat, Learner, MSELossFlat
from trainloop_callbacks.layers import AdaptiveConcatPool2d, Flatten, LinBnDrop, SigmoidRange
from typedtensor import TensorMask, show_images

__all__ = [
    "create_head",
    "VisionModel",
    "VisionLearner",
    "vision_learner",
    "default_loss",
    "add_normalize",
    "data_n_out",
    "make_vision_learner",
]


def create_head(
    nf: int,
    n_out: int,
    lin_ftrs: Sequence[int] | None = None,
    ps: float | Sequence[float] = 0.5,
    pool: bool = True,
    concat_pool: bool = True,
    first_bn: bool = True,
    bn_final: bool = False,
    lin_first: bool = False,
    y_range: tuple[float, float] | None = None,
) -> nn.Sequential:
    """fastai's head: pool (max and average concatenated), flatten, then `LinBnDrop` blocks through `lin_ftrs`
    (default one hidden layer of 512) to `n_out`; dropout `ps` (one value: half of it before the hidden layers);
    `y_range` squashes the output into a range."""
    if pool and concat_pool:
        nf *= 2
    ftrs = [nf, 512, n_out] if lin_ftrs is None else [nf, *lin_ftrs, n_out]
    bns = [first_bn] + [True] * len(ftrs[1:])
    ps_list = [float(ps)] if isinstance(ps, (int, float)) else [float(p) for p in ps]
    if len(ps_list) == 1:
        ps_list = [ps_list[0] / 2] * (len(ftrs) - 2) + ps_list
    acts: list[nn.Module | None] = [nn.ReLU(inplace=True)] * (len(ftrs) - 2) + [None]
    layers: list[nn.Module] = []
    if pool:
        layers += [AdaptiveConcatPool2d() if concat_pool else nn.AdaptiveAvgPool2d(1), Flatten()]
    if lin_first:
        layers.append(nn.Dropout(ps_list.pop(0)))
    for ni, no, bn, p, act in zip(ftrs[:-1], ftrs[1:], bns, ps_list, acts, strict=False):
        layers.append(LinBnDrop(ni, no, bn=bn, p=p, act=act, lin_first=lin_first))
    if lin_first:
        layers.append(nn.Linear(ftrs[-2], n_out))
    if bn_final:
        layers.append(nn.BatchNorm1d(ftrs[-1], momentum=0.01))
    if y_range is not None:
        layers.append(SigmoidRange(*y_range))
    return nn.Sequential(*layers)


_HEAD_ARGS = ("lin_ftrs", "ps", "pool", "concat_pool", "first_bn", "bn_final", "lin_first", "y_range")


def _apply_init(m: nn.Module, init: Callable[[torch.Tensor], Any]) -> None:
    """fastai's `apply_init` on a head: `init` on the weight of every linear/conv layer, zero biases (BN untouched)."""
    for mod in m.modules():
        if isinstance(mod, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            init(mod.weight)
            if mod.bias is not None:
                nn.init.zeros_(mod.bias)


class VisionModel(nn.Sequential):
    """`nn.Sequential(body, head)` built from a registered backbone name and head arguments.

    `to_config()`/`from_config()` describe it as plain data (the body is rebuilt without pretrained weights:
    the exported weights replace them). A body cut by a function or a custom head cannot be described.
    """

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    def __init__(
        self,
        arch: str,
        n_out: int,
        n_in: int = 3,
        pretrained: bool = False,
        weights: Any = None,
        cut: int | Callable[[nn.Module], nn.Module] | None = None,
        custom_head: nn.Module | None = None,
        init: Callable[[torch.Tensor], Any] | None = nn.init.kaiming_normal_,
        **head_args: Any,
    ) -> None:
        unknown = set(head_args) - set(_HEAD_ARGS)
        if unknown:
            raise TypeError(f"VisionModel: unknown head arguments {sorted(unknown)}; known: {list(_HEAD_ARGS)}")
        bb = backbone(arch)
        body = create_body(bb.name, n_in=n_in, pretrained=pretrained, cut=cut, weights=weights)
        if custom_head is None:
            nf = num_features(body, n_in=n_in, size=max(64, bb.min_size))
            head: nn.Module = create_head(nf, n_out, **head_args)
            if init is not None:
                _apply_init(head, init)
        else:
            head = custom_head
        super().__init__(body, head)
        self.arch, self.n_out, self.n_in = bb.name, n_out, n_in
        self._describable = custom_head is None and (cut is None or isinstance(cut, int))
        self._config = {"arch": bb.name, "n_out": n_out, "n_in": n_in, "cut": cut if isinstance(cut, int) else None}
        self._config.update({k: list(v) if isinstance(v, tuple) else v for k, v in head_args.items()})

    def to_config(self) -> dict[str, Any]:
        """The backbone name, `n_out`, `n_in`, `cut` and head arguments as plain data."""
        if not self._describable:
            raise ValueError(
                f"VisionModel({self.arch}) has a custom head or a cut function, which cannot be written as data; "
                "export it with export(pickle=True)"
            )
        return dict(self._config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> VisionModel:
        """Rebuild from `to_config()`, with a randomly initialised body (load the exported weights after)."""
        cfg = dict(config)
        if cfg.get("y_range") is not None:
            cfg["y_range"] = tuple(cfg["y_range"])
        return cls(pretrained=False, init=None, **cfg)


def default_loss(dls: Any) -> Callable[..., Any]:
    """The loss the targets call for: `dls.loss_kind` when the data declare it, else read from the target's
    type pipeline (categories: cross-entropy; multi-label: BCE with logits; regression: MSE; masks:
    cross-entropy over axis 1)."""
    declared = getattr(dls, "loss_kind", None)
    if isinstance(declared, dict):  # datablock's plain-data form {"kind": ..., "axis": ...}
        kind, axis = declared.get("kind"), declared.get("axis", -1)
        if kind == "cross_entropy":
            return CrossEntropyLossFlat(axis=axis)
        if kind == "bce":
            return BCEWithLogitsLossFlat()
        if kind == "mse":
            return MSELossFlat()
    names: list[str] = []
    tls = getattr(getattr(dls, "train_ds", None), "tls", None) or []
    n_inp = getattr(dls, "n_inp", 1)
    for tl in tls[n_inp:]:
        names += [type(t).__name__ for t in getattr(tl.tfms, "fs", [])]
    if "AddMaskCodes" in names:
        return CrossEntropyLossFlat(axis=1)
    if {"MultiCategorize", "EncodedMultiCategorize"} & set(names):
        return BCEWithLogitsLossFlat()
    if "RegressionSetup" in names:
        return MSELossFlat()
    if "Categorize" in names:
        return CrossEntropyLossFlat()
    raise ValueError(
        "vision_learner: cannot tell which loss the targets need (no Categorize, MultiCategorize, RegressionSetup "
        f"or mask step in the target pipeline: {names}); pass loss_func="
    )


def add_normalize(dls: Any, stats: tuple[Sequence[float], Sequence[float]]) -> None:
    """Add `Normalize.from_stats(*stats)` to every loader's batch transforms, unless one is there already."""
    add = getattr(dls, "add_tfms", None)
    loaders = getattr(dls, "loaders", None)
    pipes = [getattr(dl, "after_batch", None) for dl in (loaders or [])]
    if any(isinstance(p, Pipeline) and any(isinstance(t, Normalize) for t in p.fs) for p in pipes):
        return
    if callable(add):
        add([Normalize.from_stats(*stats)], "after_batch")
        return
    batch_pipes = [p for p in pipes if isinstance(p, Pipeline)]
    if not pipes or len(batch_pipes) != len(pipes):
        raise ValueError(
            "vision_learner: cannot add the weights' normalization: the data's loaders have no batch-transform "
            "Pipeline (an ImageBlock gives one); pass normalize=False and normalize the data yourself"
        )
    for p in batch_pipes:
        p.add(Normalize.from_stats(*stats))


class VisionLearner(Learner):
    """A `Learner` for a vision model: `fine_tune` warns when the body was never trained (`pretrained=False`),
    since freezing a random body would train the head on noise features."""

    config_safe = True

    arch: str | None = None
    pretrained: bool = True

    def fine_tune(self, epochs: int, *args: Any, **kwargs: Any) -> None:
        if not self.pretrained:
            warnings.warn(
                f"fine_tune on a randomly initialised body ({self.arch}, pretrained=False): its first phase trains "
                "the head on frozen random features; use fit_one_cycle to train from scratch",
                UserWarning,
                stacklevel=2,
            )
        super().fine_tune(epochs, *args, **kwargs)

    def export_program(self, path: str | Path = "model.pt2") -> Path:
        """This learner as a `torch.export` program that runs with plain torch (see `apps_vision.deploy`)."""
        from apps_vision.deploy import export_program

        return export_program(self, path)

    def export_onnx(self, path: str | Path = "model.onnx", opset_version: int | None = None) -> Path:
        """This learner as an ONNX model (see `apps_vision.deploy`; needs the `onnx` extra)."""
        from apps_vision.deploy import export_onnx

        return export_onnx(self, path, opset_version=opset_version)

    def predict_files(self, paths: Sequence[str | Path], bs: int = 64, **kwargs: Any) -> tuple[list[Any], Any, Any]:
        """`(labels, decoded, probabilities)` for many image files, in batches of `bs`, with a progress bar."""
        from apps_vision.deploy import predict_files

        return predict_files(self, paths, bs=bs, **kwargs)

    def show_results(self, ds_idx: int = 1, dl: Any = None, max_n: int = 9, **kwargs: Any) -> Any:
        """A batch with its predictions. For masks: one row per image, the target mask then the predicted one,
        overlaid on the image; other targets as trainloop-callbacks shows them (titles `target / prediction`)."""
        dl = self._dl(ds_idx, dl)
        b = next(iter(dl))
        if not isinstance(b[-1], TensorMask):
            return super().show_results(ds_idx, dl, max_n=max_n, **kwargs)
        inp, _, targs, dec = self.get_preds(dl=[b], with_input=True, with_decoded=True, reorder=False)
        if not isinstance(self.dls, DataLoaders):
            raise TypeError(
                f"show_results: masks are shown through datablock DataLoaders' decode_batch; this learner's data is a "
                f"{type(self.dls).__name__}"
            )
        items = self.dls.decode_batch((inp, targs), max_n=max_n, full=False)
        codes = getattr(self.dls, "vocab", None)
        codes = None if codes is None else [str(c) for c in codes]
        pictures, titles = [], []
        for it, pred in zip(items, dec, strict=False):
            pictures += [(it[0], it[1]), (it[0], TensorMask(pred.as_subclass(torch.Tensor).long(), codes=codes))]
            titles += ["target", "prediction"]
        return show_images(pictures, ncols=2, titles=titles, scale=kwargs.get("scale", 1))


def _splitter(bb: Backbone, body_groups: Callable[[nn.Sequential], list[list[nn.Parameter]]] | None) -> Callable:
    split = body_groups if body_groups is not None else bb.split

    def splitter(model: nn.Module) -> list[list[nn.Parameter]]:
        body, head = list(model.children())[:2]
        if not isinstance(body, nn.Sequential):
            raise TypeError(f"the splitter expects a (body, head) model with an nn.Sequential body, got {type(model)}")
        return [*split(body), list(head.parameters())]

    return splitter


def vision_learner(
    dls: Any,
    arch: str | Callable[..., nn.Module],
    normalize: bool = True,
    n_out: int | None = None,
    pretrained: bool = True,
    weights: Any = None,
    loss_func: Callable[..., torch.Tensor] | None = None,
    opt_func: Callable[..., Any] = Adam,
    lr: float | slice = 1e-3,
    splitter: Callable[[nn.Module], Sequence[Sequence[nn.Parameter]]] | None = None,
    cbs: Callback | Sequence[Callback] | None = None,
    metrics: Any = None,
    path: str | Path | None = None,
    model_dir: str | Path = "models",
    wd: float | None = None,
    wd_bn_bias: bool = False,
    train_bn: bool = True,
    moms: tuple[float, float, float] = (0.95, 0.85, 0.95),
    cut: int | Callable[[nn.Module], nn.Module] | None = None,
    init: Callable[[torch.Tensor], Any] | None = nn.init.kaiming_normal_,
    custom_head: nn.Module | None = None,
    concat_pool: bool = True,
    pool: bool = True,
    lin_ftrs: Sequence[int] | None = None,
    ps: float | Sequence[float] = 0.5,
    first_bn: bool = True,
    bn_final: bool = False,
    lin_first: bool = False,
    y_range: tuple[float, float] | None = None,
    n_in: int = 3,
) -> VisionLearner:
    """A `VisionLearner` for `dls` with the body of `arch` (a registered name or torchvision builder) and a new head.

    As fastai: `n_out` defaults to `dls.c`; with `pretrained` the weights come from disk (see `create_body`), the
    body is frozen (train the head first, `fine_tune`) and the weights' normalization is added to the data
    (`normalize`); parameter groups for discriminative learning rates are (early body, late body, head).
    """
    bb = backbone(arch)
    if custom_head is None:
        check_data_fit(dls, "vision_learner", n_in, n_out, y_range, loss_func)
    n_out = data_n_out(dls, n_out, "vision_learner")
    if normalize and pretrained and n_in == len(bb.stats[0]):
        add_normalize(dls, bb.stats)
    head_args = {
        "lin_ftrs": lin_ftrs,
        "ps": ps,
        "pool": pool,
        "concat_pool": concat_pool,
        "first_bn": first_bn,
        "bn_final": bn_final,
        "lin_first": lin_first,
        "y_range": y_range,
    }
    model = VisionModel(
        bb.name, n_out, n_in=n_in, pretrained=pretrained, weights=weights, cut=cut, custom_head=custom_head,
        init=init, **head_args,
    )  # fmt: skip
    if splitter is None:
        splitter = _splitter(bb, None if cut is None else _whole_body)
    return make_vision_learner(
        dls, model, bb, pretrained, loss_func=loss_func, opt_func=opt_func, lr=lr, splitter=splitter, cbs=cbs,
        metrics=metrics, path=path, model_dir=model_dir, wd=wd, wd_bn_bias=wd_bn_bias, train_bn=train_bn, moms=moms,
    )  # fmt: skip


def check_data_fit(
    dls: Any, who: str, n_in: int, n_out: int | None, y_range: Any, loss_func: Callable[..., Any] | None
) -> None:
    """Refuse, before any training, a model that contradicts the data: `n_in` other than the channels of the
    data's image class, an `n_out` other than `dls.c` with the loss picked from the targets, or a `y_range` on
    category targets (it would squash their logits; fastai lets all three through to a failing or silently
    wrong training)."""
    tls = getattr(getattr(dls, "train_ds", None), "tls", None) or []
    n_inp = getattr(dls, "n_inp", 1)
    for tl in tls[:n_inp]:
        for t in getattr(tl.tfms, "fs", []):
            mode = getattr(getattr(t, "_cls", None), "_open_mode", None) if isinstance(t, ImageCreate) else None
            if mode is not None and Image.getmodebands(mode) != n_in:
                raise ValueError(
                    f"{who}: n_in={n_in} but the data's images are {t._cls.__name__} with "
                    f"{Image.getmodebands(mode)} channel(s); pass n_in={Image.getmodebands(mode)}"
                )
    if loss_func is not None:
        return  # the user's loss decides what the outputs mean
    loss = default_loss(dls)
    c = getattr(dls, "c", None)
    if n_out is not None and c is not None and int(n_out) != int(c):
        raise ValueError(
            f"{who}: n_out={n_out} but the data have {c} classes/outputs (dls.c); leave n_out out, or pass "
            "loss_func= when the extra outputs are meant"
        )
    if y_range is not None and isinstance(loss, (CrossEntropyLossFlat, BCEWithLogitsLossFlat)):
        raise ValueError(
            f"{who}: y_range={tuple(y_range)} is for regression targets, but the targets are categories (loss "
            f"{type(loss).__name__}): it would squash the logits; leave y_range out"
        )


def data_n_out(dls: Any, n_out: int | None, who: str) -> int:
    """`n_out`, or the number of outputs the data call for (`dls.c`), or an error asking for it."""
    if n_out is not None:
        return n_out
    try:
        return int(dls.c)
    except AttributeError as e:
        raise ValueError(f"{who}: pass n_out= (the data do not say how many outputs: {e})") from None


def make_vision_learner(
    dls: Any,
    model: nn.Module,
    bb: Backbone,
    pretrained: bool,
    loss_func: Callable[..., torch.Tensor] | None = None,
    path: str | Path | None = None,
    **kwargs: Any,
) -> VisionLearner:
    """What every vision learner factory ends with: a `VisionLearner` on `model` with the targets' loss (unless
    `loss_func`), `path` from the data, the backbone's name recorded, and the body frozen when `pretrained`."""
    learn = VisionLearner(
        dls,
        model,
        loss_func=loss_func if loss_func is not None else default_loss(dls),
        path=path if path is not None else getattr(dls, "path", "."),
        **kwargs,
    )
    learn.arch, learn.pretrained = bb.name, pretrained
    if pretrained:
        learn.freeze()
    return learn


def _whole_body(body: nn.Sequential) -> list[list[nn.Parameter]]:
    """A body cut by hand: one group (the registry's split points do not apply to it)."""
    return [list(body.parameters())]
