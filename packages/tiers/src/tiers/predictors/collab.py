"""`tiers predict` for collaborative filtering: a CSV of (user, item) pairs -> the predicted rating of each."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tiers.predict import PredictError
from tiers.predictors.tabular import read_rows

__all__ = ["predict"]


def predict(learn: Any, inputs: Sequence[str], out: Path) -> list[dict[str, Any]]:  # noqa: ARG001 (no picture)
    """Predict the rating of each (user, item) row; users or items unseen in training follow apps-tabular's policy
    (their embedding is the unknown one, so the prediction rests on the other side)."""
    tab = getattr(learn.dls, "tabular", None)
    if tab is None:
        raise PredictError("the exported data carry no ratings description (dls.tabular)")
    (user, item), (rating,) = list(tab.cat_names)[:2], list(tab.y_names)
    df = read_rows(inputs, [user, item])
    rows = []
    for i in range(len(df)):
        pair = df.iloc[i][[user, item]]
        full, pred, _ = learn.predict(pair)
        value = float(pred.reshape(-1)[0]) if hasattr(pred, "reshape") else float(full[rating])
        rows.append({user: pair[user], item: pair[item], rating: value})
        print(f"{user} {pair[user]}, {item} {pair[item]}: {rating} {value:.3f}")
    return rows
