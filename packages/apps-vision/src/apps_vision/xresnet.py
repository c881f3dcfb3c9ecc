"""`XResNet`: the ResNet of "Bag of Tricks for Image Classification" (He et al. 2019), for training from scratch.

The tricks, as in fastai: a stem of three 3x3 convs instead of one 7x7; downsampling shortcuts that average-pool
then use a 1x1 conv (ResNet-D); the last batch norm of each residual block starts at zero, so every block starts
as its shortcut. Built from trainloop-callbacks' `ConvLayer` and `ResBlock`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from trainloop_callbacks.layers import ConvLayer, Flatten, ResBlock

__all__ = ["XResNet", "init_cnn", "xresnet18", "xresnet34", "xresnet50"]


def init_cnn(m: nn.Module) -> None:
    """fastai's `init_cnn`: kaiming-normal weights for every conv and linear layer, zero biases."""
    if getattr(m, "bias", None) is not None and isinstance(m.bias, nn.Parameter):
        nn.init.constant_(m.bias, 0)
    if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
        nn.init.kaiming_normal_(m.weight)
    for child in m.children():
        init_cnn(child)


class XResNet(nn.Sequential):
    """fastai's `XResNet(block=ResBlock, expansion, layers, p, c_in, n_out, stem_szs, widen, sa, ks, stride)`:
    stem, max pool, `len(layers)` stages of residual blocks, then pool, flatten, dropout `p` and a linear layer."""

    config_safe = True  # rebuilt from plain data by an export (it holds only plain arguments)

    def __init__(
        self,
        expansion: int,
        layers: Sequence[int],
        p: float = 0.0,
        c_in: int = 3,
        n_out: int = 1000,
        stem_szs: Sequence[int] = (32, 32, 64),
        widen: float = 1.0,
        sa: bool = False,
        ks: int = 3,
        stride: int = 2,
    ) -> None:
        if ks % 2 == 0:
            raise ValueError(f"XResNet: the kernel size must be odd, got ks={ks}")
        self.config = {
            "expansion": expansion,
            "layers": list(layers),
            "p": p,
            "c_in": c_in,
            "n_out": n_out,
            "stem_szs": list(stem_szs),
            "widen": widen,
            "sa": sa,
            "ks": ks,
            "stride": stride,
        }
        szs = [c_in, *stem_szs]
        stem = [ConvLayer(szs[i], szs[i + 1], ks=ks, stride=stride if i == 0 else 1) for i in range(3)]
        block_szs = [64 // expansion] + [int(o * widen) for o in [64, 128, 256, 512] + [256] * (len(layers) - 4)]
        blocks = [
            nn.Sequential(
                *[
                    ResBlock(
                        expansion,
                        block_szs[i] if j == 0 else block_szs[i + 1],
                        block_szs[i + 1],
                        stride=(1 if i == 0 else stride) if j == 0 else 1,
                        sa=sa and i == len(layers) - 4 and j == n - 1,
                        ks=ks,
                    )
                    for j in range(n)
                ]
            )
            for i, n in enumerate(layers)
        ]
        super().__init__(
            *stem,
            nn.MaxPool2d(ks, stride=stride, padding=ks // 2),
            *blocks,
            nn.AdaptiveAvgPool2d(1),
            Flatten(),
            nn.Dropout(p),
            nn.Linear(block_szs[-1] * expansion, n_out),
        )
        init_cnn(self)

    def to_config(self) -> dict[str, Any]:
        """Constructor arguments as plain data (export without pickle)."""
        return dict(self.config)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> XResNet:
        """Rebuild from `to_config()` (weights are loaded separately)."""
        return cls(**config)


def xresnet18(n_out: int = 1000, **kwargs: Any) -> XResNet:
    """XResNet-18 (basic blocks [2, 2, 2, 2]), randomly initialised."""
    return XResNet(1, [2, 2, 2, 2], n_out=n_out, **kwargs)


def xresnet34(n_out: int = 1000, **kwargs: Any) -> XResNet:
    """XResNet-34 (basic blocks [3, 4, 6, 3]), randomly initialised."""
    return XResNet(1, [3, 4, 6, 3], n_out=n_out, **kwargs)


def xresnet50(n_out: int = 1000, **kwargs: Any) -> XResNet:
    """XResNet-50 (bottleneck blocks [3, 4, 6, 3]), randomly initialised."""
    return XResNet(4, [3, 4, 6, 3], n_out=n_out, **kwargs)
