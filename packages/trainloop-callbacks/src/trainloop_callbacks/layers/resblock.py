"""`ResBlock`: the residual block of fastai's xresnet (basic or bottleneck), with `SEModule` for squeeze-excitation."""

from __future__ import annotations

import math
from typing import Any

from torch import Tensor, nn

from trainloop_callbacks.layers.activation import activation_class, activation_name
from trainloop_callbacks.layers.attention import SimpleSelfAttention
from trainloop_callbacks.layers.conv import ConvLayer
from trainloop_callbacks.layers.norm import NormType, _check_ndim, norm_type_of

__all__ = ["ResBlock", "SEModule"]

_POOLS = {"avg": (nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d), "max": (nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d)}


class SEModule(nn.Module):
    """Squeeze-and-excitation, as fastai's `SEModule`: global average pool, a 1x1 conv down to
    `ceil(ch // reduction / 8) * 8` channels with `act_cls`, a 1x1 conv back with a sigmoid, and the input
    scaled channel-wise by the result."""

    config_safe = True

    def __init__(self, ch: int, reduction: int, act_cls: type[nn.Module] | str | None = nn.ReLU) -> None:
        super().__init__()
        nf = math.ceil(ch // reduction / 8) * 8
        self.layers = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            ConvLayer(ch, nf, ks=1, norm_type=None, act_cls=act_cls),
            ConvLayer(nf, ch, ks=1, norm_type=None, act_cls=nn.Sigmoid),
        )
        self.config = {"ch": ch, "reduction": reduction, "act_cls": activation_name(act_cls)}

    def forward(self, x: Tensor) -> Tensor:
        return x * self.layers(x)


class ResBlock(nn.Module):
    """fastai's `ResBlock`: `act(convpath(x) + idpath(x))`.

    `expansion` 1 gives the basic block (two `ks` convs), otherwise the bottleneck (1x1, `ks`, 1x1) with
    `ni * expansion` input and `nf * expansion` output channels; `nh1`/`nh2` set the hidden widths (default `nf`).
    The last conv's norm starts at zero (`BatchZero`/`InstanceZero`), so each block starts as its shortcut.
    The shortcut is a 1x1 `ConvLayer` without activation when the width changes and, with `stride` > 1, a pooling
    (`pool`: "avg" as fastai's `AvgPool`, or "max"; `ceil_mode`) placed first when `pool_first`.
    `groups`/`dw` (depthwise) and `g2` group the convs, `reduction` adds an `SEModule`, `sa` a
    `SimpleSelfAttention` (`sym`). Extra keyword arguments go to every `ConvLayer`.
    Differs from fastai: `pool` is a name, not a function, so the block is rebuilt from plain data."""

    config_safe = True

    def __init__(
        self,
        expansion: int,
        ni: int,
        nf: int,
        stride: int = 1,
        groups: int = 1,
        reduction: int | None = None,
        nh1: int | None = None,
        nh2: int | None = None,
        dw: bool = False,
        g2: int = 1,
        sa: bool = False,
        sym: bool = False,
        norm_type: NormType | str | None = NormType.Batch,
        act_cls: type[nn.Module] | str | None = nn.ReLU,
        ndim: int = 2,
        ks: int = 3,
        pool: str = "avg",
        pool_first: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if pool not in _POOLS:
            raise ValueError(f"ResBlock: pool must be one of {sorted(_POOLS)}, got {pool!r}")
        if reduction and ndim != 2:
            raise ValueError(f"ResBlock: reduction (an SEModule) works on 2-D feature maps only, got ndim={ndim}")
        self.config = {
            "expansion": expansion,
            "ni": ni,
            "nf": nf,
            "stride": stride,
            "groups": groups,
            "reduction": reduction,
            "nh1": nh1,
            "nh2": nh2,
            "dw": dw,
            "g2": g2,
            "sa": sa,
            "sym": sym,
            "norm_type": None if norm_type is None else norm_type_of(norm_type).value,
            "act_cls": activation_name(act_cls),
            "ndim": ndim,
            "ks": ks,
            "pool": pool,
            "pool_first": pool_first,
            **kwargs,
        }
        nt = norm_type_of(norm_type)
        zero_of = {NormType.Batch: NormType.BatchZero, NormType.Instance: NormType.InstanceZero}
        norm2 = nt if nt is None else zero_of.get(nt, nt)
        nh2 = nf if nh2 is None else nh2
        nh1 = nh2 if nh1 is None else nh1
        nf, ni = nf * expansion, ni * expansion
        k0 = dict(norm_type=nt, act_cls=act_cls, ndim=ndim, **kwargs)
        k1 = dict(norm_type=norm2, act_cls=None, ndim=ndim, **kwargs)
        if expansion == 1:
            convpath: list[nn.Module] = [
                ConvLayer(ni, nh2, ks, stride=stride, groups=ni if dw else groups, **k0),
                ConvLayer(nh2, nf, ks, groups=g2, **k1),
            ]
        else:
            convpath = [
                ConvLayer(ni, nh1, 1, **k0),
                ConvLayer(nh1, nh2, ks, stride=stride, groups=nh1 if dw else groups, **k0),
                ConvLayer(nh2, nf, 1, groups=g2, **k1),
            ]
        if reduction:
            convpath.append(SEModule(nf, reduction=reduction, act_cls=act_cls))
        if sa:
            convpath.append(SimpleSelfAttention(nf, ks=1, sym=sym))
        self.convpath = nn.Sequential(*convpath)
        idpath: list[nn.Module] = []
        if ni != nf:
            idpath.append(ConvLayer(ni, nf, 1, act_cls=None, ndim=ndim, **kwargs))
        if stride != 1:
            pool_layer = _POOLS[pool][_check_ndim(ndim) - 1](stride, ceil_mode=True)
            idpath.insert(0 if pool_first else 1, pool_layer)
        self.idpath = nn.Sequential(*idpath)
        act = activation_class(act_cls)
        self.act = nn.Identity() if act is None else act(inplace=True) if act is nn.ReLU else act()

    def forward(self, x: Tensor) -> Tensor:
        return self.act(self.convpath(x) + self.idpath(x))
