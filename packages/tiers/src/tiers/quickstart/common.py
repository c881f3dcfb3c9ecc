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

__all__ = ["Quickstart", "QuickstartResult", "pick_device", "epoch_log", "save_picture"]


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


def save_picture(picture: Any, file: Path) -> Path:
    """Save what a `show_*` call returned (a pillow image or a tiers `Canvas`: anything with `.save(path)`)."""
    if not callable(getattr(picture, "save", None)):
        raise TypeError(f"cannot save {type(picture).__name__} as {file.name}: it has no save(path)")
    picture.save(file)
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
        "wrote:",
        *[f"  {name:<16}{path}" for name, path in result.files.items()],
    ]
    if result.model is not None:
        lines.append(f"  {'model':<16}{result.model}")
        args = " ".join(_quote(a) for a in result.predict_inputs)
        lines.append(f"try: tiers predict {_quote(str(result.model))} {args}".rstrip())
    return "\n".join(lines)


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)
