"""`tiers predict` for tabular learners: a CSV of rows (the training columns; the target may be absent) -> the
prediction for each row (the class and its probability, or the value)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from tiers.predict import PredictError

__all__ = ["read_rows", "predict"]


def read_rows(inputs: Sequence[str], needed: Sequence[str]) -> pd.DataFrame:
    """The rows of every CSV named, checked to hold the `needed` columns (data, never code: `pandas.read_csv`)."""
    frames = []
    for text in inputs:
        p = Path(text)
        if not p.is_file():
            raise PredictError(f"{p}: no such file (expected a CSV of rows)")
        try:
            df = pd.read_csv(p)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
            raise PredictError(f"{p}: not a readable CSV ({str(e).splitlines()[0]})") from None
        missing = [c for c in needed if c not in df.columns]
        if missing:
            raise PredictError(
                f"{p}: lacks the column(s) {missing} the model was trained on (it has {list(df.columns)})"
            )
        frames.append(df)
    return pd.concat(frames, ignore_index=True)


def _columns(learn: Any) -> tuple[list[str], list[str]]:
    tab = getattr(learn.dls, "tabular", None)
    if tab is None:
        raise PredictError("the exported data carry no table description (dls.tabular)")
    return [*tab.cat_names, *tab.cont_names], list(tab.y_names)


def _describe(pred: Any, probs: Any, y_names: Sequence[str], full: Any) -> str:
    parts = []
    for n in y_names:
        parts.append(f"{n} = {full[n]}")
    if probs is not None and torch.is_tensor(probs) and probs.is_floating_point() and probs.ndim == 1:
        if torch.is_tensor(pred) and pred.ndim == 0 and not pred.is_floating_point() and len(probs) > 1:
            parts.append(f"({float(probs[int(pred)]):.1%})")
    return " ".join(parts)


def predict(learn: Any, inputs: Sequence[str], out: Path) -> list[dict[str, Any]]:  # noqa: ARG001 (no picture)
    """Predict each row of the CSV(s); print `row i: <target> = <prediction> (probability)`."""
    x_names, y_names = _columns(learn)
    # FillMissing's `<col>_na` indicators are computed from the column, not read
    needed = [c for c in x_names if not c.endswith("_na")]
    df = read_rows(inputs, needed)
    rows = []
    for i in range(len(df)):
        full, pred, probs = learn.predict(df.iloc[i])
        line = _describe(pred, probs, y_names, full)
        rows.append({"row": i, **{n: full[n] for n in y_names}})
        print(f"row {i}: {line}")
    return rows
