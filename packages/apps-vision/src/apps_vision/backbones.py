"""Backbones as data: every torchvision classification model with where to cut it, how to split its parameters
for discriminative learning rates, and the normalization stats of its weights.

`create_body("resnet34")` (or `create_body(torchvision.models.resnet34)`, as fastai users write it) gives the
convolutional body as an `nn.Sequential` whose output is a (batch, features, h, w) map; the registry entry's
`split` turns a body into parameter groups (early layers, late layers), to which the head is added. Pretrained
weights come only from a local file or torch's hub cache (`TORCH_HOME`): nothing is downloaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from apps_vision.timm_backbones import (
    TIMM_PREFIX,
    load_timm_weights,
    timm_body,
    timm_min_size,
    timm_model,
    timm_split,
    timm_stats,
)
from trainloop_callbacks.models.model_utils import dummy_eval

__all__ = [
    "Backbone",
    "backbone",
    "list_backbones",
    "EXCLUDED",
    "imagenet_stats",
    "create_body",
    "weights_path",
    "load_weights",
    "num_features",
]

imagenet_stats: tuple[list[float], list[float]] = ([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
"""Mean and std per channel of ImageNet: what every torchvision classification weight was trained with."""

EXCLUDED: dict[str, str] = {
    "googlenet": "auxiliary heads and an input transform baked into forward(); no plain body to cut",
    "inception_v3": "auxiliary heads and an input transform baked into forward(); no plain body to cut",
}
"""torchvision classification models left out of the registry, with the reason."""

Groups = list[list[nn.Parameter]]


def _params(*modules: nn.Module | Sequence[nn.Module]) -> list[nn.Parameter]:
    out: list[nn.Parameter] = []
    for m in modules:
        for mod in [m] if isinstance(m, nn.Module) else m:
            out.extend(p for p in mod.parameters())
    return out


def _split_at(k: int | float) -> Callable[[nn.Sequential], Groups]:
    """Two body groups: children before index `k` (a fraction of the length when a float) and the rest."""

    def split(body: nn.Sequential) -> Groups:
        cut = k if isinstance(k, int) else max(1, round(len(body) * k))
        return [_params(list(body)[:cut]), _params(list(body)[cut:])]

    return split


class ViTBody(nn.Module):
    """A torchvision `VisionTransformer` without its head, giving the class token as a (batch, dim, 1, 1) map."""

    def __init__(self, vit: Any) -> None:  # a torchvision VisionTransformer (torchvision has no type hints)
        super().__init__()
        vit.heads = nn.Identity()  # this instance's classifier is replaced by the head vision_learner builds
        self.vit = vit

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit(x)[:, :, None, None]


def _vit_split(body: nn.Sequential) -> Groups:
    first_layer = body[0]
    if not isinstance(first_layer, ViTBody):
        raise TypeError(f"the vit split expects a ViTBody first, got {type(first_layer).__name__}")
    vit = first_layer.vit
    layers = list(vit.encoder.layers)
    half = len(layers) // 2
    first = [*_params(vit.conv_proj), vit.class_token, vit.encoder.pos_embedding, *_params(layers[:half])]
    return [first, _params(layers[half:], vit.encoder.ln)]


def _children(m: nn.Module, drop: int) -> list[nn.Module]:
    return list(m.children())[: len(list(m.children())) - drop]


class _Permute(nn.Module):
    """(batch, h, w, c) → (batch, c, h, w): swin's features are channels-last."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.permute(0, 3, 1, 2)


# family -> (how to take the body out of the torchvision model, how to split the body)
# The extractors read each family's own attributes of a torchvision model (untyped, so `Any`).
_FAMILIES: dict[str, tuple[Callable[[Any], list[nn.Module]], Callable[[nn.Sequential], Groups]]] = {
    # conv1, bn1, relu, maxpool | layer1..4 (fastai's _resnet_split: body[:6], body[6:])
    "resnet": (lambda m: _children(m, 2), _split_at(6)),
    # torchvision's densenet applies a ReLU after `features` in forward(): it is part of the body here
    "densenet": (lambda m: [*m.features.children(), nn.ReLU(inplace=True)], _split_at(7)),
    "vgg": (lambda m: list(m.features.children()), _split_at(0.5)),
    "alexnet": (lambda m: list(m.features.children()), _split_at(6)),
    "squeezenet": (lambda m: list(m.features.children()), _split_at(5)),
    "features": (lambda m: list(m.features.children()), _split_at(0.5)),  # mobilenet, efficientnet, convnext
    "mnasnet": (lambda m: list(m.layers.children()), _split_at(0.5)),
    "regnet": (lambda m: [m.stem, *m.trunk_output.children()], _split_at(0.5)),
    "shufflenet": (lambda m: _children(m, 1), _split_at(0.5)),  # forward() pools by a mean: only fc goes
    "swin": (lambda m: [*m.features.children(), m.norm, _Permute()], _split_at(0.5)),
    "maxvit": (lambda m: [m.stem, *m.blocks], _split_at(0.5)),
    "vit": (lambda m: [ViTBody(m)], _vit_split),
    # from-scratch XResNet: stem convs | max pool and the stages (fastai's _xresnet_split); cut -4
    "xresnet": (lambda m: _children(m, 4), _split_at(3)),
    "timm": (timm_body, timm_split),  # "timm:<name>" (the timm extra): the model without classifier
}

_TIERS_MODELS = ("xresnet18", "xresnet34", "xresnet50")  # built here (apps_vision.xresnet); no pretrained weights


def _family(name: str) -> str:
    for prefix, fam in (
        ("resnet", "resnet"),
        ("resnext", "resnet"),
        ("wide_resnet", "resnet"),
        ("densenet", "densenet"),
        ("vgg", "vgg"),
        ("alexnet", "alexnet"),
        ("squeezenet", "squeezenet"),
        ("mobilenet", "features"),
        ("efficientnet", "features"),
        ("convnext", "features"),
        ("mnasnet", "mnasnet"),
        ("regnet", "regnet"),
        ("shufflenet", "shufflenet"),
        ("swin", "swin"),
        ("maxvit", "maxvit"),
        ("vit", "vit"),
        ("xresnet", "xresnet"),
    ):
        if name.startswith(prefix):
            return fam
    raise KeyError(name)


@dataclass(frozen=True)
class Backbone:
    """One registered architecture: its torchvision `name`, `family` (which fixes the cut and the split) and
    the `stats` (mean, std) its weights expect. `min_size` is the smallest input side it accepts."""

    name: str
    family: str
    stats: tuple[list[float], list[float]] = field(default=imagenet_stats)
    min_size: int = 32
    source: str = "torchvision"

    @property
    def builder(self) -> Callable[..., nn.Module]:
        """The function that builds the whole classifier (torchvision's, or apps_vision.xresnet's)."""
        if self.source == "tiers":
            from apps_vision import xresnet

            return getattr(xresnet, self.name)
        if self.source == "timm":
            return lambda **_: timm_model(self.name)
        return torchvision.models.get_model_builder(self.name)

    def build(self) -> nn.Module:
        """The whole classifier, randomly initialised."""
        return self.builder() if self.source in ("tiers", "timm") else self.builder(weights=None)

    def default_weights(self) -> Any:
        """torchvision's default weights enum member for this architecture (no download)."""
        if self.source == "tiers":
            raise ValueError(f"{self.name} has no pretrained weights: train it from scratch (pretrained=False)")
        if self.source == "timm":
            raise ValueError(f"{self.name}: timm weights come from a file: pass weights='/path/to/file'")
        return torchvision.models.get_model_weights(self.name).DEFAULT

    def body(self, model: nn.Module) -> nn.Sequential:
        """The body of a built torchvision `model` (its feature extractor, without pooling and classifier)."""
        return nn.Sequential(*_FAMILIES[self.family][0](model))

    def split(self, body: nn.Sequential) -> Groups:
        """The body's parameters in two groups for discriminative learning rates (early, late)."""
        return _FAMILIES[self.family][1](body)


def _min_size(name: str) -> int:
    if name.startswith(("vit", "maxvit")):
        return 224  # a fixed input size: position embeddings / window partitions
    if name.startswith(("swin", "alexnet", "squeezenet")):
        return 64
    return 32


_REGISTRY: dict[str, Backbone] = {}
_TIMM: dict[str, Backbone] = {}


def _registry() -> dict[str, Backbone]:
    if not _REGISTRY:  # built on first use, not at import
        for name in torchvision.models.list_models(module=torchvision.models):
            if name not in EXCLUDED:
                _REGISTRY[name] = Backbone(name, _family(name), imagenet_stats, _min_size(name))
        for name in _TIERS_MODELS:
            _REGISTRY[name] = Backbone(name, "xresnet", imagenet_stats, 32, source="tiers")
    return _REGISTRY


def list_backbones(family: str | None = None, source: str | None = None) -> list[str]:
    """The registered architecture names: every torchvision classification model but `EXCLUDED` (`source`
    "torchvision") and the from-scratch `xresnet18/34/50` (`source` "tiers"); optionally of one `family`."""
    return sorted(
        n
        for n, b in _registry().items()
        if (family is None or b.family == family) and (source is None or b.source == source)
    )


def backbone(arch: str | Callable[..., nn.Module] | Backbone) -> Backbone:
    """The registry entry for `arch`: a name (`"resnet34"`), the torchvision builder (`resnet34`), an entry, or
    `"timm:<name>"` for a timm model (with the `timm` extra)."""
    if isinstance(arch, Backbone):
        return arch
    name = arch if isinstance(arch, str) else getattr(arch, "__name__", None)
    if isinstance(name, str) and name.startswith(TIMM_PREFIX):
        if name not in _TIMM:  # built on demand: timm has too many models to list
            _TIMM[name] = Backbone(name, "timm", timm_stats(name), timm_min_size(name), source="timm")
        return _TIMM[name]
    reg = _registry()
    if name in reg:
        return reg[name]
    if name in EXCLUDED:
        raise ValueError(f"backbone {name!r} is not supported: {EXCLUDED[name]}")
    close = [n for n in reg if name and (n.startswith(name[:4]) or name in n)][:8]
    raise ValueError(
        f"unknown backbone {arch!r}; registered names include {close or list_backbones()[:8]} (see list_backbones())"
    )


# --- weights ------------------------------------------------------------------------------------------------


def _weights_enum(bb: Backbone, weights: Any) -> Any:
    if weights is None or weights is True:
        return bb.default_weights()
    if isinstance(weights, str) and not os.path.exists(weights):
        enum = torchvision.models.get_model_weights(bb.name)
        try:
            return enum[weights.rsplit(".", 1)[-1]]
        except KeyError:
            raise ValueError(
                f"weights {weights!r} for {bb.name}: no such file, and not one of {[w.name for w in enum]}"
            ) from None
    return weights


def weights_path(arch: str | Callable[..., nn.Module], weights: Any = None) -> Path:
    """Where the weights of `arch` (default: torchvision's default weights) are looked for: torch's hub cache,
    `$TORCH_HOME/hub/checkpoints/<file name of the weights' URL>`."""
    w = _weights_enum(backbone(arch), weights)
    return Path(torch.hub.get_dir()) / "checkpoints" / w.url.rsplit("/", 1)[-1]


def _remap_densenet(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # old densenet checkpoints name "norm.1.weight" what the module calls "norm1.weight" (torchvision remaps too)
    pat = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")
    out = {}
    for k, v in state.items():
        m = pat.match(k)
        out[m.group(1) + m.group(2) if m else k] = v
    return out


def load_weights(arch: str | Callable[..., nn.Module], weights: Any = None) -> tuple[nn.Module, Any]:
    """The whole torchvision classifier `arch` with pretrained weights read from disk, and its weights enum.

    `weights`: None/True (torchvision's default), an enum member or its name, or a path to a state-dict file.
    Never downloads: a missing file raises `FileNotFoundError` naming the file, where to put it and its URL.
    """
    bb = backbone(arch)
    if bb.source == "timm":
        return load_timm_weights(bb.name, weights), None
    if bb.source == "tiers" and isinstance(weights, (str, os.PathLike)) and os.path.exists(weights):
        model = bb.build()
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        return model, None
    if isinstance(weights, (str, os.PathLike)) and os.path.exists(weights):
        file, enum = Path(weights), bb.default_weights()
    else:
        enum = _weights_enum(bb, weights)
        file = weights_path(bb.name, enum)
        if not file.exists():
            raise FileNotFoundError(
                f"pretrained weights for {bb.name} not found: {file} does not exist. Nothing is downloaded at run "
                f"time: fetch {enum.url} and save it as {file} (the torch hub cache, under $TORCH_HOME), or pass "
                f"weights='/path/to/file.pth'; or use pretrained=False"
            )
    kwargs: dict[str, Any] = {"num_classes": len(enum.meta["categories"])}
    if bb.family == "vit":
        kwargs["image_size"] = enum.meta["min_size"][0]
    model = bb.builder(weights=None, **kwargs)
    state = torch.load(file, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if bb.family == "densenet":
        state = _remap_densenet(state)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"weights file {file} does not fit {bb.name}: {e}") from None
    return model, enum


def _first_conv(model: nn.Module) -> tuple[str, nn.Conv2d]:
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            return name, m
    raise ValueError("the model has no Conv2d layer whose input channels could be changed")


def _pair(size: tuple[int, ...]) -> tuple[int, int]:
    """A Conv2d's stored size (a tuple, of two for a 2-d conv) as the pair its constructor takes."""
    h, w = size
    return h, w


def _adapt_first_conv(model: nn.Module, n_in: int, pretrained: bool) -> None:
    """Make the first conv take `n_in` channels; with pretrained weights, fastai's rule: 1 channel sums the RGB
    filters, 2 take the first two x 1.5, more keep RGB and zero the others."""
    name, old = _first_conv(model)
    padding = old.padding if isinstance(old.padding, str) else _pair(old.padding)
    new = nn.Conv2d(
        n_in, old.out_channels, _pair(old.kernel_size), _pair(old.stride), padding, _pair(old.dilation), old.groups,
        old.bias is not None, old.padding_mode, device=old.weight.device, dtype=old.weight.dtype,
    )  # fmt: skip
    if pretrained:
        with torch.no_grad():
            w = old.weight
            if n_in == 1:
                new.weight.copy_(w.sum(dim=1, keepdim=True))
            elif n_in == 2:
                new.weight.copy_(w[:, :2] * 1.5)
            else:
                new.weight.zero_()
                new.weight[:, :3] = w
            if old.bias is not None and new.bias is not None:
                new.bias.copy_(old.bias)
    parent_name, _, child = name.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    setattr(parent, child, new)


def create_body(
    arch: str | Callable[..., nn.Module],
    n_in: int = 3,
    pretrained: bool = True,
    cut: int | Callable[[nn.Module], nn.Module] | None = None,
    weights: Any = None,
) -> nn.Sequential:
    """The body of `arch` (a registered name or torchvision builder): its feature extractor as `nn.Sequential`.

    `pretrained` loads torchvision's weights from disk (see `load_weights`; `weights` picks others or a file);
    `n_in` != 3 adapts the first conv as fastai does; `cut` overrides the registry: an index into the model's
    children (fastai's int cut) or a function of the whole model returning the body.
    """
    bb = backbone(arch)
    model = load_weights(bb.name, weights)[0] if pretrained else bb.build()
    if cut is None:
        body = bb.body(model)
    elif isinstance(cut, int):
        body = nn.Sequential(*list(model.children())[:cut])
    elif callable(cut):
        made = cut(model)
        body = made if isinstance(made, nn.Sequential) else nn.Sequential(made)
    else:
        raise TypeError(f"create_body: cut must be None, an int or a function, got {type(cut).__name__}")
    if n_in != 3:
        _adapt_first_conv(body, n_in, pretrained)
    return body


def num_features(body: nn.Module, n_in: int = 3, size: int = 64) -> int:  # noqa: ARG001 (n_in: read from the body)
    """Channels of the body's output map, from trainloop-callbacks' `dummy_eval` of one (size, size) image with the
    body's input channels (on the body's device; a body on the meta device costs no compute)."""
    return int(dummy_eval(body, (size, size)).shape[1])
