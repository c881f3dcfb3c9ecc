"""Pooling and flattening: `AdaptiveConcatPool2d` (max and average side by side) and `Flatten`."""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = ["AdaptiveConcatPool2d", "Flatten"]


class AdaptiveConcatPool2d(nn.Module):
    """Adaptive max pooling and adaptive average pooling to `size`, concatenated on the channel axis in that
    order (max first, as fastai), so a head sees twice the body's features."""

    config_safe = True

    def __init__(self, size: int | tuple[int, int] | None = None) -> None:
        super().__init__()
        self.size = size or 1
        self.ap = nn.AdaptiveAvgPool2d(self.size)
        self.mp = nn.AdaptiveMaxPool2d(self.size)
        self.config = {"size": list(size) if isinstance(size, tuple) else size}

    def forward(self, x: Tensor) -> Tensor:
        return torch.cat([self.mp(x), self.ap(x)], 1)


class Flatten(nn.Module):
    """Flatten all axes but the batch axis, or every axis when `full` (fastai's `Flatten`)."""

    config_safe = True

    def __init__(self, full: bool = False) -> None:
        super().__init__()
        self.full = full
        self.config = {"full": full}

    def forward(self, x: Tensor) -> Tensor:
        return x.reshape(-1) if self.full else x.reshape(x.size(0), -1)

    def extra_repr(self) -> str:
        return f"full={self.full}"
