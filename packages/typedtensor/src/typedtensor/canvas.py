"""A Pillow canvas that typed tensors draw themselves on, layer after layer.

Drawing is pixel-exact on the canvas (one canvas pixel per image pixel); `to_pil(scale=...)`
enlarges for viewing. A title is kept apart from the picture and rendered as a band above it.
"""

from __future__ import annotations

import io
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

__all__ = ["Canvas", "PALETTE", "color_for", "show_images"]

Color = tuple[int, int, int]

# Distinct, saturated colours; class code / box index i uses PALETTE[(i - 1) % len] (code 0 is background).
PALETTE: tuple[Color, ...] = (
    (230, 25, 75),
    (60, 180, 75),
    (255, 225, 25),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (70, 240, 240),
    (240, 50, 230),
    (210, 245, 60),
    (250, 190, 212),
)


def color_for(i: int) -> Color:
    """The palette colour of class code or item `i` (>= 1)."""
    return PALETTE[(int(i) - 1) % len(PALETTE)]


class Canvas:
    """An RGB picture plus an optional title; saves to PNG and displays inline in Jupyter.

    Typed tensors draw on it with `x.show(ctx=canvas)`, which returns the canvas so calls chain.
    """

    def __init__(self, height: int, width: int, *, background: Color = (0, 0, 0)) -> None:
        if height < 0 or width < 0:
            raise ValueError(f"Canvas: height and width must be >= 0, got {(height, width)}")
        self.image: Image.Image = Image.new("RGB", (int(width), int(height)), background)
        self.title: str | None = None

    @classmethod
    def from_array(cls, rgb: np.ndarray) -> Canvas:
        """A canvas holding an (H, W, 3) uint8 array."""
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f"Canvas.from_array: expected an (H, W, 3) uint8 array, got {rgb.shape} {rgb.dtype}")
        canvas = cls(0, 0)
        canvas.image = Image.fromarray(np.ascontiguousarray(rgb), "RGB")
        return canvas

    @property
    def size(self) -> tuple[int, int]:
        """(height, width) of the picture in pixels."""
        return (self.image.height, self.image.width)

    @property
    def is_empty(self) -> bool:
        """True for a picture of no pixels (e.g. a title-only canvas); the first picture drawn sets its size."""
        return self.image.width == 0 or self.image.height == 0

    def resize_blank(self, height: int, width: int, background: Color = (0, 0, 0)) -> Canvas:
        """Replace an empty picture by a blank one of (height, width), keeping the title; returns self."""
        if not self.is_empty:
            raise ValueError(f"Canvas.resize_blank: the canvas already holds a {self.size} picture")
        self.image = Image.new("RGB", (int(width), int(height)), background)
        return self

    def to_array(self) -> np.ndarray:
        """The picture as an (H, W, 3) uint8 array (a copy)."""
        return np.array(self.image, dtype=np.uint8).reshape(self.image.height, self.image.width, 3)

    def draw(self) -> ImageDraw.ImageDraw:
        """A Pillow drawing context on the picture."""
        return ImageDraw.Draw(self.image)

    def to_pil(self, scale: int = 1) -> Image.Image:
        """The picture enlarged `scale` times (nearest neighbour), with the title as a band above it."""
        pic = self.image
        if scale != 1:
            pic = pic.resize((pic.width * scale, pic.height * scale), Image.Resampling.NEAREST)
        if not self.title:
            return pic.copy()
        font = ImageFont.load_default()
        left, top, right, bottom = ImageDraw.Draw(pic).multiline_textbbox((0, 0), self.title, font=font)
        band = int(bottom - top) + 6
        out = Image.new("RGB", (max(pic.width, int(right - left) + 6), pic.height + band), (255, 255, 255))
        ImageDraw.Draw(out).multiline_text((3, 3 - top), self.title, fill=(0, 0, 0), font=font)
        out.paste(pic, (0, band))
        return out

    def save(self, path: str | os.PathLike[str], scale: int = 1) -> Path:
        """Write the canvas (picture and title) as a PNG file and return its path."""
        path = Path(path)
        self.to_pil(scale).save(path, format="PNG")
        return path

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        pic = self.to_pil(scale=max(1, 128 // max(1, min(self.size))) if min(self.size) else 1)
        pic.save(buf, format="PNG")
        return buf.getvalue()

    def __repr__(self) -> str:
        return f"Canvas(height={self.size[0]}, width={self.size[1]}, title={self.title!r})"


def image_to_rgb(t: torch.Tensor, owner: str) -> np.ndarray:
    """A single (C, H, W) or (H, W) image tensor as an (H, W, 3) uint8 array (floats are read as [0, 1])."""
    x = t.detach().to("cpu")
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3 or x.shape[0] not in (1, 3, 4):
        raise ValueError(
            f"{owner}.show: expected one image of shape (C, H, W) with C in 1, 3, 4 or (H, W), "
            f"got {tuple(t.shape)}; use show_images for a batch"
        )
    x = x[:3]
    if x.dtype == torch.bool:
        x = x.to(torch.uint8) * 255
    elif x.dtype.is_floating_point:
        x = (x.float().clamp(0, 1) * 255).round()
    x = x.clamp(0, 255).to(torch.uint8)
    if x.shape[0] == 1:
        x = x.expand(3, -1, -1)
    return x.permute(1, 2, 0).contiguous().numpy()


def blend_mask(canvas: Canvas, mask: torch.Tensor, alpha: float, owner: str) -> None:
    """Overlay non-zero codes of an (H, W) mask in their palette colours; code-0 pixels stay untouched."""
    m = mask.detach().to("cpu")
    if m.ndim == 3 and m.shape[0] == 1:
        m = m[0]
    if m.ndim != 2:
        raise ValueError(f"{owner}.show: expected one mask of shape (H, W) or (1, H, W), got {tuple(mask.shape)}")
    if (m.shape[0], m.shape[1]) != canvas.size:
        raise ValueError(f"{owner}.show: mask is {tuple(m.shape)} but the canvas is {canvas.size} (height, width)")
    codes = m.to(torch.int64).numpy()
    base = canvas.to_array().astype(np.float32)
    colors = np.array(PALETTE, dtype=np.float32)[(codes - 1) % len(PALETTE)]
    on = (codes != 0)[..., None]
    mixed = np.where(on, (1 - alpha) * base + alpha * colors, base)
    canvas.image = Image.fromarray(np.rint(mixed).astype(np.uint8), "RGB")


def draw_points(canvas: Canvas, pts: torch.Tensor, color: Color, radius: int) -> None:
    """Dots at x, y pixel positions: the pixel (floor x, floor y) and its `radius` neighbourhood."""
    xy = pts.detach().to("cpu", torch.float64).reshape(-1, 2).tolist()
    draw = canvas.draw()
    for x, y in xy:
        if not (math.isfinite(x) and math.isfinite(y)):
            continue
        px, py = math.floor(x), math.floor(y)
        if radius <= 0:
            draw.point((px, py), fill=color)
        else:
            draw.ellipse([px - radius, py - radius, px + radius, py + radius], fill=color)


def draw_boxes(
    canvas: Canvas,
    boxes: torch.Tensor,
    labels: Sequence[str] | None,
    color: Color | None,
    width: int,
) -> None:
    """Rectangles whose edge pixels cover [floor x1, ceil x2 - 1] x [floor y1, ceil y2 - 1], with labels."""
    b = boxes.detach().to("cpu", torch.float64).reshape(-1, 4).tolist()
    if labels is not None and len(labels) != len(b):
        raise ValueError(f"TensorBBox.show: got {len(labels)} labels for {len(b)} boxes")
    draw = canvas.draw()
    font = ImageFont.load_default()
    for i, (x1, y1, x2, y2) in enumerate(b):
        c = color or color_for(i + 1)
        left, top = math.floor(min(x1, x2)), math.floor(min(y1, y2))
        right, bottom = math.ceil(max(x1, x2)) - 1, math.ceil(max(y1, y2)) - 1
        draw.rectangle([left, top, max(left, right), max(top, bottom)], outline=c, width=width)
        if labels is not None and labels[i]:
            _caption(draw, str(labels[i]), (left, top), c, font)


def _caption(draw: ImageDraw.ImageDraw, text: str, at: tuple[int, int], color: Color, font: Any) -> None:
    """`text` on a box filled with `color` just above `at` (inside the picture when there is no room above), in
    black or white, whichever reads better on that fill: readable on any background."""
    x0, y0, x1, y1 = draw.textbbox((0, 0), text, font=font)
    tw, th = x1 - x0 + 2, y1 - y0 + 2
    left = at[0]
    top = at[1] - th if at[1] - th >= 0 else at[1]  # Pillow types the text box in floats
    draw.rectangle([left, top, left + tw - 1, top + th - 1], fill=color)
    luminance = 0.299 * color[0] + 0.587 * color[1] + 0.114 * color[2]
    ink = (0, 0, 0) if luminance > 140 else (255, 255, 255)
    draw.text((left + 1 - x0, top + 1 - y0), text, fill=ink, font=font)


def show_images(
    items: Sequence[Any],
    ncols: int = 4,
    titles: Sequence[str | None] | None = None,
    *,
    pad: int = 4,
    scale: int = 1,
) -> Canvas:
    """A grid of pictures: each item is a typed tensor or a tuple of them layered in order (image, mask, ...).

    `titles` override the items' own titles. Returns one canvas holding the whole grid.
    """
    if titles is not None and len(titles) != len(items):
        raise ValueError(f"show_images: got {len(titles)} titles for {len(items)} items")
    if ncols < 1:
        raise ValueError(f"show_images: ncols must be >= 1, got {ncols}")
    cells = []
    for i, item in enumerate(items):
        layers = item if isinstance(item, (tuple, list)) else (item,)
        ctx = None
        for layer in layers:
            if not hasattr(layer, "show"):
                raise TypeError(f"show_images: item {i} holds a {type(layer).__name__}, which cannot show itself")
            ctx = layer.show(ctx=ctx)
        if ctx is None:
            raise ValueError(f"show_images: item {i} is empty")
        if titles is not None and titles[i] is not None:
            ctx.title = titles[i]
        cells.append(ctx.to_pil(scale))
    if not cells:
        return Canvas(0, 0, background=(255, 255, 255))
    nrows = math.ceil(len(cells) / ncols)
    ncols = min(ncols, len(cells))
    cell_w = max(c.width for c in cells)
    cell_h = max(c.height for c in cells)
    grid = Canvas(nrows * (cell_h + pad) + pad, ncols * (cell_w + pad) + pad, background=(255, 255, 255))
    for i, cell in enumerate(cells):
        r, c = divmod(i, ncols)
        grid.image.paste(cell, (pad + c * (cell_w + pad), pad + r * (cell_h + pad)))
    return grid
