"""`tiers predict` for text classifiers: strings, or `.txt` files (each file one text) -> label and probability."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tiers.predict import PredictError

__all__ = ["read_texts", "predict"]


def read_texts(inputs: Sequence[str]) -> list[tuple[str, str]]:
    """(name, text) per input: a `.txt` file is read (UTF-8), any other argument is the text itself."""
    texts = []
    for text in inputs:
        p = Path(text)
        if p.suffix.lower() == ".txt":
            if not p.is_file():
                raise PredictError(f"{p}: no such file")
            try:
                texts.append((str(p), p.read_text(encoding="utf-8")))
            except UnicodeDecodeError:
                raise PredictError(f"{p}: not UTF-8 text") from None
        else:
            texts.append((repr(text if len(text) <= 60 else text[:57] + "..."), text))
    return texts


def predict(learn: Any, inputs: Sequence[str], out: Path) -> list[dict[str, Any]]:  # noqa: ARG001 (no picture)
    """Classify each text; print `name: label (probability)`."""
    rows = []
    for name, text in read_texts(inputs):
        label, idx, probs = learn.predict(text)
        prob = float(probs[int(idx)])
        rows.append({"input": name, "label": str(label), "probability": prob})
        print(f"{name}: {label} ({prob:.1%})")
    return rows
