"""What every quickstart recipe shares: the device, the metrics file, the pictures and the closing summary."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

__all__ = [
    "Quickstart",
    "QuickstartResult",
    "pick_device",
    "epoch_log",
    "save_picture",
    "table_picture",
    "scatter_picture",
]


def pick_device(cpu: bool) -> torch.device:
    """The first CUDA device unless `cpu` is set or there is none."""
    return torch.device("cuda" if torch.cuda.is_available() and not cpu else "cpu")


def _number(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return None if math.isnan(f) else f


def epoch_log(learn: Any) -> list[dict[str, float | None]]:
    """The recorder's per-epoch values: `[{"epoch": i, "train_loss": ..., "valid_loss": ..., metric: ...}]`."""
    names = [n for n in learn.recorder.metric_names[1:] if n != "time"]
    return [
        {"epoch": i, **{n: _number(v) for n, v in zip(names, values, strict=False)}}
        for i, values in enumerate(learn.recorder.values)
    ]


def save_picture(picture: Any, file: Path, title: str = "") -> Path:
    """Save what a `show_*` call returned: a picture (a pillow image or a tiers `Canvas`, anything with
    `.save(path)`) as it is, a pandas DataFrame (tabular and text data show as tables) drawn as a table."""
    if callable(getattr(picture, "save", None)):
        picture.save(file)
        return file
    if callable(getattr(picture, "itertuples", None)):
        return table_picture(picture, file, title)
    raise TypeError(f"cannot save {type(picture).__name__} as {file.name}: neither a picture nor a table")


def _font() -> Any:
    from PIL import ImageFont

    return ImageFont.load_default()


def table_picture(df: Any, file: Path, title: str = "", max_rows: int = 20, max_width: int = 48) -> Path:
    """A pandas DataFrame drawn as a table (PNG), for applications whose `show_*` give tables (tabular, collab)."""
    from PIL import Image, ImageDraw

    df = df.head(max_rows)
    cols = [str(c) for c in df.columns]
    cells = [[_cell_text(v, max_width) for v in row] for row in df.itertuples(index=False)]
    widths = [max(len(c[:max_width]), *(len(r[j]) for r in cells)) * 7 + 12 for j, c in enumerate(cols)]
    line, top = 16, 22 if title else 4
    img = Image.new("RGB", (max(sum(widths), 200) + 8, top + line * (len(cells) + 1) + 8), "white")
    draw, font = ImageDraw.Draw(img), _font()
    if title:
        draw.text((4, 4), title, fill=(0, 0, 0), font=font)
    x = 4
    for j, c in enumerate(cols):
        draw.text((x + 4, top), c[:max_width], fill=(0, 0, 160), font=font)
        for i, row in enumerate(cells):
            draw.text((x + 4, top + line * (i + 1)), row[j], fill=(0, 0, 0), font=font)
        x += widths[j]
    draw.line([(4, top + line - 2), (x, top + line - 2)], fill=(120, 120, 120))
    img.save(file)
    return file


def _cell_text(v: Any, width: int) -> str:
    text = f"{v:.4g}" if isinstance(v, float) else str(v)
    return text if len(text) <= width else text[: width - 1] + "~"


def scatter_picture(xs: Any, ys: Any, file: Path, xlabel: str, ylabel: str, size: int = 360) -> Path:
    """A scatter plot (PNG) of `ys` against `xs` with the diagonal, drawn with Pillow (no matplotlib)."""
    from PIL import Image, ImageDraw

    xs, ys = [float(v) for v in xs], [float(v) for v in ys]
    lo, hi = min(*xs, *ys), max(*xs, *ys)
    span = (hi - lo) or 1.0
    margin = 40
    img = Image.new("RGB", (size + margin + 10, size + margin + 10), "white")
    draw, font = ImageDraw.Draw(img), _font()

    def at(x: float, y: float) -> tuple[float, float]:
        return margin + (x - lo) / span * size, 10 + size - (y - lo) / span * size

    draw.rectangle([margin, 10, margin + size, 10 + size], outline=(160, 160, 160))
    draw.line([at(lo, lo), at(hi, hi)], fill=(200, 200, 200))
    for x, y in zip(xs, ys, strict=True):
        px, py = at(x, y)
        draw.ellipse([px - 1.5, py - 1.5, px + 1.5, py + 1.5], fill=(30, 80, 200))
    draw.text((margin, size + 20), f"{xlabel} ({lo:.2g} .. {hi:.2g})", fill=(0, 0, 0), font=font)
    draw.text((2, 0), ylabel, fill=(0, 0, 0), font=font)
    img.save(file)
    return file


@dataclass
class QuickstartResult:
    """What a recipe trained and wrote: the headline metric, the files and an input to try `tiers predict` on."""

    app: str
    metric: str
    value: float
    goal: float | None
    epochs: list[dict[str, float | None]]
    files: dict[str, Path] = field(default_factory=dict)
    model: Path | None = None
    predict_inputs: list[str] = field(default_factory=list)
    seconds: float = 0.0
    device: str = "cpu"
    percent: bool = True  # show the metric as a percentage (accuracy, Dice), else as a number (MSE)
    extra: dict[str, float] = field(default_factory=dict)  # more numbers worth a line (e.g. a noise floor)

    @property
    def reached(self) -> bool | None:
        """Whether the headline metric reached the recipe's goal (None when the recipe sets none)."""
        return None if self.goal is None else self.value >= self.goal

    def to_json(self) -> dict[str, Any]:
        return {
            "app": self.app,
            "metric": self.metric,
            "value": self.value,
            "goal": self.goal,
            "reached": self.reached,
            "seconds": round(self.seconds, 2),
            "device": self.device,
            "extra": self.extra,
            "epochs": self.epochs,
            "model": str(self.model) if self.model else None,
        }


@dataclass
class Quickstart:
    """One application's quickstart: `recipe(out, epochs, device)` trains and writes its pictures and model,
    returning a `QuickstartResult`; `run` adds the timing, `metrics.json` and the summary."""

    app: str
    what: str
    default_epochs: int
    recipe: Callable[[Path, int, torch.device], QuickstartResult]

    def run(self, out: Path, epochs: int | None = None, cpu: bool = False) -> QuickstartResult:
        n_epoch = self.default_epochs if epochs is None else epochs
        if n_epoch < 1:
            raise ValueError(f"--epochs must be at least 1, got {n_epoch}")
        out = out.resolve()  # learners resolve relative names against their own path: one absolute folder for all
        out.mkdir(parents=True, exist_ok=True)
        device = pick_device(cpu)
        print(f"tiers quickstart {self.app}: {self.what}; {n_epoch} epoch(s) on {device}; writing to {out}")
        start = time.perf_counter()
        result = self.recipe(out, n_epoch, device)
        result.seconds, result.device = time.perf_counter() - start, str(device)
        metrics = out / "metrics.json"
        metrics.write_text(json.dumps(result.to_json(), indent=2) + "\n")
        result.files["metrics"] = metrics
        return result


def summary(result: QuickstartResult) -> str:
    """The closing lines: the headline metric (the line CI reads), where every file is, what to try next."""

    def show(v: float) -> str:
        return f"{v:.2%}" if result.percent else f"{v:.4f}"

    goal = ""
    if result.goal is not None:
        goal = f" (goal >= {show(result.goal)}: {'reached' if result.reached else 'NOT reached'})"
    lines = [
        f"{result.metric}: {show(result.value)}{goal} after {len(result.epochs)} epoch(s) in {result.seconds:.0f} s",
        *[f"{name}: {value:.4g}" for name, value in result.extra.items()],
        "wrote:",
        *[f"  {name:<18}{path}" for name, path in result.files.items()],
    ]
    if result.model is not None:
        lines.append(f"  {'model':<18}{result.model}")
        args = " ".join(_quote(a) for a in result.predict_inputs)
        lines.append(f"try: tiers predict {_quote(str(result.model))} {args}".rstrip())
    return "\n".join(lines)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
