"""Column helpers: which columns are continuous or categorical, smaller dtypes, date features."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "cont_cat_split",
    "df_shrink",
    "df_shrink_dtypes",
    "make_date",
    "add_datepart",
    "add_elapsed_times",
]


def cont_cat_split(df: pd.DataFrame, max_card: int = 20, dep_var: str | None = None) -> tuple[list[str], list[str]]:
    """Split the columns of `df` (except `dep_var`) into (continuous, categorical) names.

    A column is continuous when it is a float, or an integer with more than `max_card`
    distinct values; everything else (strings, categories, booleans, small ints) is categorical.
    """
    cont: list[str] = []
    cat: list[str] = []
    for name in df.columns:
        if name == dep_var:
            continue
        col = df[name]
        is_float = pd.api.types.is_float_dtype(col)
        is_big_int = pd.api.types.is_integer_dtype(col) and col.nunique() > max_card
        (cont if is_float or is_big_int else cat).append(name)
    return cont, cat


_EXCLUDED = ("category", "bool", "boolean")


def _smallest(dtypes: Sequence[Any], lo: Any, hi: Any, info: Callable[[Any], Any]) -> np.dtype | None:
    for t in dtypes:
        i = info(t)
        if i.min <= lo and hi <= i.max:
            return np.dtype(t)
    return None


def df_shrink_dtypes(
    df: pd.DataFrame, skip: Sequence[str] = (), obj2cat: bool = True, int2uint: bool = False
) -> dict[str, Any]:
    """The smaller dtype each column of `df` fits in (fastai): ints → the smallest int (or uint with
    `int2uint` when none is negative), floats → float32 when in range, text → `category` with `obj2cat`.
    Categoricals, booleans, dates and columns in `skip` are left alone."""
    new: dict[str, Any] = {}
    for c, t in df.dtypes.items():
        if c in skip or getattr(t, "name", str(t)) in _EXCLUDED or pd.api.types.is_datetime64_any_dtype(t):
            continue
        s = df[c]
        if pd.api.types.is_integer_dtype(t) and not isinstance(t, pd.api.extensions.ExtensionDtype):
            if s.empty:
                continue
            lo, hi = s.min(), s.max()
            kinds = (np.uint8, np.uint16, np.uint32, np.uint64) if int2uint and lo >= 0 else ()
            cand = _smallest(kinds, lo, hi, np.iinfo) or _smallest(
                (np.int8, np.int16, np.int32, np.int64), lo, hi, np.iinfo
            )
        elif pd.api.types.is_float_dtype(t) and not isinstance(t, pd.api.extensions.ExtensionDtype):
            finite = s[np.isfinite(s)] if len(s) else s
            lo, hi = (finite.min(), finite.max()) if len(finite) else (0.0, 0.0)
            cand = _smallest((np.float32, np.float64), lo, hi, np.finfo)
        elif obj2cat and (pd.api.types.is_object_dtype(t) or pd.api.types.is_string_dtype(t)):
            new[c] = "category"
            continue
        else:
            continue
        if cand is not None and cand != t:
            new[c] = cand
    return new


def df_shrink(df: pd.DataFrame, skip: Sequence[str] = (), obj2cat: bool = True, int2uint: bool = False) -> pd.DataFrame:
    """`df` with each column in the smallest dtype that holds it (see `df_shrink_dtypes`); a new frame.

    As fastai, float64 becomes float32 when the values are in float32's range (about 7 significant digits).
    """
    return df.astype(df_shrink_dtypes(df, skip, obj2cat, int2uint))


def make_date(df: pd.DataFrame, date_field: str) -> pd.DataFrame:
    """`df` with column `date_field` parsed as datetimes (a new frame when it had to be parsed)."""
    if date_field not in df.columns:
        raise KeyError(f"make_date: the DataFrame has no column {date_field!r}")
    s = df[date_field]
    if isinstance(s.dtype, pd.DatetimeTZDtype):
        s = s.dt.tz_convert(None)
    elif not pd.api.types.is_datetime64_any_dtype(s):
        s = pd.to_datetime(s)
    else:
        return df
    out = df.copy(deep=False)
    out[date_field] = s
    return out


_DATE_ATTRS = (
    "Year",
    "Month",
    "Week",
    "Day",
    "Dayofweek",
    "Dayofyear",
    "Is_month_end",
    "Is_month_start",
    "Is_quarter_end",
    "Is_quarter_start",
    "Is_year_end",
    "Is_year_start",
)

_DT_ATTR = {"Dayofweek": "day_of_week", "Dayofyear": "day_of_year"}  # pandas' current spellings


def add_datepart(
    df: pd.DataFrame, field_name: str, prefix: str | None = None, drop: bool = True, time: bool = False
) -> pd.DataFrame:
    """Columns `<prefix>Year`, `Month`, `Week`, `Day`, `Dayofweek`, `Dayofyear`, the six `Is_*` flags and
    `Elapsed` (seconds since 1970, missing stays missing) from date column `field_name` (fastai's list;
    with `time`, also `Hour`, `Minute`, `Second`). `prefix` defaults to the name without a trailing
    "date". Returns a new frame (fastai changes `df` in place and returns it)."""
    df = make_date(df, field_name).copy(deep=False)
    field = df[field_name]
    prefix = re.sub("[Dd]ate$", "", field_name) if prefix is None else prefix
    attrs = [*_DATE_ATTRS, *(("Hour", "Minute", "Second") if time else ())]
    for n in attrs:
        if n == "Week":
            df[prefix + n] = field.dt.isocalendar().week.astype(field.dt.day.dtype)
        else:
            df[prefix + n] = getattr(field.dt, _DT_ATTR.get(n, n.lower()))
    # seconds since the epoch whatever the datetime resolution (ns, us, s), not `.values // 10**9`
    elapsed = (field - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
    df[prefix + "Elapsed"] = elapsed.where(field.notna()).astype("float64") if field.isna().any() else elapsed
    if drop:
        df = df.drop(columns=field_name)
    return df


def _days_to_event(dates: pd.Series, flags: pd.Series, groups: pd.Series, forward: bool) -> np.ndarray:
    """Per row, days since the last (or, `forward`, until the next) row with `flags` set in its group,
    the row itself included; NaN when there is none. Rows must be sorted by (group, date)."""
    event_dates = dates.where(flags.astype(bool))
    grouped = event_dates.groupby(groups.to_numpy(), sort=False)
    last = grouped.bfill() if forward else grouped.ffill()
    return ((dates - last) / pd.Timedelta(days=1)).to_numpy(dtype=np.float64)


def add_elapsed_times(
    df: pd.DataFrame, field_names: Sequence[str] | str, date_field: str, base_field: str
) -> pd.DataFrame:
    """For each event column in `field_names` (made boolean), per `base_field` group ordered by `date_field`:
    `After<f>` days since the last event, `Before<f>` days to the next (negative), both 0 when none (fastai);
    and `<f>_bw`/`<f>_fw`, the number of events in the 7 rows up to and after each row. Returns a new frame."""
    names = [field_names] if isinstance(field_names, str) else list(field_names)
    df = make_date(df, date_field).copy(deep=False)
    for f in names:
        df[f] = df[f].astype(bool)
    work = df[[*names, date_field, base_field]].sort_values([base_field, date_field], kind="stable")
    for f in names:
        after = _days_to_event(work[date_field], work[f], work[base_field], forward=False)
        before = _days_to_event(work[date_field], work[f], work[base_field], forward=True)
        work["After" + f] = np.nan_to_num(after, nan=0.0).astype(np.int64)
        work["Before" + f] = np.nan_to_num(before, nan=0.0).astype(np.int64)
    for ascending, suffix in ((True, "_bw"), (False, "_fw")):
        ordered = work.sort_values([base_field, date_field], ascending=[True, ascending], kind="stable")
        sums = ordered.groupby(base_field, sort=False)[names].rolling(7, min_periods=1).sum()
        sums.index = sums.index.droplevel(0)
        for f in names:
            work[f + suffix] = sums[f].reindex(work.index).to_numpy()
    work = work.drop(columns=names)
    return df.merge(work, "left", [date_field, base_field])
