"""`TabularPandas`: a DataFrame preprocessed once (procs fitted on training rows), then held as tensors."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch.utils.data import TensorDataset

from apps_tabular.procs import Categorify, FillMissing, TabularNormalize, TabularProc, _plain, proc_from_config
from datablock import (
    Categorize,
    CategoryMap,
    EncodedMultiCategorize,
    Normalize,
    RandomSplitter,
    RegressionSetup,
    TransformBlock,
)

__all__ = ["TabularPandas", "TabularDataset", "DEFAULT_SEED"]

DEFAULT_SEED = 42
"""Seed of the default random 20% validation split (fastai draws it unseeded)."""

CONFIG_FORMAT = "apps_tabular.TabularPandas/1"

Procs = Sequence[TabularProc | type[TabularProc] | Any] | None


def _as_list(x: Any) -> list[Any]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def _as_proc(p: Any) -> TabularProc:
    """A proc instance from a proc, a proc class, or datablock's `Normalize` (the tabular one is meant)."""
    if p is Normalize:
        return TabularNormalize()
    if isinstance(p, Normalize):
        if p.mean is not None:
            raise ValueError(
                "TabularPandas: procs got datablock's Normalize with fixed image stats; for tables use "
                "Normalize (the class, stats learned per column from the training rows) or TabularNormalize()"
            )
        return TabularNormalize()
    if isinstance(p, type) and issubclass(p, TabularProc):
        return p()
    if isinstance(p, TabularProc):
        return p
    raise TypeError(f"TabularPandas: {p!r} is not a tabular proc (Categorify, FillMissing, Normalize or a TabularProc)")


def _y_spec(y_block: Any, y: pd.DataFrame, y_names: list[str]) -> dict[str, Any]:
    """The kind of target (category, regression, multi_category) from `y_block`, or inferred from dtypes."""
    if y_block is None:
        if len(y_names) == 1:
            s = y[y_names[0]]
            if pd.api.types.is_float_dtype(s):
                return {"kind": "regression"}
            if pd.api.types.is_integer_dtype(s):
                raise ValueError(
                    f"TabularPandas: the target {y_names[0]!r} holds integers ({s.dtype}), which could be class "
                    "labels or amounts; say which with y_block=CategoryBlock() (classes) or y_block=RegressionBlock() "
                    "(numbers). fastai silently regresses here."
                )
            return {"kind": "category", "vocab": None, "sort": True, "add_na": False}
        if all(pd.api.types.is_float_dtype(y[n]) for n in y_names):
            return {"kind": "regression"}
        raise ValueError(
            f"TabularPandas: several targets {y_names} that are not all floats; give y_block=RegressionBlock() "
            "(several numbers) or MultiCategoryBlock(encoded=True, vocab=y_names) (several 0/1 labels)"
        )
    block = y_block() if callable(y_block) and not isinstance(y_block, TransformBlock) else y_block
    if not isinstance(block, TransformBlock) or not block.type_tfms:
        raise TypeError(
            f"TabularPandas: y_block must be CategoryBlock, RegressionBlock or MultiCategoryBlock, got {y_block!r}"
        )
    t = block.type_tfms[0]
    if isinstance(t, Categorize):
        if len(y_names) != 1:
            raise ValueError(f"TabularPandas: CategoryBlock takes one target column, got {y_names}")
        vocab = None if t.vocab is None else list(t.vocab)
        return {"kind": "category", "vocab": vocab, "sort": t.sort, "add_na": t.add_na}
    if isinstance(t, RegressionSetup):
        if t.c is not None and t.c != len(y_names):
            raise ValueError(f"TabularPandas: RegressionBlock(n_out={t.c}) but {len(y_names)} target column(s)")
        return {"kind": "regression"}
    if isinstance(t, EncodedMultiCategorize):
        if list(t.vocab) != y_names:
            raise ValueError(
                f"TabularPandas: MultiCategoryBlock(encoded=True) vocab {list(t.vocab)} must name the target "
                f"columns {y_names}, in order"
            )
        return {"kind": "multi_category"}
    raise TypeError(
        f"TabularPandas: unsupported y_block with {type(t).__name__}; use Category/Regression/MultiCategoryBlock"
    )


class TabularDataset(TensorDataset):
    """One split of a `TabularPandas` as tensors `(cats, conts[, ys])` (long, float32, long or float32).

    A `TensorDataset`, so datablock's `DataLoader` takes whole batches by index with no per-row work.
    `tabular` is the `TabularPandas` it comes from (procs, vocabs, decoding).
    """

    def __init__(self, to: TabularPandas, rows: np.ndarray | None, with_labels: bool = True) -> None:
        self.tabular, self.rows, self.with_labels = to, rows, with_labels
        super().__init__(*to.tensors(rows, with_labels))

    @property
    def n_inp(self) -> int:
        """Inputs per batch: `cats, conts` (2), or `cats` alone (1) for collaborative filtering."""
        return 2 if self.tabular.with_cont else 1

    @property
    def vocab(self) -> Any:
        """The target vocabulary (classification), or the target names (multi-label)."""
        return self.tabular.vocab

    @property
    def items(self) -> pd.DataFrame:
        """The processed rows of this split (a DataFrame)."""
        return self.tabular.items if self.rows is None else self.tabular.items.iloc[self.rows]

    def __repr__(self) -> str:
        return f"TabularDataset({len(self)} rows, labels={self.with_labels})"


class TabularPandas:
    """A DataFrame preprocessed by `procs` fitted on the training rows, ready as tensors.

    `cat_names`/`cont_names` are the inputs, `y_names` the target(s). The target kind comes from
    `y_block` (`CategoryBlock`, `RegressionBlock`, `MultiCategoryBlock(encoded=True)`) or is inferred as in
    fastai (floats: regression; text, categoricals, booleans: classification) except that an integer
    target is refused until `y_block` says what it is. `splits` is `(train_rows, valid_rows)` (positions);
    the default is a random 20% validation split seeded with `DEFAULT_SEED`. Unless `inplace`, `df` is not
    changed and only the columns used are taken (under pandas' copy-on-write, a column is copied only
    when a proc rewrites it). `reduce_memory` stores codes in the smallest integer type and continuous
    columns as float32. `device` is where the tensors live (batches are gathered there).
    """

    config_safe = True
    with_cont = True  # batches carry the continuous tensor (collaborative filtering's loaders do not)

    def __init__(
        self,
        df: pd.DataFrame,
        procs: Procs = None,
        cat_names: Sequence[str] | str | None = None,
        cont_names: Sequence[str] | str | None = None,
        y_names: Sequence[str] | str | None = None,
        y_block: Any = None,
        splits: tuple[Sequence[int] | np.ndarray, Sequence[int] | np.ndarray]
        | Callable[[pd.DataFrame], Any]
        | None = None,
        do_setup: bool = True,
        device: torch.device | str | None = None,
        inplace: bool = False,
        reduce_memory: bool = True,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"TabularPandas: expected a pandas DataFrame, got {type(df).__name__}")
        self.cat_names, self.cont_names, self.y_names = _as_list(cat_names), _as_list(cont_names), _as_list(y_names)
        used = [*self.cat_names, *self.cont_names, *self.y_names]
        missing = [c for c in used if c not in df.columns]
        if missing:
            raise KeyError(f"TabularPandas: the DataFrame has no column(s) {missing}; it has {list(df.columns)[:20]}")
        dup = sorted({c for c in used if used.count(c) > 1})
        if dup:
            raise ValueError(f"TabularPandas: column(s) {dup} named twice among cat_names, cont_names and y_names")
        self.procs: list[TabularProc] = sorted((_as_proc(p) for p in _as_list(procs)), key=lambda p: p.order)
        self.device = None if device is None else torch.device(device)
        self.inplace, self.reduce_memory = inplace, reduce_memory
        self.y_spec: dict[str, Any] = _y_spec(y_block, df, self.y_names) if self.y_names else {"kind": None}
        self.y_vocab: CategoryMap | None = None
        self.splits = self._splits(splits, df)
        self.items = df if inplace else df[used]  # copy-on-write: no data copied until a column is rewritten
        self._tensors: tuple[torch.Tensor, ...] | None = None
        if do_setup:
            self.setup()

    # --- splitting and setup ----------------------------------------------------------------------------------
    @staticmethod
    def _splits(splits: Any, df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        n = len(df)
        if splits is None:
            splits = RandomSplitter(valid_pct=0.2, seed=DEFAULT_SEED)(range(n))
        elif callable(splits):
            splits = splits(df)
        if len(splits) != 2:
            raise ValueError(f"TabularPandas: splits must be (train_rows, valid_rows), got {len(splits)} lists")
        tr, va = (np.asarray(list(s) if not hasattr(s, "__array__") else s, dtype=np.int64) for s in splits)
        for name, s in (("train", tr), ("valid", va)):
            if s.size and (s.min() < 0 or s.max() >= n):
                raise IndexError(f"TabularPandas: {name} split has positions outside 0..{n - 1}")
        if tr.size == 0:
            raise ValueError("TabularPandas: the training split is empty")
        in_train = np.zeros(n, dtype=bool)
        in_train[tr] = True
        if in_train[va].any():
            raise ValueError("TabularPandas: some rows are in both the training and the validation split")
        return tr, va

    def _proc_cols(self, p: TabularProc) -> list[str]:
        if p.cols is not None:
            return p.cols
        return list(self.cat_names if p.kind == "cat" else self.cont_names)

    def setup(self) -> None:
        """Fit each proc on the training rows (in `order`), apply it to every row, then encode the targets."""
        train = self.splits[0]
        for p in self.procs:
            p.cols = self._proc_cols(p)
            p._check_frame(self.items, "fit")
            p._fit_apply(self.items, train)
            if isinstance(p, FillMissing):
                self.cat_names += [c for c in p.added_cols if c not in self.cat_names]
        self._setup_y(train)
        self._finish_items()
        self._check_columns()

    def _setup_y(self, train: np.ndarray) -> None:
        kind = self.y_spec["kind"]
        if kind == "category":
            s = self.items[self.y_names[0]]
            vocab = self.y_spec["vocab"]
            add_na = self.y_spec["add_na"]
            if vocab is not None:
                self.y_vocab = CategoryMap(vocab, sort=False, add_na=add_na)
            else:
                labels = pd.unique(s.to_numpy(dtype=object)[train])
                labels = [v for v in labels.tolist() if not pd.isna(v)]
                self.y_vocab = CategoryMap(labels, sort=self.y_spec["sort"], add_na=add_na)
        self.items = self._encode_y(self.items)

    def _encode_y(self, df: pd.DataFrame) -> pd.DataFrame:
        kind = self.y_spec["kind"]
        if kind == "category":
            n = self.y_names[0]
            df[n] = self._encode_labels(df[n])
        elif kind in ("regression", "multi_category"):
            for n in self.y_names:
                if not pd.api.types.is_numeric_dtype(df[n]):
                    raise TypeError(f"TabularPandas: target {n!r} is {df[n].dtype}; a {kind} target must be numeric")
                if df[n].isna().any():
                    raise ValueError(f"TabularPandas: target {n!r} has missing values; drop those rows first")
                df[n] = df[n].to_numpy(dtype=np.float32)
        return df

    def _encode_labels(self, s: pd.Series) -> np.ndarray:
        assert self.y_vocab is not None
        items = [o for o in self.y_vocab.items if not (self.y_vocab.add_na and o == "#na#")]
        codes = pd.Index(items, dtype=object).get_indexer(s.to_numpy(dtype=object))
        offset = 1 if self.y_vocab.add_na else 0
        bad = codes < 0
        if bad.any() and not self.y_vocab.add_na:
            unknown = pd.unique(s[bad])[:5].tolist()
            raise KeyError(
                f"TabularPandas: target label(s) {unknown} of {self.y_names[0]!r} are not in the vocab learned from "
                f"the training rows {self.y_vocab.items[:10]}; give CategoryBlock(add_na=True) to map them to '#na#', "
                "or CategoryBlock(vocab=...) with every label"
            )
        return np.where(bad, 0, codes + offset).astype(np.int64)

    def _finish_items(self) -> None:
        if not self.reduce_memory:
            for c in self.cat_names:
                self.items[c] = self.items[c].to_numpy(dtype=np.int64)
        self._tensors = None

    # --- the data ---------------------------------------------------------------------------------------------
    def _matrix(self, names: list[str], dtype: np.dtype, rows: np.ndarray | None) -> torch.Tensor:
        n = len(self.items) if rows is None else len(rows)
        out = np.empty((n, len(names)), dtype=dtype)
        for j, c in enumerate(names):
            col = self.items[c].to_numpy()
            out[:, j] = col if rows is None else col[rows]
        return torch.from_numpy(out)

    def tensors(self, rows: np.ndarray | None = None, with_labels: bool = True) -> tuple[torch.Tensor, ...]:
        """`(cats, conts[, ys])` of `rows` (all when None): long `(n, n_cat)`, float32 `(n, n_cont)`, targets."""
        self._check_columns()
        out = [self._matrix(self.cat_names, np.dtype(np.int64), rows)]
        if self.with_cont:
            out.append(self._matrix(self.cont_names, np.dtype(np.float32), rows))
        if with_labels and self.y_names:
            kind = self.y_spec["kind"]
            if kind == "category":
                col = self.items[self.y_names[0]].to_numpy()
                out.append(torch.from_numpy(np.array(col if rows is None else col[rows], dtype=np.int64)))
            else:
                out.append(self._matrix(self.y_names, np.dtype(np.float32), rows))
        if self.device is not None:
            out = [t.to(self.device) for t in out]
        return tuple(out)

    def _check_columns(self) -> None:
        """Processed columns must be numbers: codes for categorical columns (after Categorify)."""
        for c in self.cat_names:
            if not pd.api.types.is_integer_dtype(self.items[c]) and not pd.api.types.is_bool_dtype(self.items[c]):
                raise TypeError(
                    f"TabularPandas: categorical column {c!r} is {self.items[c].dtype}, not codes; "
                    "add Categorify to procs"
                )
        for c in self.cont_names:
            if not pd.api.types.is_numeric_dtype(self.items[c]):
                raise TypeError(f"TabularPandas: continuous column {c!r} is {self.items[c].dtype}, not numeric")

    @property
    def train(self) -> TabularDataset:
        """The training rows as tensors."""
        return TabularDataset(self, self.splits[0])

    @property
    def valid(self) -> TabularDataset:
        """The validation rows as tensors."""
        return TabularDataset(self, self.splits[1])

    @property
    def cats(self) -> pd.DataFrame:
        """The processed categorical columns (codes)."""
        return self.items[self.cat_names]

    @property
    def conts(self) -> pd.DataFrame:
        """The processed continuous columns."""
        return self.items[self.cont_names]

    @property
    def ys(self) -> pd.DataFrame:
        """The encoded target column(s)."""
        return self.items[self.y_names]

    @property
    def classes(self) -> dict[str, list[Any]]:
        """Per categorical column, its vocab (`#na#` first), from `Categorify`; `<col>_na` columns included."""
        out: dict[str, list[Any]] = {}
        for p in self.procs:
            if isinstance(p, Categorify):
                out.update(p.classes)
        return out

    @property
    def vocab(self) -> Any:
        """The target vocab (a `CategoryMap`) for classification, the target names for multi-label."""
        if self.y_spec["kind"] == "category":
            return self.y_vocab
        if self.y_spec["kind"] == "multi_category":
            return CategoryMap(self.y_names, sort=False)
        raise AttributeError(f"TabularPandas: a {self.y_spec['kind']} target has no vocab")

    @property
    def c(self) -> int:
        """Number of model outputs: classes, target columns (regression, multi-label)."""
        if self.y_spec["kind"] == "category":
            return len(self.vocab)
        return len(self.y_names)

    @property
    def loss_kind(self) -> dict[str, Any]:
        """What loss the target calls for, as data: `{"kind": "cross_entropy"|"bce"|"mse", "axis": -1}`."""
        kind = {"category": "cross_entropy", "multi_category": "bce", "regression": "mse"}.get(self.y_spec["kind"])
        if kind is None:
            raise AttributeError("TabularPandas: no target (y_names), so no loss kind")
        return {"kind": kind, "axis": -1}

    # --- new data through the fitted procs --------------------------------------------------------------------
    def new(self, df: pd.DataFrame, with_labels: bool | None = None) -> TabularPandas:
        """`df` through the procs fitted here (no refitting): for test sets and `predict`.

        Categories unseen in training become `#na#`; with `with_labels` (default: when the target columns
        are present) the targets are encoded too.
        """
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"TabularPandas.new: expected a pandas DataFrame, got {type(df).__name__}")
        if with_labels is None:
            with_labels = bool(self.y_names) and all(n in df.columns for n in self.y_names)
        added = {c for p in self.procs if isinstance(p, FillMissing) for c in p.added_cols}
        raw_cats = [c for c in self.cat_names if c not in added]
        used = [*raw_cats, *self.cont_names, *(self.y_names if with_labels else [])]
        missing = [c for c in used if c not in df.columns]
        if missing:
            raise KeyError(f"TabularPandas.new: the DataFrame has no column(s) {missing}")
        to = type(self).__new__(type(self))
        # the target's names, kind and vocab stay (to decode predictions) even when its columns are absent
        to.cat_names, to.cont_names, to.y_names = list(self.cat_names), list(self.cont_names), list(self.y_names)
        to.procs, to.device, to.inplace, to.reduce_memory = self.procs, self.device, False, self.reduce_memory
        to.y_spec, to.y_vocab, to._tensors, to.with_cont = self.y_spec, self.y_vocab, None, self.with_cont
        to.splits = (np.arange(len(df)), np.arange(0))
        to.items = df[used]
        for p in self.procs:
            p._apply(to.items)
        if with_labels:
            to.items = to._encode_y(to.items)
        to._finish_items()
        return to

    # --- decoding and showing ---------------------------------------------------------------------------------
    def decode_frame(self, df: pd.DataFrame) -> pd.DataFrame:
        """A processed frame (codes, scaled values, encoded targets) back to readable values."""
        out = df.copy(deep=False)
        for p in reversed(self.procs):
            p._invert(out)  # each proc turns back those of its columns that `df` has
        kind = self.y_spec["kind"]
        if kind == "category" and self.y_vocab is not None and self.y_names and self.y_names[0] in out.columns:
            n = self.y_names[0]
            out[n] = np.array(self.y_vocab.items, dtype=object)[out[n].to_numpy(dtype=np.int64)]
        return out

    def decode(self) -> pd.DataFrame:
        """All rows back to readable values (labels, original scale, missing values back where they were)."""
        return self.decode_frame(self.items)

    def show(self, max_n: int = 10) -> pd.DataFrame:
        """The first `max_n` rows, decoded, as a DataFrame (a notebook shows it as a table)."""
        return self.decode_frame(self.items.iloc[:max_n])

    def dataloaders(self, bs: int = 64, shuffle_train: bool = True, val_bs: int | None = None, **kwargs: Any) -> Any:
        """`TabularDataLoaders` over the train and valid splits (`kwargs` go to each `TabularDataLoader`)."""
        from apps_tabular.data import TabularDataLoaders

        return TabularDataLoaders.from_tabular(self, bs=bs, shuffle_train=shuffle_train, val_bs=val_bs, **kwargs)

    # --- plain-data description -------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Names, procs and target encoding as plain data (no rows): enough to process new rows and decode."""
        return {
            "format": CONFIG_FORMAT,
            "cat_names": list(self.cat_names),
            "cont_names": list(self.cont_names),
            "y_names": list(self.y_names),
            "y_spec": {k: v for k, v in self.y_spec.items() if k != "vocab"},
            "y_vocab": None if self.y_vocab is None else [_plain(v) for v in self.y_vocab.items],
            "y_add_na": bool(self.y_vocab.add_na) if self.y_vocab is not None else False,
            "procs": [p.to_config() for p in self.procs],
            "reduce_memory": self.reduce_memory,
            "with_cont": self.with_cont,
        }

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> TabularPandas:
        """A `TabularPandas` with no rows, rebuilt from `to_config()`: `new(df)` and decoding work."""
        if cfg.get("format") != CONFIG_FORMAT:
            raise ValueError(f"TabularPandas.from_config: expected format {CONFIG_FORMAT!r}, got {cfg.get('format')!r}")
        to = cls.__new__(cls)
        to.cat_names, to.cont_names, to.y_names = list(cfg["cat_names"]), list(cfg["cont_names"]), list(cfg["y_names"])
        to.procs = [proc_from_config(p) for p in cfg["procs"]]
        to.device, to.inplace, to.reduce_memory = None, False, bool(cfg["reduce_memory"])
        to.with_cont = bool(cfg.get("with_cont", True))
        to.y_spec = dict(cfg["y_spec"])
        to.y_vocab = None
        if cfg["y_vocab"] is not None:
            to.y_vocab = CategoryMap(cfg["y_vocab"], sort=False)
            to.y_vocab.add_na = bool(cfg["y_add_na"])
        to.splits = (np.arange(0), np.arange(0))
        cols = [*to.cat_names, *to.cont_names, *to.y_names]
        to.items = pd.DataFrame({c: pd.Series([], dtype=np.int64 if c in to.cat_names else np.float32) for c in cols})
        to._tensors = None
        return to

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return (
            f"TabularPandas({len(self)} rows, cat={self.cat_names}, cont={self.cont_names}, y={self.y_names} "
            f"({self.y_spec['kind']}), procs={[type(p).__name__ for p in self.procs]})"
        )
