"""Lighting as one pass: per-item brightness, contrast, saturation and hue composed into one affine colour map.

Every lighting step is affine in the colour values of its space (logit space, as in fastai, or plain
values, as in torchvision), so a chain of them is one map per item,
`y = A @ v + beta + gamma @ mean(v0)`, where `mean(v0)` is the per-channel mean of the input (only
torchvision-style contrast needs it). `lighting_image` applies that map in one fused pass.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from gpu_augment.buffers import empty_batch

__all__ = ["LightingParams", "LIGHTING_SPACES", "lighting_image", "hue_matrix", "saturation_matrix"]

LIGHTING_SPACES = ("logit", "linear")
GRAY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R 601 luma, as torchvision's rgb_to_grayscale
_LOGIT_EPS = 1e-4


@dataclass(frozen=True)
class LightingParams:
    """One lighting draw for a batch: the composed per-item colour map, on the host.

    `matrix` (n, d, d), `bias` (n, d) and `mean_weight` (n, d, d) with d = 3 for colour maps and d = 1
    for maps that treat every channel alike; `space` is "logit" or "linear".
    """

    matrix: torch.Tensor
    bias: torch.Tensor
    mean_weight: torch.Tensor
    space: str

    @property
    def n(self) -> int:
        """Number of items the draw is for."""
        return self.matrix.shape[0]

    def select(self, index: Sequence[int] | torch.Tensor) -> LightingParams:
        """The draw of the items at `index`."""
        i = torch.as_tensor(index, dtype=torch.long)
        return LightingParams(self.matrix[i], self.bias[i], self.mean_weight[i], self.space)

    def identity_items(self) -> torch.Tensor:
        """(n,) bools: items whose map changes nothing."""
        eye = torch.eye(self.matrix.shape[1], dtype=self.matrix.dtype)
        return (
            (self.matrix == eye).flatten(1).all(1) & (self.bias == 0).all(1) & (self.mean_weight == 0).flatten(1).all(1)
        )


def saturation_matrix(s: torch.Tensor) -> torch.Tensor:
    """(n, 3, 3) maps blending each pixel with its grey value: `s * v + (1 - s) * gray(v)`."""
    w = torch.tensor(GRAY_WEIGHTS, dtype=s.dtype)
    eye = torch.eye(3, dtype=s.dtype)
    return s[:, None, None] * eye + (1 - s)[:, None, None] * w.expand(3, 3)


def hue_matrix(turns: torch.Tensor) -> torch.Tensor:
    """(n, 3, 3) rotations of the colour about the grey axis by `turns` of a full circle (a hue shift)."""
    angle = turns.double() * 2 * math.pi
    cos, sin = torch.cos(angle), torch.sin(angle)
    k = 1 / math.sqrt(3)
    # Rodrigues' rotation about the unit axis (1, 1, 1) / sqrt(3)
    eye = torch.eye(3, dtype=torch.float64)
    cross = torch.tensor([[0.0, -k, k], [k, 0.0, -k], [-k, k, 0.0]], dtype=torch.float64)
    outer = torch.full((3, 3), k * k, dtype=torch.float64)
    out = cos[:, None, None] * eye + sin[:, None, None] * cross + (1 - cos)[:, None, None] * outer
    return out.to(turns.dtype)


def _channel_means(x: torch.Tensor, d: int) -> torch.Tensor:
    """(n, d) per-channel means (d = 3) or the mean over all channels (d = 1)."""
    return x.mean((2, 3)) if d == 3 else x.mean((1, 2, 3))[:, None]


def lighting_image(x: torch.Tensor, params: LightingParams) -> torch.Tensor:
    """Apply a lighting draw to a float image batch (n, c, h, w) in [0, 1]: one fused pass, new tensor.

    In logit space: `sigmoid(A @ logit(x) + b)`; in linear space: `clamp(A @ x + b, 0, 1)`. Items whose
    map is the identity come back with their exact input values (copied). The others are computed in place in the
    one output: on a GPU, on several CPU threads and for small batches with a few whole-batch operations (few
    parallel regions), on one CPU thread a large batch item by item (`_light_scalar_items`).
    """
    if not x.is_floating_point():
        raise TypeError(
            f"lighting_image: expected a float image batch in [0, 1], got dtype {x.dtype}; use x.float() / 255"
        )
    if x.ndim != 4:
        raise ValueError(f"lighting_image: expected an image batch (n, c, h, w), got shape {tuple(x.shape)}")
    n, c = x.shape[:2]
    d = params.matrix.shape[1]
    if params.n != n:
        raise ValueError(f"lighting_image: batch of {n} items but the draw is for {params.n}")
    if d == 3 and c != 3:
        raise ValueError(f"lighting_image: saturation and hue need 3 colour channels, got an image with {c}")
    identity = params.identity_items()
    out = empty_batch(x)  # contiguous; a large CPU batch on huge pages
    if bool(identity.all()):
        return out.copy_(x)
    logit = params.space == "logit"
    if logit and _itemwise(x) and _is_scalar_map(params):
        _light_scalar_items(x, out, params.matrix[:, 0, 0].tolist(), params.bias[:, 0].tolist())
        return out
    _light_items(x, out, params, logit)
    for start, stop, same in _runs(identity.tolist()):
        if same:  # identity draws: the exact input values
            out[start:stop] = x[start:stop]
    return out


# A float batch of at least this many bytes, on one CPU thread, is lit item by item (see `_light_scalar_items`).
# Smaller batches, and more threads (every per-item operation a parallel region of its own), use whole-batch
# operations, as `grid._grid_sample` does.
_ITEMWISE_MIN_BYTES = 4 << 20


def _itemwise(x: torch.Tensor) -> bool:
    return (
        x.device.type == "cpu"
        and x.dtype == torch.float32
        and x.numel() * x.element_size() >= _ITEMWISE_MIN_BYTES
        and torch.get_num_threads() == 1
    )


def _is_scalar_map(params: LightingParams) -> bool:
    """Whether every item's map is one scale and one shift for all channels (d = 1, no mean term)."""
    return params.matrix.shape[1] == 1 and not bool((params.mean_weight != 0).any())


def _light_scalar_items(x: torch.Tensor, out: torch.Tensor, scales: list[float], shifts: list[float]) -> None:
    """`sigmoid(scale * logit(x) + shift)` per item into `out`, each item in the fewest in-place passes it needs.

    An identity item is copied. A shift alone (brightness without contrast) needs no logarithm or exponential:
    with t = clamp(x, eps, 1 - eps), sigmoid(logit(t) + b) = 1 / (1 + e^-b (1 / t - 1)) = 1 / (e^-b / t + 1 - e^-b),
    four cheap passes instead of a logit and a sigmoid (same values within float rounding). Any other item: the
    logit into `out`, the scale and shift as scalar operations in place, the sigmoid in place. An item (600 KB at
    3x224x224) stays in the cache between its passes, and no pass allocates.
    """
    for i, (scale, shift) in enumerate(zip(scales, shifts, strict=True)):
        src, dst = x[i], out[i]
        if scale == 1.0 and shift == 0.0:
            dst.copy_(src)
        elif scale == 1.0:
            e = math.exp(-shift)
            torch.clamp(src, _LOGIT_EPS, 1 - _LOGIT_EPS, out=dst)
            dst.reciprocal_().mul_(e).add_(1 - e).reciprocal_()
        else:
            torch.logit(src, _LOGIT_EPS, out=dst)
            dst.mul_(scale)
            if shift != 0.0:
                dst.add_(shift)
            dst.sigmoid_()


def _runs(flags: list[bool]) -> list[tuple[int, int, bool]]:
    """(start, stop, flag) for each run of equal flags."""
    runs: list[tuple[int, int, bool]] = []
    start = 0
    for i in range(1, len(flags) + 1):
        if i == len(flags) or flags[i] != flags[start]:
            runs.append((start, i, flags[start]))
            start = i
    return runs


def _light_items(x: torch.Tensor, out: torch.Tensor, params: LightingParams, logit: bool) -> None:
    """Apply the draw of items `x` into `out` (same shape): the map in place on `out`, then sigmoid or clamp."""
    n, c = x.shape[:2]
    d = params.matrix.shape[1]
    matrix = params.matrix.to(device=x.device, dtype=x.dtype)
    bias = params.bias.to(device=x.device, dtype=x.dtype)
    if logit:
        torch.logit(x, _LOGIT_EPS, out=out)
    else:
        out.copy_(x)
    if (params.mean_weight != 0).any():
        mean_weight = params.mean_weight.to(device=x.device, dtype=x.dtype)
        bias = bias + (mean_weight @ _channel_means(out, d)[..., None])[..., 0]
    scalar = bool((params.matrix == params.matrix[:, :1, :1] * torch.eye(d)).all())
    if scalar:
        # a scale per item and a shift per channel (brightness and contrast together), as two broadcast
        # rows over a (n * c, h * w) view: one pass, in place
        scale = matrix[:, 0, 0].repeat_interleave(c)[:, None]
        shift = bias.expand(n, c).reshape(-1, 1)
        flat = out.view(n * c, -1)
        torch.addcmul(shift, flat, scale, out=flat)
    else:
        out.copy_(torch.baddbmm(bias[..., None], matrix, out.view(n, c, -1)).view_as(x))
    if logit:
        out.sigmoid_()
    else:
        out.clamp_(0, 1)
