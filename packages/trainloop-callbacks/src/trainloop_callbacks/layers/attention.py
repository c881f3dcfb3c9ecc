"""Self-attention over the spatial positions of a feature map: `SelfAttention` (SAGAN) and `SimpleSelfAttention`."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from trainloop_callbacks.layers.conv import ConvLayer
from trainloop_callbacks.layers.norm import NormType

__all__ = ["SelfAttention", "SimpleSelfAttention"]


class SelfAttention(nn.Module):
    """SAGAN self-attention, as fastai's `SelfAttention`: query and key (`n_channels // 8` each) and value
    (`n_channels`) are spectral-normed 1x1 convs; the output is `gamma * attention + x` with `gamma` starting
    at 0, so the layer is the identity at initialisation."""

    config_safe = True

    def __init__(self, n_channels: int) -> None:
        super().__init__()
        if n_channels < 8:
            raise ValueError(
                f"SelfAttention: n_channels must be at least 8 (query/key use n_channels // 8), got {n_channels}"
            )
        self.query, self.key, self.value = (
            self._conv(n_channels, c) for c in (n_channels // 8, n_channels // 8, n_channels)
        )
        self.gamma = nn.Parameter(torch.tensor([0.0]))
        self.config = {"n_channels": n_channels}

    @staticmethod
    def _conv(n_in: int, n_out: int) -> ConvLayer:
        return ConvLayer(n_in, n_out, ks=1, ndim=1, norm_type=NormType.Spectral, act_cls=None, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        size = x.size()
        x = x.reshape(*size[:2], -1)
        f, g, h = self.query(x), self.key(x), self.value(x)
        beta = F.softmax(torch.bmm(f.transpose(1, 2), g), dim=1)
        o = self.gamma * torch.bmm(h, beta) + x
        return o.reshape(*size).contiguous()


class SimpleSelfAttention(nn.Module):
    """fastai's `SimpleSelfAttention` (used by `ResBlock(sa=True)`): `gamma * (x xᵀ) conv(x) + x` with a
    spectral-normed 1-D conv (kaiming-normal init) and `gamma` starting at 0; `sym` symmetrises the 1x1 kernel."""

    config_safe = True

    def __init__(self, n_in: int, ks: int = 1, sym: bool = False) -> None:
        super().__init__()
        if sym and ks != 1:
            raise ValueError(f"SimpleSelfAttention: sym=True needs ks=1 (a square kernel matrix), got ks={ks}")
        self.sym, self.n_in = sym, n_in
        conv = nn.Conv1d(n_in, n_in, ks, padding=ks // 2, bias=False)
        nn.init.kaiming_normal_(conv.weight)
        self.conv = spectral_norm(conv)
        self.gamma = nn.Parameter(torch.tensor([0.0]))
        self.config = {"n_in": n_in, "ks": ks, "sym": sym}

    def forward(self, x: Tensor) -> Tensor:
        size = x.size()
        x = x.reshape(*size[:2], -1)
        if self.sym:
            # fastai writes the symmetrised kernel back into the layer; computing it here leaves the weights as trained
            weight = self.conv.weight
            if not isinstance(weight, Tensor):
                raise TypeError("SimpleSelfAttention: the spectral-normed conv has no weight tensor")
            c = weight.reshape(self.n_in, self.n_in)
            convx = F.conv1d(x, ((c + c.t()) / 2).reshape(self.n_in, self.n_in, 1))
        else:
            convx = self.conv(x)
        xxt = torch.bmm(x, x.permute(0, 2, 1).contiguous())
        o = self.gamma * torch.bmm(xxt, convx) + x
        return o.reshape(*size).contiguous()
