"""`RandomErasing`: replace random rectangles of each image with noise, batched (no loop over items)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from gpu_augment.draws import BatchRandTransform, batch_geometry, bernoulli
from typedtensor import TensorImage

__all__ = ["RandomErasing", "ErasingParams", "erase_image"]


@dataclass(frozen=True)
class ErasingParams:
    """Per-item rectangles as fractions of the canvas, (n, max_count, 4) x1, y1, x2, y2; `active` (n, max_count)
    says which are erased; `seed` seeds the noise, drawn on the batch's device for the `n_drawn` items of the
    draw, of which these are the items `index` (so a replay on part of the batch erases with the same noise)."""

    boxes: torch.Tensor
    active: torch.Tensor
    seed: int
    index: torch.Tensor
    n_drawn: int

    def select(self, index: Sequence[int] | torch.Tensor) -> ErasingParams:
        """The draw of the items at `index`."""
        i = torch.as_tensor(index, dtype=torch.long)
        return ErasingParams(self.boxes[i], self.active[i], self.seed, self.index[i], self.n_drawn)


def erase_image(x: torch.Tensor, params: ErasingParams) -> torch.Tensor:
    """Fill the active rectangles of each image with standard normal noise (new tensor)."""
    if not x.is_floating_point():
        raise TypeError(f"erase_image: expected a float image batch, got dtype {x.dtype}; use x.float() / 255")
    if x.ndim != 4 or x.shape[0] != params.boxes.shape[0]:
        raise ValueError(
            f"erase_image: expected a batch of {params.boxes.shape[0]} images (n, c, h, w), got {tuple(x.shape)}"
        )
    if not bool(params.active.any()):
        return x.clone()
    height, width = x.shape[-2:]
    boxes = params.boxes.to(x.device)
    scale = torch.tensor([width, height, width, height], device=x.device, dtype=boxes.dtype)
    px = (boxes * scale).round()  # whole pixels, as (n, k, 4)
    cols = torch.arange(width, device=x.device)
    rows = torch.arange(height, device=x.device)
    inside_x = (cols >= px[..., 0:1]) & (cols < px[..., 2:3])  # (n, k, w)
    inside_y = (rows >= px[..., 1:2]) & (rows < px[..., 3:4])  # (n, k, h)
    active = params.active.to(x.device)[..., None, None]
    region = (inside_y[..., :, None] & inside_x[..., None, :] & active).any(1)  # (n, h, w)
    generator = torch.Generator(device=x.device).manual_seed(params.seed)
    noise = torch.randn((params.n_drawn, *x.shape[1:]), generator=generator, device=x.device, dtype=x.dtype)
    if params.index.shape[0] != params.n_drawn or bool((params.index != torch.arange(params.n_drawn)).any()):
        noise = noise[params.index.to(x.device)]
    return torch.where(region[:, None], noise, x)


class RandomErasing(BatchRandTransform):
    """Erase 1..`max_count` rectangles per item (area fraction in [sl, sh], aspect log-uniform in
    [min_aspect, 1 / min_aspect]) with probability `p`, filling them with noise; after `Normalize` (order 100)."""

    config_safe = True  # its subclasses too: an export may name them (plain arguments only)

    order = 100

    def __init__(
        self,
        p: float = 0.5,
        sl: float = 0.0,
        sh: float = 0.3,
        min_aspect: float = 0.3,
        max_count: int = 1,
        *,
        batch: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__(p=p, batch=batch, generator=generator)
        if not 0 <= sl <= sh <= 1:
            raise ValueError(f"RandomErasing: need 0 <= sl <= sh <= 1, got sl={sl}, sh={sh}")
        if not 0 < min_aspect <= 1:
            raise ValueError(f"RandomErasing: min_aspect must be in (0, 1], got {min_aspect}")
        if not isinstance(max_count, int) or max_count < 1:
            raise ValueError(f"RandomErasing: max_count must be a positive int, got {max_count!r}")
        self.sl, self.sh, self.min_aspect, self.max_count = float(sl), float(sh), float(min_aspect), max_count

    def draw(self, x: Any, generator: torch.Generator) -> ErasingParams:
        """Rectangles, how many of them are active per item, and a noise seed."""
        n, (height, width) = batch_geometry(x, "RandomErasing")
        k = self.max_count
        shape = (1 if self.batch else n, k)
        area = self.sl + (self.sh - self.sl) * torch.rand(shape, generator=generator, dtype=torch.float64)
        bound = -math.log(self.min_aspect)
        aspect = torch.exp(bound * (2 * torch.rand(shape, generator=generator, dtype=torch.float64) - 1))
        # fractions of the canvas, so that the erased area in pixels is area * h * w
        wf = torch.sqrt(area * aspect * height / width).clamp(max=1)
        hf = torch.sqrt(area / aspect * width / height).clamp(max=1)
        left = (1 - wf) * torch.rand(shape, generator=generator, dtype=torch.float64)
        top = (1 - hf) * torch.rand(shape, generator=generator, dtype=torch.float64)
        boxes = torch.stack([left, top, left + wf, top + hf], -1).float().expand(n, k, 4)
        count = torch.randint(1, k + 1, (shape[0],), generator=generator).expand(n)
        active = (torch.arange(k) < count[:, None]) & bernoulli(n, self.p, generator, self.batch)[:, None]
        seed = int(torch.randint(0, 2**62, (1,), generator=generator))
        return ErasingParams(boxes.clone(), active, seed, torch.arange(n), n)


@RandomErasing.encodes.dispatch
def _erase_image(self: RandomErasing, x: TensorImage) -> TensorImage:
    return TensorImage.wrap(erase_image(x.as_subclass(torch.Tensor), self.params), like=x)
