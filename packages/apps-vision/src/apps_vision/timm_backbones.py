"""timm models as backbones, by name: `vision_learner(dls, "timm:convnext_atto")` (the optional `timm` extra).

A timm entry is built on demand (timm has over a thousand models; none is listed by `list_backbones`): the body is
the model without classifier, giving its feature map (batch, features, h, w), or, for a model whose features are
tokens or channels-last, its pooled features as a 1x1 map; the split is the first half of the model's top-level
children and the rest; the stats are those of the model's pretrained configuration. As everywhere in tiers,
nothing is downloaded: pretrained weights come from a file passed as `weights=` (a state dict or safetensors file);
without one the error says where timm publishes them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["TIMM_PREFIX", "TimmBody", "timm_model", "timm_stats", "load_timm_weights"]

TIMM_PREFIX = "timm:"


def _timm() -> Any:
    try:
        import timm
    except ImportError as e:
        raise ImportError("timm backbones need timm: pip install 'apps-vision[timm]'") from e
    return timm


def _name(arch: str) -> str:
    name = arch[len(TIMM_PREFIX) :] if arch.startswith(TIMM_PREFIX) else arch
    timm = _timm()
    if not timm.is_model(name):
        close = timm.list_models(f"*{name[:6]}*")[:8]
        raise ValueError(f"unknown timm model {name!r}; timm has e.g. {close} (see timm.list_models())")
    return name


def timm_model(arch: str) -> nn.Module:
    """The timm model `arch` ("timm:<name>" or "<name>") without its classifier, randomly initialised."""
    return _timm().create_model(_name(arch), pretrained=False, num_classes=0)


def timm_stats(arch: str) -> tuple[list[float], list[float]]:
    """Mean and std per channel that the pretrained weights of `arch` expect (timm's pretrained configuration)."""
    cfg = _timm().get_pretrained_cfg(_name(arch))
    mean, std = (getattr(cfg, "mean", None), getattr(cfg, "std", None)) if cfg is not None else (None, None)
    if mean is None or std is None:
        from apps_vision.backbones import imagenet_stats

        return imagenet_stats
    return [float(v) for v in mean], [float(v) for v in std]


def timm_min_size(arch: str) -> int:
    """The input side a model needs: its configured size for a fixed-size model (ViT-like), else 32."""
    cfg = _timm().get_pretrained_cfg(_name(arch))
    fixed = getattr(cfg, "fixed_input_size", False) if cfg is not None else False
    return int(cfg.input_size[-1]) if fixed and cfg is not None else 32


class TimmBody(nn.Module):
    """A timm model's features as a (batch, features, h, w) map: its `forward_features` when that is such a
    map, else its pooled features (`forward_head(pre_logits=True)`) as a 1x1 map."""

    # a timm model: `forward_features`, `forward_head`, `num_features` (timm is imported lazily and its models share
    # no base class declaring them, so there is no narrower type to name)
    model: Any

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.model.forward_features(x)
        if f.ndim == 4 and f.shape[1] == self.model.num_features:
            return f
        return self.model.forward_head(f, pre_logits=True)[:, :, None, None]


def timm_body(model: nn.Module) -> list[nn.Module]:
    return [TimmBody(model)]


def timm_split(body: nn.Sequential) -> list[list[nn.Parameter]]:
    """(first half of the timm model's top-level children, the rest): the stem and early stages, then the rest."""
    first_layer = body[0]
    if not isinstance(first_layer, TimmBody):
        raise TypeError(
            f"timm_split: expected a body starting with a TimmBody (from timm_body), got {type(first_layer).__name__}"
        )
    children = list(first_layer.model.children())
    half = max(1, len(children) // 2)
    first = [p for c in children[:half] for p in c.parameters()]
    seen = {id(p) for p in first}
    return [first, [p for p in body.parameters() if id(p) not in seen]]


def load_timm_weights(arch: str, weights: Any = None) -> nn.Module:
    """The timm model `arch` without classifier, with the weights of the file `weights` (a state dict, `.pth` or
    `.safetensors`; the classifier's entries are dropped). Nothing is downloaded."""
    name = _name(arch)
    if not isinstance(weights, (str, os.PathLike)) or not os.path.exists(weights):
        cfg = _timm().get_pretrained_cfg(name)
        hub = getattr(cfg, "hf_hub_id", None) if cfg is not None else None
        where = f"https://huggingface.co/{hub}" if hub else "timm's model page"
        raise FileNotFoundError(
            f"pretrained weights for timm:{name}: pass weights='/path/to/file' (a state dict or .safetensors file; "
            f"got {weights!r}). Nothing is downloaded at run time: fetch the weights from {where}; or use "
            "pretrained=False"
        )
    file = Path(weights)
    state: dict[str, Any]
    if file.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(file))
    else:
        state = torch.load(file, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    model = timm_model(name)
    own = model.state_dict()
    kept = {k: v for k, v in state.items() if k in own}
    missing = sorted(set(own) - set(kept))
    if missing:
        raise ValueError(f"weights file {file} does not fit timm:{name}: no values for {missing[:5]}")
    model.load_state_dict(kept)
    return model
