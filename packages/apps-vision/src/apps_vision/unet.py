"""`DynamicUnet` and `unet_learner`: a U-Net decoder grown on any registered encoder, for segmentation.

As fastai's: the encoder's outputs are kept wherever its feature map changes size; the decoder upsamples with
`PixelShuffle_ICNR` and concatenates each kept map (batch-normed); a last cross connection with the input and
a residual block finish at the input's size. Unlike fastai, no hooks: the encoder's layers are run one by one
in `forward` and the maps kept in a list, so the model is a plain module that exports as data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from apps_vision.backbones import backbone, create_body
from apps_vision.learner import VisionLearner, add_normalize, check_data_fit, data_n_out, make_vision_learner
from pluggable_optim import Adam
from trainloop_callbacks import Callback
from trainloop_callbacks.layers import (
    BatchNorm,
    ConvLayer,
    NormType,
    PixelShuffle_ICNR,
    ResBlock,
    SelfAttention,
    SigmoidRange,
)
from trainloop_callbacks.models.model_utils import in_channels, model_sizes

__all__ = ["UnetBlock", "DynamicUnet", "unet_learner"]


def _kaiming_first(layer: nn.Module) -> None:
    """Kaiming-normal init of the weight of `layer`'s first module (the conv of a `ConvLayer`)."""
    weight = next(layer.children()).weight
    if not isinstance(weight, torch.Tensor):
        raise TypeError(f"{type(layer).__name__}: its first module has no weight tensor to initialise")
    nn.init.kaiming_normal_(weight)


class UnetBlock(nn.Module):
    """Upsample `up_in_c` channels by pixel shuffle, concatenate the (batch-normed) encoder map of `x_in_c`
    channels, then two convs (fastai's `UnetBlock`; `final_div` halves the width except in the last block)."""

    def __init__(
        self,
        up_in_c: int,
        x_in_c: int,
        final_div: bool = True,
        blur: bool = False,
        act_cls: type[nn.Module] = nn.ReLU,
        self_attention: bool = False,
        norm_type: NormType | str | None = None,
    ) -> None:
        super().__init__()
        self.shuf = PixelShuffle_ICNR(up_in_c, up_in_c // 2, blur=blur, act_cls=act_cls, norm_type=norm_type)
        self.bn = BatchNorm(x_in_c)
        ni = up_in_c // 2 + x_in_c
        nf = ni if final_div else ni // 2
        self.conv1 = ConvLayer(ni, nf, act_cls=act_cls, norm_type=norm_type)
        self.conv2 = ConvLayer(nf, nf, act_cls=act_cls, norm_type=norm_type)
        self.attn = SelfAttention(nf) if self_attention else nn.Identity()
        self.relu = act_cls()
        _kaiming_first(self.conv1)
        _kaiming_first(self.conv2)

    def forward(self, up_in: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        up_out = self.shuf(up_in)
        if s.shape[-2:] != up_out.shape[-2:]:
            up_out = F.interpolate(up_out, s.shape[-2:], mode="nearest")
        cat_x = self.relu(torch.cat([up_out, self.bn(s)], dim=1))
        return self.attn(self.conv2(self.conv1(cat_x)))


class DynamicUnet(nn.Module):
    """A U-Net on `encoder` (an `nn.Sequential` such as `create_body(...)`) predicting `n_out` maps at the input's
    size; fastai's arguments: `img_size` (h, w) for the shape pass, `blur`/`blur_final`, `self_attention`,
    `y_range`, `last_cross`, `bottle`, `act_cls`, `norm_type` (None: no norm in the decoder convs, as fastai).

    `arch_config` (set by `unet_learner`: backbone name and `n_in`) lets `to_config()` describe the model as data.
    """

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    def __init__(
        self,
        encoder: nn.Sequential,
        n_out: int,
        img_size: tuple[int, int] | int,
        blur: bool = False,
        blur_final: bool = True,
        self_attention: bool = False,
        y_range: tuple[float, float] | None = None,
        last_cross: bool = True,
        bottle: bool = False,
        act_cls: type[nn.Module] = nn.ReLU,
        norm_type: NormType | str | None = None,
    ) -> None:
        super().__init__()
        size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        n_in = in_channels(encoder)
        sizes = model_sizes(encoder, size)
        widths = [s[-1] for s in sizes]
        # the maps kept for the skips: the last layer before each change of size, deepest first
        self.skip_idxs = [i for i in range(len(widths) - 1) if widths[i] != widths[i + 1]]
        self.encoder = encoder
        ni = int(sizes[-1][1])
        self.bn = BatchNorm(ni)
        self.relu = nn.ReLU()
        self.middle_conv = nn.Sequential(
            ConvLayer(ni, ni * 2, act_cls=act_cls, norm_type=norm_type),
            ConvLayer(ni * 2, ni, act_cls=act_cls, norm_type=norm_type),
        )
        blocks, up_c = [], ni
        skips = list(reversed(self.skip_idxs))
        for i, idx in enumerate(skips):
            not_final = i != len(skips) - 1
            block = UnetBlock(
                up_c,
                int(sizes[idx][1]),
                final_div=not_final,
                blur=blur and (not_final or blur_final),
                act_cls=act_cls,
                self_attention=self_attention and i == len(skips) - 3,
                norm_type=norm_type,
            )
            blocks.append(block)
            ni_block = up_c // 2 + int(sizes[idx][1])
            up_c = ni_block if not_final else ni_block // 2
        self.blocks = nn.ModuleList(blocks)
        # the map after the blocks is at the size of the first kept map; one more pixel shuffle if that is smaller
        last_hw = tuple(sizes[skips[-1]][-2:]) if skips else tuple(sizes[-1][-2:])
        self.final_shuf = (
            PixelShuffle_ICNR(up_c, act_cls=act_cls, norm_type=norm_type) if last_hw != size else nn.Identity()
        )
        self.last_cross = last_cross
        ni = up_c + (n_in if last_cross else 0)
        self.res = (
            ResBlock(1, ni, ni // 2 if bottle else ni, act_cls=act_cls, norm_type=norm_type) if last_cross else None
        )
        nf = (ni // 2 if bottle else ni) if last_cross else ni
        self.final_conv = ConvLayer(nf, n_out, ks=1, act_cls=None, norm_type=norm_type)
        _kaiming_first(self.middle_conv[0])
        _kaiming_first(self.final_conv)
        self.y_range = SigmoidRange(*y_range) if y_range is not None else None
        self.arch_config: dict[str, Any] | None = None
        self._args = {
            "n_out": n_out,
            "img_size": list(size),
            "blur": blur,
            "blur_final": blur_final,
            "self_attention": self_attention,
            "y_range": None if y_range is None else list(y_range),
            "last_cross": last_cross,
            "bottle": bottle,
            "norm_type": None if norm_type is None else NormType(norm_type).value,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips, h = [], x
        keep = set(self.skip_idxs)
        for i, layer in enumerate(self.encoder):
            h = layer(h)
            if i in keep:
                skips.append(h)
        h = self.middle_conv(self.relu(self.bn(h)))
        for block, s in zip(self.blocks, reversed(skips), strict=True):
            h = block(h, s)
        h = self.final_shuf(h)
        if h.shape[-2:] != x.shape[-2:]:
            h = F.interpolate(h, x.shape[-2:], mode="nearest")
        if self.res is not None:  # last_cross
            h = self.res(torch.cat([h, x], dim=1))
        h = self.final_conv(h)
        return self.y_range(h) if self.y_range is not None else h

    def to_config(self) -> dict[str, Any]:
        """The encoder's backbone name and the U-Net's arguments as plain data (needs `arch_config`)."""
        if self.arch_config is None:
            raise ValueError(
                "DynamicUnet over a custom encoder cannot be written as data; build it with unet_learner "
                "(a registered backbone) or export with pickle=True"
            )
        return {**self.arch_config, **self._args}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> DynamicUnet:
        """Rebuild from `to_config()` with a randomly initialised encoder (load the exported weights after)."""
        cfg = dict(config)
        arch, n_in, cut = cfg.pop("arch"), cfg.pop("n_in"), cfg.pop("cut", None)
        if cfg.get("y_range") is not None:
            cfg["y_range"] = tuple(cfg["y_range"])
        model = cls(create_body(arch, n_in=n_in, pretrained=False, cut=cut), **cfg)
        model.arch_config = {"arch": arch, "n_in": n_in, "cut": cut}
        return model


def unet_learner(
    dls: Any,
    arch: str | Callable[..., nn.Module],
    normalize: bool = True,
    n_out: int | None = None,
    pretrained: bool = True,
    weights: Any = None,
    cut: int | None = None,
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
    n_in: int = 3,
    img_size: tuple[int, int] | None = None,
    **unet_args: Any,
) -> VisionLearner:
    """A `VisionLearner` with a `DynamicUnet` on the body of `arch` (fastai's `unet_learner`): `n_out` defaults to
    `dls.c` (the mask codes); `img_size` to the size of a batch's images; pretrained bodies are frozen and
    their normalization added to the data. Parameter groups: early encoder, late encoder, decoder."""
    bb = backbone(arch)
    check_data_fit(dls, "unet_learner", n_in, n_out, unet_args.get("y_range"), loss_func)
    n_out = data_n_out(dls, n_out, "unet_learner")
    if img_size is None:
        img_size = tuple(dls.one_batch()[0].shape[-2:])
    if normalize and pretrained and n_in == len(bb.stats[0]):
        add_normalize(dls, bb.stats)
    encoder = create_body(bb.name, n_in=n_in, pretrained=pretrained, cut=cut, weights=weights)
    model = DynamicUnet(encoder, n_out, img_size, **unet_args)
    model.arch_config = {"arch": bb.name, "n_in": n_in, "cut": cut}

    def unet_split(m: nn.Module) -> list[list[nn.Parameter]]:
        if not isinstance(m, DynamicUnet):
            raise TypeError(f"unet_learner's splitter expects a DynamicUnet, got {type(m).__name__}")
        enc = set(map(id, m.encoder.parameters()))
        groups = bb.split(m.encoder) if cut is None else [list(m.encoder.parameters())]
        return [*groups, [p for p in m.parameters() if id(p) not in enc]]

    return make_vision_learner(
        dls, model, bb, pretrained, loss_func=loss_func, opt_func=opt_func, lr=lr,
        splitter=splitter if splitter is not None else unet_split, cbs=cbs, metrics=metrics, path=path,
        model_dir=model_dir, wd=wd, wd_bn_bias=wd_bn_bias, train_bn=train_bn, moms=moms,
    )  # fmt: skip
