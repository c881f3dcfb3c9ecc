"""Small pillow renderers for loss curves, schedules and confusion matrices, so they can go to an image file."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["line_plot", "matrix_image"]

_COLORS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189)]


def _pil() -> Any:
    try:
        from PIL import Image, ImageDraw, ImageFont
    except ImportError as e:  # pragma: no cover - pillow is a declared dependency
        raise ImportError("rendering plots needs pillow: pip install pillow") from e
    return Image, ImageDraw, ImageFont


def _fmt(v: float) -> str:
    return f"{v:.2e}" if v != 0 and (abs(v) < 1e-2 or abs(v) >= 1e4) else f"{v:.3g}"


def _panel(
    draw: Any,
    box: tuple[int, int, int, int],
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    logx: bool,
    font: Any,
    xlabel: str,
    ylabel: str,
) -> None:
    x0, y0, x1, y1 = box
    fx = (lambda v: math.log10(v)) if logx else (lambda v: v)
    pts = [
        (fx(x), y)
        for xs, ys in series.values()
        for x, y in zip(xs, ys, strict=False)
        if math.isfinite(y) and (not logx or x > 0)
    ]
    draw.rectangle(box, outline=(0, 0, 0))
    if not pts:
        draw.text((x0 + 10, y0 + 10), "no data", fill=(0, 0, 0), font=font)
        return
    xmin, xmax = min(p[0] for p in pts), max(p[0] for p in pts)
    ymin, ymax = min(p[1] for p in pts), max(p[1] for p in pts)
    xmax, ymax = (xmax if xmax > xmin else xmin + 1), (ymax if ymax > ymin else ymin + 1)

    def to_px(x: float, y: float) -> tuple[float, float]:
        return x0 + (x - xmin) / (xmax - xmin) * (x1 - x0), y1 - (y - ymin) / (ymax - ymin) * (y1 - y0)

    for k, (name, (xs, ys)) in enumerate(series.items()):
        color = _COLORS[k % len(_COLORS)]
        line = [to_px(fx(x), y) for x, y in zip(xs, ys, strict=False) if math.isfinite(y) and (not logx or x > 0)]
        if len(line) > 1:
            draw.line(line, fill=color, width=2)
        elif line:
            draw.ellipse([line[0][0] - 2, line[0][1] - 2, line[0][0] + 2, line[0][1] + 2], fill=color)
        draw.text((x1 - 90, y0 + 6 + 12 * k), name, fill=color, font=font)
    for t in range(5):
        yv, xv = ymin + (ymax - ymin) * t / 4, xmin + (xmax - xmin) * t / 4
        _, py = to_px(xmin, yv)
        px, _ = to_px(xv, ymin)
        draw.text((4, py - 6), _fmt(yv), fill=(0, 0, 0), font=font)
        draw.text((px - 14, y1 + 4), _fmt(10**xv if logx else xv), fill=(0, 0, 0), font=font)
    draw.text(((x0 + x1) // 2 - 20, y1 + 18), xlabel, fill=(0, 0, 0), font=font)
    draw.text((x0 + 4, y0 - 14), ylabel, fill=(0, 0, 0), font=font)


def line_plot(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    fname: str | Path | None = None,
    xlabel: str = "",
    ylabel: str = "",
    logx: bool = False,
    separate: bool = False,
    size: tuple[int, int] = (640, 400),
) -> Any:
    """Render named `(xs, ys)` series as lines (one panel, or one panel each if `separate`); save to `fname`."""
    image_cls, draw_mod, font_mod = _pil()
    groups = [{k: v} for k, v in series.items()] if separate else [series]
    w, h = size[0], size[1] * len(groups) if separate else size[1]
    img = image_cls.new("RGB", (w, h), "white")
    draw, font = draw_mod.Draw(img), font_mod.load_default()
    ph = h // len(groups)
    for i, group in enumerate(groups):
        label = ylabel if not separate else next(iter(group))
        _panel(draw, (70, i * ph + 24, w - 16, (i + 1) * ph - 40), group, logx, font, xlabel, label)
    if fname is not None:
        img.save(fname)
    return img


def matrix_image(
    matrix: Sequence[Sequence[float]],
    labels: Sequence[str],
    fname: str | Path | None = None,
    title: str = "",
    cell: int = 40,
) -> Any:
    """Render a square matrix (e.g. a confusion matrix; rows: actual, columns: predicted) as a heat map."""
    image_cls, draw_mod, font_mod = _pil()
    n = len(matrix)
    margin = 90
    img = image_cls.new("RGB", (margin + n * cell + 10, margin + n * cell + 10), "white")
    draw, font = draw_mod.Draw(img), font_mod.load_default()
    top = max((max(row) for row in matrix), default=1) or 1
    for i, row in enumerate(matrix):
        for j, v in enumerate(row):
            shade = int(255 - 200 * v / top)
            x, y = margin + j * cell, margin + i * cell
            draw.rectangle([x, y, x + cell, y + cell], fill=(shade, shade, 255), outline=(200, 200, 200))
            draw.text((x + 4, y + cell // 3), f"{v:g}", fill=(0, 0, 0) if shade > 128 else (255, 255, 255), font=font)
    for k, name in enumerate(labels):
        draw.text((4, margin + k * cell + cell // 3), str(name)[:12], fill=(0, 0, 0), font=font)
        draw.text((margin + k * cell + 2, margin - 14), str(name)[:6], fill=(0, 0, 0), font=font)
    draw.text((4, 4), title or "actual (rows) vs predicted (columns)", fill=(0, 0, 0), font=font)
    if fname is not None:
        img.save(fname)
    return img
