"""Tabular preprocessing steps (procs): `Categorify`, `FillMissing`, `TabularNormalize`.

Each proc learns its state from training rows only and keeps it as plain data (lists and dicts of
str/float/int), so an export describes it without pickle. Each is usable alone with scikit-learn's
convention, on a DataFrame, without importing scikit-learn:

    cat = Categorify(["city"]).fit(train_df)
    codes = cat.transform(df)            # a new DataFrame; `df` is left alone
    back = cat.inverse_transform(codes)  # the labels again ('#na#' becomes missing)

Inside `TabularPandas` they run in `order` (FillMissing, then Categorify, then TabularNormalize), so the
`<col>_na` indicator columns FillMissing adds are categorified like any other categorical column (fastai's
behaviour). Columns default to the DataFrame's columns when used alone, and to the `TabularPandas`'s
categorical (Categorify) or continuous (FillMissing, TabularNormalize) columns inside it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd

__all__ = ["TabularProc", "Categorify", "FillMissing", "TabularNormalize", "NA", "RARE", "proc_from_config"]

NA, RARE = "#na#", "#rare#"
"""Category of missing and unseen values (always code 0), and of values rarer than `min_freq` (code 1)."""


def _plain(v: Any) -> Any:
    """numpy scalars to Python scalars, so state is plain data."""
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return v


def _hashable(s: pd.Series) -> Any:
    """The values of `s` in the form pandas hashes fastest: a python-backed text column (pandas 3's `str` without
    pyarrow) as the object ndarray it holds (no copy; its extension-array `factorize` is about twice as slow), other
    columns as they are (pyarrow-backed text is dictionary-encoded by pyarrow, faster than converting it)."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "python":
        return s.to_numpy(dtype=object)
    return s


def _code_dtype(n: int) -> np.dtype:
    for t in (np.int8, np.int16, np.int32):
        if n <= np.iinfo(t).max:
            return np.dtype(t)
    return np.dtype(np.int64)


class TabularProc(ABC):
    """A preprocessing step over some columns of a DataFrame: `fit` on training rows, then `transform`.

    Subclasses implement `_fit(df, rows)` (learn state from `df`'s rows `rows`, all rows when None),
    `_apply(df)` (write the transformed columns into `df`, in place), `_invert(df)`, and `_state()` /
    `_load_state(cfg)` (the learned state as plain data and back).
    """

    order: ClassVar[int] = 0
    kind: ClassVar[str] = "cont"  # which columns of a TabularPandas it takes by default: "cat" or "cont"

    def __init__(self, cols: Sequence[str] | None = None) -> None:
        self.cols: list[str] | None = None if cols is None else list(cols)
        self.fitted = False

    # --- scikit-learn's convention ----------------------------------------------------------------------------
    def fit(self, df: pd.DataFrame, y: Any = None) -> TabularProc:
        """Learn the state from every row of `df` (pass only training rows); returns self."""
        del y  # scikit-learn passes the target; procs do not use it
        self._check_frame(df, "fit")
        if self.cols is None:
            self.cols = list(df.columns)
        self._fit(df, None)
        self.fitted = True
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """A new DataFrame with this proc's columns transformed (`df` is not changed)."""
        self._check_fitted("transform")
        self._check_frame(df, "transform")
        out = df.copy(deep=False)
        self._apply(out)
        return out

    def fit_transform(self, df: pd.DataFrame, y: Any = None) -> pd.DataFrame:
        """`fit(df)` then `transform(df)`."""
        return self.fit(df, y).transform(df)

    def inverse_transform(self, df: pd.DataFrame) -> pd.DataFrame:
        """A new DataFrame with this proc's columns turned back (as far as the proc can)."""
        self._check_fitted("inverse_transform")
        out = df.copy(deep=False)
        self._invert(out)
        return out

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> list[str]:
        """The names of the columns `transform` writes (the proc's columns, plus any it adds)."""
        del input_features
        self._check_fitted("get_feature_names_out")
        return list(self.cols or [])

    # --- plain-data state -------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """The proc and its learned state as plain data (JSON-ready)."""
        return {"type": type(self).__name__, "cols": self.cols, "fitted": self.fitted, **self._state()}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TabularProc:
        """Rebuild a proc written by `to_config()` (no pickle: only plain data is read)."""
        if cfg.get("type") != cls.__name__:
            raise ValueError(f"{cls.__name__}.from_config: the config describes {cfg.get('type')!r}")
        proc = cls.__new__(cls)
        proc.cols = None if cfg["cols"] is None else list(cfg["cols"])
        proc.fitted = bool(cfg["fitted"])
        proc._load_state(cfg)
        return proc

    # --- for subclasses ---------------------------------------------------------------------------------------
    def _fit_apply(self, df: pd.DataFrame, rows: np.ndarray | None) -> None:
        """Learn from rows `rows` of `df`, then transform every row of `df` in place (`TabularPandas` calls this;
        a proc may do both in one pass)."""
        self._fit(df, rows)
        self.fitted = True
        self._apply(df)

    @abstractmethod
    def _state(self) -> dict[str, Any]:
        """The learned state (and settings) as plain data, merged into `to_config()`."""

    @abstractmethod
    def _load_state(self, cfg: dict[str, Any]) -> None:
        """Set the state back from `to_config()`'s data."""

    @abstractmethod
    def _fit(self, df: pd.DataFrame, rows: np.ndarray | None) -> None:
        """Learn the state from rows `rows` (positions) of `df`, all rows when None."""

    @abstractmethod
    def _apply(self, df: pd.DataFrame) -> None:
        """Write the transformed columns into `df` (in place)."""

    @abstractmethod
    def _invert(self, df: pd.DataFrame) -> None:
        """Turn this proc's columns of `df` back (in place), those `df` has."""

    def _check_fitted(self, what: str) -> None:
        if not self.fitted:
            raise RuntimeError(f"{type(self).__name__}.{what}: call fit() first (on the training rows)")

    def _check_frame(self, df: Any, what: str) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"{type(self).__name__}.{what}: expected a pandas DataFrame, got {type(df).__name__}")
        missing = [c for c in (self.cols or []) if c not in df.columns]
        if missing:
            raise KeyError(f"{type(self).__name__}.{what}: the DataFrame has no column(s) {missing}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(cols={self.cols})"


def _rows(s: pd.Series, rows: np.ndarray | None) -> pd.Series:
    return s if rows is None else s.iloc[rows]


def _sorted(values: list[Any]) -> list[Any]:
    try:
        return sorted(values)
    except TypeError:  # mixed types: order by their text, as fastai's CategoryMap falls back
        return sorted(values, key=str)


class Categorify(TabularProc):
    """Categorical columns → integer codes, with a vocab per column learned on the training rows.

    Code 0 is `#na#`: missing values and values never seen in training (the unseen policy). With
    `min_freq > 1`, values seen fewer than `min_freq` times in training share code 1, `#rare#` (beyond
    fastai). A pandas categorical column keeps its declared categories and their order (fastai). At
    transform, a column whose dtype differs from training (numbers read as text, or the reverse) is
    converted to the training dtype before lookup, so `"3"` finds the category `3`.
    """

    order = 2
    kind = "cat"

    def __init__(self, cols: Sequence[str] | None = None, min_freq: int = 1) -> None:
        super().__init__(cols)
        if not isinstance(min_freq, int) or min_freq < 1:
            raise ValueError(f"Categorify: min_freq must be an int >= 1, got {min_freq!r}")
        self.min_freq = min_freq
        self.classes: dict[str, list[Any]] = {}
        self.rare: dict[str, list[Any]] = {}  # per column: training values that map to #rare#
        self.dtypes: dict[str, str] = {}  # per column: "num", "str" or "bool" (for aligning at inference)

    def _state(self) -> dict[str, Any]:
        return {"min_freq": self.min_freq, "classes": self.classes, "rare": self.rare, "dtypes": self.dtypes}

    def _load_state(self, cfg: dict[str, Any]) -> None:
        self.min_freq = int(cfg["min_freq"])
        self.classes = {k: list(v) for k, v in cfg["classes"].items()}
        self.rare = {k: list(v) for k, v in cfg["rare"].items()}
        self.dtypes = dict(cfg["dtypes"])
        self._luts: dict[str, Any] = {}

    @staticmethod
    def _kind(s: pd.Series) -> str:
        if pd.api.types.is_bool_dtype(s):
            return "bool"
        if pd.api.types.is_numeric_dtype(s):
            return "num"
        if isinstance(s.dtype, pd.CategoricalDtype):
            return Categorify._kind(pd.Series(s.cat.categories))
        return "str"

    def _fit(self, df: pd.DataFrame, rows: np.ndarray | None) -> None:
        self.classes, self.rare, self.dtypes, self._luts = {}, {}, {}, {}
        for c in self.cols or []:
            self._fit_column(_rows(df[c], rows), c)

    def _fit_column(self, s: pd.Series, c: str) -> None:
        """Learn the vocab of column `c` from its training values `s`."""
        self.dtypes[c] = self._kind(s)
        counts = s.value_counts(dropna=True, sort=False)
        declared = [_plain(v) for v in s.cat.categories] if isinstance(s.dtype, pd.CategoricalDtype) else None
        self._set_vocab(c, [_plain(v) for v in counts.index], counts.to_numpy(), declared)

    def _set_vocab(self, c: str, seen: list[Any], counts: np.ndarray, declared: list[Any] | None = None) -> set[Any]:
        """Vocab of column `c` from the values `seen` in training and how often: `#na#`, `#rare#` when some value
        is rarer than `min_freq`, then the others sorted (or in the `declared` order of a pandas categorical,
        all its categories, as fastai). Returns the rare values."""
        rare = set() if self.min_freq == 1 else {v for v, n in zip(seen, counts, strict=True) if n < self.min_freq}
        kept = [v for v in (_sorted(seen) if declared is None else declared) if v not in rare]
        self.classes[c] = [NA, RARE, *kept] if rare else [NA, *kept]
        self.rare[c] = _sorted(list(rare))
        return rare

    def _fit_apply(self, df: pd.DataFrame, rows: np.ndarray | None) -> None:
        """One hashing pass per column: factorize all rows, count the training rows' codes, then map each
        distinct value to its vocab code (values seen only outside the training rows map to #na#)."""
        self.classes, self.rare, self.dtypes, self._luts = {}, {}, {}, {}
        for c in self.cols or []:
            s = df[c]
            if isinstance(s.dtype, pd.CategoricalDtype):  # declared categories: the general path
                self._fit_column(_rows(s, rows), c)
                df[c] = self.encode_column(s, c)
                continue
            self.dtypes[c] = self._kind(s)
            codes, uniques = pd.factorize(_hashable(s), use_na_sentinel=True)
            seen = codes if rows is None else codes[rows]
            counts = np.bincount(seen + 1, minlength=len(uniques) + 1)[1:]  # slot 0: missing (code -1)
            present = np.flatnonzero(counts)
            values = [_plain(v) for v in np.asarray(uniques, dtype=object)[present]]
            rare_set = self._set_vocab(c, values, counts[present])
            code_of = {v: i for i, v in enumerate(self.classes[c])}
            lut = np.zeros(len(uniques) + 1, dtype=_code_dtype(len(self.classes[c])))  # last slot: missing (-1)
            lut[present] = [1 if v in rare_set else code_of[v] for v in values]
            df[c] = lut[codes]
        self.fitted = True

    def _lut(self, c: str) -> tuple[pd.Index, np.ndarray, np.ndarray]:
        """Column `c`'s lookups, built once (a one-row `predict` would otherwise rebuild a hash table of the whole
        vocab per call): an index of the known values (kept categories, then rare ones), the code of each with a
        last slot 0 for values not found, and the labels by code (`#na#` as None) for decoding."""
        luts = self.__dict__.setdefault("_luts", {})
        if c not in luts:
            classes, rare = self.classes[c], self.rare[c]
            start = 2 if rare else 1
            kept = classes[start:]
            codes = np.concatenate([np.arange(start, start + len(kept)), np.ones(len(rare)), [0]])
            labels = np.array([None if v == NA else v for v in classes], dtype=object)
            luts[c] = (pd.Index([*kept, *rare], dtype=object), codes.astype(_code_dtype(len(classes))), labels)
        return luts[c]

    def _align(self, s: pd.Series, c: str) -> pd.Series:
        want, have = self.dtypes[c], self._kind(s)
        if want == have or s.isna().all():
            return s
        if want == "num":
            return pd.to_numeric(s.astype("object"), errors="coerce")  # text that is no number → missing → #na#
        if want == "str":
            return s.astype("object").where(s.notna(), None).map(lambda v: v if v is None else str(v))
        return s.astype("object").map({True: True, False: False, "True": True, "False": False})  # 1/0 equal True/False

    def encode_column(self, s: pd.Series, c: str) -> np.ndarray:
        """The codes of values `s` of column `c` (0 for missing or unseen, 1 for rare): one vectorized lookup."""
        index, codes, _ = self._lut(c)
        target = self._align(s, c).to_numpy(dtype=object)  # no copy for pandas' `str` columns
        return codes[index.get_indexer(target)]  # not found (-1): the last slot, code 0

    def _apply(self, df: pd.DataFrame) -> None:
        for c in self.cols or []:
            df[c] = self.encode_column(df[c], c)

    def decode_column(self, codes: Any, c: str) -> pd.Series:
        """Codes of column `c` back to labels (`#na#` → missing, `#rare#` stays `#rare#`)."""
        arr = np.asarray(codes, dtype=np.int64)
        vocab = self._lut(c)[2]
        if arr.size and (arr.min() < 0 or arr.max() >= len(vocab)):
            raise ValueError(f"Categorify: codes of column {c!r} outside 0..{len(vocab) - 1}")
        out = pd.Series(vocab[arr], index=getattr(codes, "index", None), name=c)
        if self.dtypes[c] == "num":
            out = pd.to_numeric(out)  # missing (None) becomes NaN
        return out

    def _invert(self, df: pd.DataFrame) -> None:
        for c in self.cols or []:
            if c in df.columns:
                df[c] = self.decode_column(df[c], c)

    def __repr__(self) -> str:
        sizes = {c: len(v) for c, v in self.classes.items()}
        return f"Categorify(min_freq={self.min_freq}, classes={sizes or 'not fitted'})"


_STRATEGIES = ("median", "mode", "constant")


class FillMissing(TabularProc):
    """Missing values of continuous columns filled with the training median (or mode, or `fill_val`).

    Columns missing values in training also get a boolean `<col>_na` column (with `add_col`), which
    `TabularPandas` adds to the categorical columns (fastai). A column with no missing value in training
    has no indicator; a missing value in it at inference is filled all the same (beyond fastai, which
    refuses it). `inverse_transform` puts the missing values back where the indicator says.
    """

    order = 1
    kind = "cont"

    def __init__(
        self,
        cols: Sequence[str] | None = None,
        fill_strategy: str = "median",
        add_col: bool = True,
        fill_val: float = 0.0,
    ) -> None:
        super().__init__(cols)
        name = getattr(fill_strategy, "__name__", fill_strategy)
        if name not in _STRATEGIES:
            raise ValueError(f"FillMissing: fill_strategy must be one of {_STRATEGIES}, got {fill_strategy!r}")
        self.fill_strategy, self.add_col, self.fill_val = str(name), bool(add_col), float(fill_val)
        self.fill_vals: dict[str, float] = {}
        self.na_cols: list[str] = []  # columns that missed values in training (they get `<col>_na`)

    def _state(self) -> dict[str, Any]:
        return {
            "fill_strategy": self.fill_strategy,
            "add_col": self.add_col,
            "fill_val": self.fill_val,
            "fill_vals": self.fill_vals,
            "na_cols": self.na_cols,
        }

    def _load_state(self, cfg: dict[str, Any]) -> None:
        self.fill_strategy, self.add_col, self.fill_val = cfg["fill_strategy"], cfg["add_col"], cfg["fill_val"]
        self.fill_vals = {k: float(v) for k, v in cfg["fill_vals"].items()}
        self.na_cols = list(cfg["na_cols"])

    def _value(self, present: np.ndarray, c: str, owned: bool = False) -> float:
        """The fill value of column `c` from its training values that are not missing (float64); `owned`: a copy
        that may be reordered (the median then partitions it in place)."""
        if self.fill_strategy == "constant":
            return self.fill_val
        if present.size == 0:
            raise ValueError(
                f"FillMissing: column {c!r} has no value in the training rows to take the {self.fill_strategy} of"
            )
        if self.fill_strategy == "median":
            return float(np.median(present, overwrite_input=owned))
        return float(pd.Series(present).mode().iloc[0])  # the smallest of the most frequent values (pandas)

    def _fit(self, df: pd.DataFrame, rows: np.ndarray | None) -> None:
        self.fill_vals, self.na_cols = {}, []
        for c in self.cols or []:
            s = df[c]
            if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
                raise TypeError(f"FillMissing: column {c!r} is {s.dtype}, not numeric (is it categorical?)")
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)  # no copy for a float64 column
            x = v if rows is None else v[rows]  # a numpy gather: no pandas index checks
            missing = np.isnan(x)
            has_missing = bool(missing.any())
            owned = has_missing or rows is not None  # `x` is not the frame's own data
            self.fill_vals[c] = self._value(x[~missing] if has_missing else x, c, owned)
            if has_missing:
                self.na_cols.append(c)

    @property
    def added_cols(self) -> list[str]:
        """The indicator columns `transform` adds."""
        return [f"{c}_na" for c in self.na_cols] if self.add_col else []

    def _apply(self, df: pd.DataFrame) -> None:
        na_cols = set(self.na_cols)
        for c in self.cols or []:
            s = df[c]
            missing = s.isna()
            if c in na_cols and self.add_col:
                df[f"{c}_na"] = missing.to_numpy()
            if missing.any():
                fill = self.fill_vals[c]
                if pd.api.types.is_integer_dtype(s) and not fill.is_integer():  # a nullable int column, median 3.5
                    s = s.astype("float64")
                df[c] = s.fillna(fill)

    def _invert(self, df: pd.DataFrame) -> None:
        for c in self.na_cols if self.add_col else []:
            ind = f"{c}_na"
            if ind in df.columns:
                mask = df[ind].astype(bool).to_numpy()
                col = df[c]
                if isinstance(col.dtype, np.dtype) and col.dtype.kind in "iub":  # numpy ints hold no NaN
                    col = col.astype("float64")
                df[c] = col.mask(mask)  # a nullable integer column (Int64) gets <NA> and keeps its dtype
                del df[ind]

    def get_feature_names_out(self, input_features: Sequence[str] | None = None) -> list[str]:
        return [*super().get_feature_names_out(input_features), *self.added_cols]


class TabularNormalize(TabularProc):
    """Continuous columns scaled to `(x - mean) / std`, with mean and std of the training rows (fastai:
    population std plus 1e-7). Written as float32. In `TabularPandas(procs=...)`, datablock's `Normalize`
    means this proc (fastai spells both `Normalize`; see the README).

    `inverse_transform` gives float64 values, except that a column that held integers in training is rounded
    back to its integer dtype (float32 scaling would otherwise turn 0 into about 1e-5)."""

    order = 3
    kind = "cont"

    def __init__(self, cols: Sequence[str] | None = None) -> None:
        super().__init__(cols)
        self.means: dict[str, float] = {}
        self.stds: dict[str, float] = {}
        self.int_dtypes: dict[str, str] = {}  # columns that held integers in training: their dtype's name

    def _state(self) -> dict[str, Any]:
        return {"means": self.means, "stds": self.stds, "int_dtypes": self.int_dtypes}

    def _load_state(self, cfg: dict[str, Any]) -> None:
        self.means = {k: float(v) for k, v in cfg["means"].items()}
        self.stds = {k: float(v) for k, v in cfg["stds"].items()}
        self.int_dtypes = {k: str(v) for k, v in cfg.get("int_dtypes", {}).items()}
        for k, v in self.int_dtypes.items():  # data, never code: only integer dtype names are accepted
            if not pd.api.types.is_integer_dtype(pd.api.types.pandas_dtype(v)):
                raise ValueError(f"TabularNormalize: int_dtypes[{k!r}] = {v!r} is not an integer dtype")

    def _fit(self, df: pd.DataFrame, rows: np.ndarray | None) -> None:
        self.means, self.stds, self.int_dtypes = {}, {}, {}
        for c in self.cols or []:
            s = df[c]
            if not pd.api.types.is_numeric_dtype(s):
                raise TypeError(f"TabularNormalize: column {c!r} is {s.dtype}, not numeric")
            if pd.api.types.is_integer_dtype(s):
                self.int_dtypes[c] = str(s.dtype)
            v = s.to_numpy(dtype=np.float64, na_value=np.nan)
            x = v if rows is None else v[rows]
            if x.size == 0:
                self.means[c], self.stds[c] = 0.0, 1.0
            elif np.isnan(x).any():
                self.means[c], self.stds[c] = float(np.nanmean(x)), float(np.nanstd(x)) + 1e-7
            else:  # after FillMissing: the plain reductions, about twice as fast as the nan-aware ones
                self.means[c], self.stds[c] = float(x.mean()), float(x.std()) + 1e-7

    def _apply(self, df: pd.DataFrame) -> None:
        for c in self.cols or []:
            v = df[c].to_numpy(dtype=np.float32, na_value=np.nan)  # may be the frame's own data: not changed
            out = v - np.float32(self.means[c])  # a new array, scaled in place
            out /= np.float32(self.stds[c])
            df[c] = out

    def _invert(self, df: pd.DataFrame) -> None:
        for c in self.cols or []:
            if c in df.columns:
                v = df[c].to_numpy(dtype=np.float64, na_value=np.nan) * self.stds[c] + self.means[c]
                df[c] = self._as_int(v, c, df.index) if c in self.int_dtypes else v

    def _as_int(self, v: np.ndarray, c: str, index: pd.Index) -> Any:
        """Values `v` of column `c` rounded to its training integer dtype; left as floats where that dtype cannot
        hold them (a missing value in a numpy int column, or a value outside its range: never a silent wrap)."""
        dt = pd.api.types.pandas_dtype(self.int_dtypes[c])
        info = np.iinfo(dt if isinstance(dt, np.dtype) else dt.numpy_dtype)
        r = np.rint(v)
        missing = np.isnan(r)
        if (
            (missing.any() and isinstance(dt, np.dtype))
            or (r[~missing] < info.min).any()
            or (r[~missing] > info.max).any()
        ):
            return v
        return pd.Series(r, index=index).astype(dt)


_PROCS: dict[str, type[TabularProc]] = {p.__name__: p for p in (Categorify, FillMissing, TabularNormalize)}


def proc_from_config(cfg: dict[str, Any]) -> TabularProc:
    """A proc from its `to_config()` data; only this package's procs are known (data, never code)."""
    cls = _PROCS.get(cfg.get("type", ""))
    if cls is None:
        raise ValueError(f"proc_from_config: unknown proc {cfg.get('type')!r}; known: {sorted(_PROCS)}")
    return cls.from_config(cfg)
