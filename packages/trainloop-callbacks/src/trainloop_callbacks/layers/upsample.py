"""`PixelShuffle_ICNR`: upsampling by pixel shuffle, initialised so that it starts free of checkerboard artefacts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from trainloop_callbacks.layers.activation import activation_name
from trainloop_callbacks.layers.conv import ConvLayer
from trainloop_callbacks.layers.norm import NormType, norm_type_of

__all__ = ["PixelShuffle_ICNR", "icnr_init"]


def icnr_init(x: Tensor, scale: int = 2, init: Callable[[Tensor], Tensor] = nn.init.kaiming_normal_) -> Tensor:
    """ICNR weights for a conv of weight shape `x.shape` (out, in, h, w) feeding `PixelShuffle(scale)`: one kernel
    drawn by `init` per output channel of the shuffle, repeated over its `scale**2` sub-pixel channels, so the
    upsampled result of a smooth input has no checkerboard (Aitken et al. 2017)."""
    n_out, n_in, h, w = x.shape
    if n_out % (scale**2):
        raise ValueError(f"icnr_init: {n_out} output channels is not a multiple of scale**2 = {scale**2}")
    k = init(x.new_zeros([n_out // scale**2, n_in, h, w]))
    # out channel c * scale**2 + r (sub-pixel r of shuffled channel c) gets kernel c
    return k.repeat_interleave(scale**2, dim=0)


class PixelShuffle_ICNR(nn.Sequential):
    """`ConvLayer(ni, nf * scale**2, ks=1)` then `PixelShuffle(scale)`, with ICNR init and a zero bias, as fastai;
    `blur` adds a replication pad and a 2x2 average pool of stride 1 (fewer artefacts)."""

    config_safe = True

    def __init__(
        self,
        ni: int,
        nf: int | None = None,
        scale: int = 2,
        blur: bool = False,
        norm_type: NormType | str | None = NormType.Weight,
        act_cls: type[nn.Module] | str | None = nn.ReLU,
    ) -> None:
        nf = ni if nf is None else nf
        nt = norm_type_of(norm_type)
        conv_layer = ConvLayer(ni, nf * scale**2, ks=1, norm_type=nt, act_cls=act_cls, bias_std=0)
        conv: Any = conv_layer[0]  # a Conv2d, possibly parametrised: its attributes are created at run time
        with torch.no_grad():
            if nt is NormType.Weight:
                # weight norm stores direction v and magnitude g: ICNR on v, g its norm so that the weight is v
                v = icnr_init(conv.parametrizations.weight.original1, scale=scale)
                conv.parametrizations.weight.original1.copy_(v)
                conv.parametrizations.weight.original0.copy_(v.pow(2).sum(dim=(1, 2, 3), keepdim=True).sqrt())
            elif nt is NormType.Spectral:
                conv.parametrizations.weight.original.copy_(icnr_init(conv.parametrizations.weight.original, scale))
            else:
                conv.weight.copy_(icnr_init(conv.weight, scale=scale))
        layers: list[nn.Module] = [conv_layer, nn.PixelShuffle(scale)]
        if blur:
            layers += [nn.ReplicationPad2d((1, 0, 1, 0)), nn.AvgPool2d(2, stride=1)]
        super().__init__(*layers)
        self.config = {
            "ni": ni,
            "nf": nf,
            "scale": scale,
            "blur": blur,
            "norm_type": None if nt is None else nt.value,
            "act_cls": activation_name(act_cls),
        }
