"""Deciding which columns of a DataFrame are continuous and which categorical."""

from __future__ import annotations

import pandas as pd

__all__ = ["cont_cat_split"]


def cont_cat_split(df: pd.DataFrame, max_card: int = 20, dep_var: str | None = None) -> tuple[list[str], list[str]]:
    """Split the columns of `df` (except `dep_var`) into (continuous, categorical) names.

    A column is continuous when it is a float, or an integer with more than `max_card`
    distinct values; everything else (strings, categories, booleans, small ints) is categorical.
    """
    cont, cat = [], []
    for name in df.columns:
        if name == dep_var:
            continue
        col = df[name]
        is_float = pd.api.types.is_float_dtype(col)
        is_big_int = pd.api.types.is_integer_dtype(col) and col.nunique() > max_card
        (cont if is_float or is_big_int else cat).append(name)
    return cont, cat
