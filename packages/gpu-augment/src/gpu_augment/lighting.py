"""Lighting transforms: `Brightness`, `Contrast`, `Saturation`, `Hue`, composed by `LightingTfm` into one pass.

`space="logit"` works as fastai does (brightness shifts and contrast scales the logit of the pixel
values, so results stay in (0, 1) without clipping); `space="linear"` follows torchvision's definitions
(brightness multiplies, contrast blends with the image's mean grey, then values are clamped to [0, 1]).
Saturation blends with each pixel's grey value and hue turns the colour about the grey axis, in either space.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from gpu_augment.color import (
    GRAY_WEIGHTS,
    LIGHTING_SPACES,
    LightingParams,
    hue_matrix,
    lighting_image,
    saturation_matrix,
)
from gpu_augment.draws import BatchRandTransform, batch_geometry, bernoulli, uniform
from typedtensor import TensorImage

__all__ = ["LightingTfm", "Brightness", "Contrast", "Saturation", "Hue"]

# A drawn step: (kind, per-item values). Kinds: "scale" (n,), "shift" (n,), "blend_mean" (n,), "color" (n, 3, 3).
Step = tuple[str, torch.Tensor]
_NEUTRAL = {"scale": 1.0, "shift": 0.0, "blend_mean": 1.0}


def _compose(steps: Sequence[Step], n: int, d: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fold the steps into y = A v + beta + gamma mean(v0), all on the host in float64."""
    a = torch.eye(d, dtype=torch.float64).expand(n, d, d).clone()
    beta = torch.zeros(n, d, dtype=torch.float64)
    gamma = torch.zeros(n, d, d, dtype=torch.float64)
    w = torch.tensor(GRAY_WEIGHTS if d == 3 else (1.0,), dtype=torch.float64)
    to_gray = torch.ones(d, 1, dtype=torch.float64) @ w[None]  # (d, d): every channel gets the grey value
    for kind, v in steps:
        v = v.double()
        if kind == "scale":
            a, beta, gamma = a * v[:, None, None], beta * v[:, None], gamma * v[:, None, None]
        elif kind == "shift":
            beta = beta + v[:, None]
        elif kind == "blend_mean":
            c = v[:, None, None]
            gamma = c * gamma + (1 - c) * (to_gray @ (a + gamma))
            beta = v[:, None] * beta + (1 - v[:, None]) * (beta @ to_gray.T)
            a = c * a
        else:  # "color"
            a, beta, gamma = v @ a, (v @ beta[..., None])[..., 0], v @ gamma
    return a.float(), beta.float(), gamma.float()


def _channels(x: Any) -> int | None:
    for e in x if isinstance(x, tuple | list) else (x,):
        if isinstance(e, TensorImage):
            if e.ndim != 4:
                raise ValueError(f"lighting: expected an image batch (n, c, h, w), got shape {tuple(e.shape)}")
            return int(e.shape[1])
    return None


class LightingTfm(BatchRandTransform):
    """Compose lighting steps (`tfms`: Brightness, Contrast, Saturation, Hue) into one map and one pass per batch.

    Only images change; masks, points and boxes pass through. `p` is the probability per item.
    """

    config_safe = True  # its subclasses too: an export may name them (plain arguments only)

    order = 40

    def __init__(
        self,
        tfms: Sequence[LightingTfm] = (),
        *,
        space: str = "logit",
        p: float = 1.0,
        batch: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p=p, batch=batch, generator=generator)
        if space not in LIGHTING_SPACES:
            raise ValueError(f"{type(self).__name__}: space must be one of {LIGHTING_SPACES}, got {space!r}")
        for i, t in enumerate(tfms):
            if not isinstance(t, LightingTfm):
                raise TypeError(f"{type(self).__name__}: tfms[{i}] must be a LightingTfm, got {t!r}")
        self.tfms = list(tfms)
        self.space = space

    def needs_color(self) -> bool:
        """Whether a step mixes colour channels (saturation, hue): then the image needs 3 channels."""
        return any(t.needs_color() for t in self.tfms)

    def draw_steps(self, n: int, generator: torch.Generator, space: str) -> list[Step]:
        """This transform's steps for `n` items in `space`, each masked by its part's `p`."""
        steps: list[Step] = []
        for t in self.tfms:
            for kind, v in t.draw_steps(n, generator, space):
                apply = bernoulli(n, t.p, generator, t.batch)
                if kind == "color":
                    v = torch.where(apply[:, None, None], v, torch.eye(3, dtype=v.dtype))
                else:
                    v = torch.where(apply, v, _NEUTRAL[kind])
                steps.append((kind, v))
        return steps

    def __call__(self, x: Any, split_idx: int | None = None, *, params: Any = None) -> Any:
        """Lighting changes images only: an input without a `TensorImage` (a mask, points or boxes alone) comes
        back unchanged, without a draw; otherwise as `RandTransform.__call__`."""
        if _channels(x) is None:
            return x
        return super().__call__(x, split_idx, params=params)

    def draw(self, x: Any, generator: torch.Generator) -> LightingParams:
        """Draw each step per item and fold them into one colour map per item."""
        n, _ = batch_geometry(x, type(self).__name__)
        channels = _channels(x)
        d = 3 if channels == 3 and (self.needs_color() or self.space == "linear") else 1
        if self.needs_color() and d != 3:
            raise ValueError(f"{type(self).__name__}: saturation and hue need 3 colour channels, got {channels}")
        steps = self.draw_steps(n, generator, self.space)
        apply = bernoulli(n, self.p, generator, self.batch)
        a, beta, gamma = _compose(steps, n, d)
        eye = torch.eye(d)
        a = torch.where(apply[:, None, None], a, eye)
        beta = torch.where(apply[:, None], beta, 0.0)
        gamma = torch.where(apply[:, None, None], gamma, 0.0)
        return LightingParams(a, beta, gamma, self.space)


@LightingTfm.encodes.dispatch
def _lighting_image(self: LightingTfm, x: TensorImage) -> TensorImage:
    return TensorImage.wrap(lighting_image(x.as_subclass(torch.Tensor), self.params), like=x)


def _log_uniform(n: int, max_lighting: float, generator: torch.Generator, batch: bool) -> torch.Tensor:
    """Factors whose log is uniform in [log(1 - L), -log(1 - L)] (fastai's contrast and saturation draws)."""
    bound = -math.log(1 - max_lighting)
    return torch.exp(uniform(n, -bound, bound, generator, batch))


class _LightingStep(LightingTfm):
    """One lighting step with strength `max_lighting`; usable alone or inside `LightingTfm(tfms=...)`."""

    color = False  # whether the step mixes colour channels

    def __init__(self, max_lighting: float = 0.2, p: float = 0.75, *, space: str = "logit", **kwargs: Any) -> None:
        if not 0 <= max_lighting < 1:
            raise ValueError(f"{type(self).__name__}: max_lighting must be in [0, 1), got {max_lighting}")
        super().__init__(space=space, p=p, **kwargs)
        self.max_lighting = float(max_lighting)

    def needs_color(self) -> bool:
        """Whether this step mixes colour channels."""
        return self.color

    def draw(self, x: Any, generator: torch.Generator) -> LightingParams:
        """Draw this step alone (`p` applies per item)."""
        composite = LightingTfm([self], space=self.space)
        return composite.draw(x, generator)

    def steps(self, n: int, generator: torch.Generator, space: str) -> list[Step]:
        """The unmasked per-item steps of this transform."""
        raise NotImplementedError(f"{type(self).__name__} must define steps(n, generator, space)")

    def draw_steps(self, n: int, generator: torch.Generator, space: str) -> list[Step]:
        """The per-item steps (the owner masks them by `p`)."""
        return self.steps(n, generator, space)


class Brightness(_LightingStep):
    """Change brightness: logit space adds logit(u), u uniform in 0.5 * (1 -+ max_lighting); linear multiplies
    by a factor uniform in 1 -+ max_lighting."""

    def steps(self, n: int, generator: torch.Generator, space: str) -> list[Step]:
        """A shift (logit) or a scale (linear) per item."""
        lo, hi = 1 - self.max_lighting, 1 + self.max_lighting
        if space == "logit":
            return [("shift", torch.logit(uniform(n, 0.5 * lo, 0.5 * hi, generator, self.batch).double()))]
        return [("scale", uniform(n, lo, hi, generator, self.batch))]


class Contrast(_LightingStep):
    """Change contrast: logit space scales the logit by a log-uniform factor in [1 - L, 1 / (1 - L)]; linear blends
    with the image's mean grey by a factor uniform in 1 -+ max_lighting."""

    def steps(self, n: int, generator: torch.Generator, space: str) -> list[Step]:
        """A scale (logit) or a blend with the mean (linear) per item."""
        if space == "logit":
            return [("scale", _log_uniform(n, self.max_lighting, generator, self.batch))]
        return [("blend_mean", uniform(n, 1 - self.max_lighting, 1 + self.max_lighting, generator, self.batch))]


class Saturation(_LightingStep):
    """Change saturation: blend each pixel with its grey value by a factor log-uniform in [1 - L, 1 / (1 - L)]."""

    color = True

    def steps(self, n: int, generator: torch.Generator, space: str) -> list[Step]:  # noqa: ARG002
        """A colour matrix per item."""
        return [("color", saturation_matrix(_log_uniform(n, self.max_lighting, generator, self.batch)))]


class Hue(_LightingStep):
    """Shift hue: turn the colour about the grey axis by a fraction of a turn uniform in [-max_hue, max_hue]."""

    color = True

    def __init__(self, max_hue: float = 0.1, p: float = 0.75, *, space: str = "logit", **kwargs: Any) -> None:
        super().__init__(max_lighting=0.0, p=p, space=space, **kwargs)
        if not 0 <= max_hue <= 0.5:
            raise ValueError(f"Hue: max_hue must be in [0, 0.5] turns, got {max_hue}")
        self.max_hue = float(max_hue)

    def steps(self, n: int, generator: torch.Generator, space: str) -> list[Step]:  # noqa: ARG002
        """A colour rotation per item."""
        return [("color", hue_matrix(uniform(n, -self.max_hue, self.max_hue, generator, self.batch)))]
