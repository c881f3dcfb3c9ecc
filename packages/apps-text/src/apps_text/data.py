"""Text data: `TextBlock`, the language-model loader (`LMDataLoader`), length-sorted padded batches (`SortedDL`)
and the `TextDataLoaders` factories, on datablock's extension points (`get_idxs`, `before_iter`, `init_kwargs`,
`PadInput`, `cache_all`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
import torch

from apps_text.numericalize import Numericalize
from apps_text.rules import PAD, SPECIAL_TOKENS
from apps_text.tokenize import TEXT_EXTENSIONS, Tokenizer
from datablock import (
    CategoryBlock,
    ColReader,
    ColSplitter,
    DataBlock,
    DataLoader,
    DataLoaders,
    GrandparentSplitter,
    MultiCategoryBlock,
    PadInput,
    RandomSplitter,
    TransformBlock,
    get_files,
    parent_label,
)
from dispatch_transforms import Transform
from typedtensor import TensorText

PAD_IDX = SPECIAL_TOKENS.index(PAD)  # 1: the special tokens come first in every vocab (make_vocab)

__all__ = ["LMTensorText", "ReverseText", "TextBlock", "LMDataLoader", "SortedDL", "TextDataLoaders"]


class LMTensorText(TensorText):
    """Token ids of a language model's input window (shown and decoded like `TensorText`)."""


class ReverseText(Transform):
    """Reverse each text's ids (for backwards language models, as fastai's `backwards=True`); decodes back."""

    config_safe = True  # no arguments

    order = 6  # after Numericalize
    retain = False  # flipping keeps the type and metadata

    def encodes(self, x: TensorText) -> torch.Tensor:
        return x.flip(0)

    def decodes(self, x: TensorText) -> torch.Tensor:
        return x.flip(0)


def _ids(x: Any) -> torch.Tensor:
    if isinstance(x, tuple):
        x = x[0]
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"expected token ids (a TensorText), got {type(x).__name__}")
    return x.as_subclass(torch.Tensor)


class _LMWindows:
    """The windows of one pass of an `LMDataLoader`: item `i` is stream `i % bs`, window `i // bs`."""

    def __init__(self, docs: Any, stream: torch.Tensor, bs: int, seq_len: int, vocab: Any) -> None:
        self.docs, self.bs, self.seq_len, self.vocab_text = docs, bs, seq_len, vocab
        corpus = (stream.numel() - 1) // bs * bs
        self.bl = corpus // bs  # tokens per stream (plus one for the last target)
        self.n_batches = self.bl // seq_len + int(self.bl % seq_len != 0) if self.bl > 0 else 0
        self.last_len = self.bl - (self.n_batches - 1) * seq_len
        self.stream = stream
        self.n_inp = 1
        self.split_idx = getattr(docs, "split_idx", None)

    def __len__(self) -> int:
        return self.n_batches * self.bs

    def __getitem__(self, i: int) -> tuple[Any, Any]:
        if not 0 <= i < len(self):
            raise IndexError(f"LMDataLoader: window {i} out of range ({len(self)})")
        k = i // self.bs
        sl = self.last_len if k == self.n_batches - 1 else self.seq_len
        st = (i % self.bs) * self.bl + k * self.seq_len
        txt = self.stream[st : st + sl + 1]
        return LMTensorText(txt[:-1], vocab=self.vocab_text), TensorText(txt[1:], vocab=self.vocab_text)

    def columns(self) -> dict[int, _WindowColumn]:
        """Inputs and targets as columns (datablock's loader protocol): a batch of windows is one slice of the
        `(bs, tokens per stream + 1)` view of the stream, not `2 * bs` windows built and stacked."""
        rows = self.stream.as_strided((self.bs, self.bl + 1), (self.bl, 1)) if self.bl > 0 else None
        return {
            0: _WindowColumn(self, rows, 0, LMTensorText(self.stream[:0], vocab=self.vocab_text)),
            1: _WindowColumn(self, rows, 1, TensorText(self.stream[:0], vocab=self.vocab_text)),
        }

    def partial_item(self, i: int, skip: Sequence[int]) -> tuple[Any, ...]:
        """Window `i` without the elements at positions `skip` (those a loader takes from `columns()`)."""
        if not 0 <= i < len(self):
            raise IndexError(f"LMDataLoader: window {i} out of range ({len(self)})")
        if 0 in skip and 1 in skip:  # both taken as columns: nothing to build per window
            return ()
        return tuple(o for k, o in enumerate(self[i]) if k not in skip)

    @property
    def tls(self) -> Any:
        """The documents' pipelines (what `DataLoaders.to_config` exports)."""
        return self.docs.tls

    def new(self, items: Any, split_idx: int | None = None, with_labels: bool = True) -> Any:
        """Other documents through the same pipeline (what `test_dl` builds an `LMDataLoader` on)."""
        return self.docs.new(items, split_idx=split_idx, with_labels=with_labels)

    def decode(self, o: Sequence[Any], full: bool = True) -> tuple[Any, ...]:
        tl = self.docs.tls[0] if hasattr(self.docs, "tls") else None
        if tl is None:
            return tuple(o)
        return tuple(tl.decode(TensorText(_ids(x), vocab=self.vocab_text), full=full) for x in o)


class _WindowColumn:
    """The inputs (`shift=0`) or targets (`shift=1`) of a pass's windows, batched by slicing the streams."""

    def __init__(self, windows: _LMWindows, rows: torch.Tensor | None, shift: int, proto: torch.Tensor) -> None:
        self.windows, self.rows, self.shift, self.proto = windows, rows, shift, proto

    def batch(self, idxs: Sequence[int]) -> torch.Tensor:
        w = self.windows
        idx = torch.as_tensor(list(idxs), dtype=torch.long)
        ks, streams = idx // w.bs, idx % w.bs
        k = int(ks[0])
        if self.rows is None or not bool((ks == k).all()):  # windows of several batches (a custom sampler)
            out = torch.stack([w[int(i)][self.shift].as_subclass(torch.Tensor) for i in idx])
        else:
            sl = w.last_len if k == w.n_batches - 1 else w.seq_len
            start = k * w.seq_len + self.shift
            out = self.rows[streams, start : start + sl]
        cls: type[TensorText] = LMTensorText if self.shift == 0 else TensorText
        return cls(out, vocab=w.vocab_text)


def _text_vocab(docs: Any) -> Any:
    for tl in getattr(docs, "tls", []):
        for t in getattr(getattr(tl, "tfms", None), "fs", []):
            if isinstance(t, Numericalize):
                return t.vocab
    return None


class LMDataLoader(DataLoader):
    """A language model's loader (fastai's `LMDataLoader`): each pass concatenates the documents (in a new random
    order with `shuffle`) into one stream, cut into `bs` contiguous streams read `seq_len` tokens at a time;
    a batch is `(x, y)` with `y` the tokens following `x`. Consecutive batches continue each stream, so a stateful
    model (AWD_LSTM) carries its hidden state across them. `lens` (document lengths) is computed if not given.
    """

    def __init__(
        self, dataset: Any, lens: Sequence[int] | None = None, bs: int = 64, seq_len: int = 72, **kwargs: Any
    ) -> None:
        if seq_len < 1:
            raise ValueError(f"LMDataLoader: seq_len must be >= 1, got {seq_len}")
        kwargs.pop("drop_last", None)  # every window of the streams is used; batches are whole by construction
        self.docs, self.seq_len = dataset, seq_len
        self._doc_ids = [_ids(dataset[i]) for i in range(len(dataset))]  # cached ids (cache_all keeps them too)
        self.lens = [int(t.numel()) for t in self._doc_ids] if lens is None else list(lens)
        self._vocab = _text_vocab(dataset)
        first = self._windows(range(len(self._doc_ids)), bs)
        super().__init__(first, bs=bs, drop_last=False, **kwargs)
        self.init_kwargs.update(dataset=dataset, seq_len=seq_len, lens=None)

    def _windows(self, order: Sequence[int], bs: int) -> _LMWindows:
        parts = [self._doc_ids[i] for i in order]
        stream = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.long)
        return _LMWindows(self.docs, stream, bs, self.seq_len, self._vocab)

    def before_iter(self) -> None:
        """A new document order each pass (with `shuffle`), hence new streams."""
        if self.shuffle:
            order = torch.randperm(len(self._doc_ids), generator=self.generator).tolist()
            self.dataset = self._windows(order, self.bs)

    def get_idxs(self) -> Sequence[int]:
        return range(len(self.dataset))  # streams are read in order; shuffling happens on documents

    @property
    def n_inp(self) -> int:
        return 1

    @property
    def vocab(self) -> Any:
        return self._vocab

    def _as_text(self, table: Any) -> Any:
        """A table's target and prediction columns (token ids: the next tokens) decoded like the input column."""
        if isinstance(table, pd.DataFrame):
            tls = getattr(self.docs, "tls", None)
            for col in ("y", "y_pred"):
                if tls and col in table:
                    table[col] = [str(tls[0].decode(TensorText(torch.tensor(ids), vocab=self._vocab))) for ids in
                                  table[col]]  # fmt: skip
        return table

    def show_batch(self, b: Any = None, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = True) -> Any:
        """The windows of a batch and the tokens that follow them, decoded, as a table (`table=False`: a grid)."""
        return self._as_text(super().show_batch(b, max_n=max_n, ncols=ncols, scale=scale, table=table))

    def show_results(
        self, b: Any, preds: Any, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = True
    ) -> Any:
        """Windows, the tokens that follow them and the model's most likely next tokens (`y_pred`), as a table."""
        return self._as_text(super().show_results(b, preds, max_n=max_n, ncols=ncols, scale=scale, table=table))


class SortedDL(DataLoader):
    """Batches of texts of similar length (fastai's `SortedDL`): validation sorted longest first; training in random
    chunks of `50 * bs` items, each sorted, cut into batches whose order is shuffled (the longest batch first, to
    meet the peak memory at once). Give it `before_batch=PadInput(...)` to pad each batch."""

    def __init__(self, dataset: Any, res: Sequence[float] | None = None, **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.res = [float(_ids(dataset[i]).shape[0]) for i in range(len(dataset))] if res is None else list(res)
        if len(self.res) != len(dataset):
            raise ValueError(f"SortedDL: {len(self.res)} lengths (res) for {len(dataset)} items")
        self.init_kwargs.update(dataset=dataset, res=None)  # a copy on other items measures them again

    def get_idxs(self) -> Sequence[int]:
        res = self.res
        if not self.shuffle:
            return sorted(range(len(res)), key=lambda i: res[i], reverse=True)
        n, g = len(res), self.generator
        idxs = torch.randperm(n, generator=g).tolist()
        if n == 0:
            return idxs
        idx_max = max(range(n), key=lambda i: res[i])
        j = idxs.index(idx_max)
        idxs[0], idxs[j] = idxs[j], idxs[0]
        sz = self.bs * 50
        chunks = [sorted(idxs[i : i + sz], key=lambda i: res[i], reverse=True) for i in range(0, n, sz)]
        flat = [i for c in chunks for i in c]
        batches = [flat[i : i + self.bs] for i in range(0, n, self.bs)]
        if len(batches) <= 2:
            return flat
        middle = [batches[1 + k] for k in torch.randperm(len(batches) - 2, generator=g).tolist()]
        return [i for b in [batches[0], *middle, batches[-1]] for i in b]


class TextBlock(TransformBlock):
    """Text → token ids: `tok_tfm` (a `Tokenizer`), then `Numericalize` (vocab learned with `min_freq`/`max_vocab`,
    or given), token ids kept once computed (`cache_all`); an `LMDataLoader` (`is_lm`) or a `SortedDL` padding
    each batch with `PadInput(pad_first=True, seq_len=seq_len)` (fastai's `pad_input_chunk`)."""

    def __init__(
        self,
        tok_tfm: Tokenizer,
        vocab: Sequence[str] | None = None,
        is_lm: bool = False,
        seq_len: int = 72,
        backwards: bool = False,
        min_freq: int = 3,
        max_vocab: int = 60000,
    ) -> None:
        tfms: list[Any] = [tok_tfm, Numericalize(vocab, min_freq=min_freq, max_vocab=max_vocab)]
        if backwards:
            tfms.append(ReverseText())
        dl_type: type[DataLoader]
        dls_kwargs: dict[str, Any]
        if is_lm:
            dl_type, dls_kwargs = LMDataLoader, {"seq_len": seq_len}
        else:
            pad = PadInput(pad_idx=PAD_IDX, pad_first=True, backwards=backwards, seq_len=seq_len)
            dl_type, dls_kwargs = SortedDL, {"before_batch": pad}
        super().__init__(type_tfms=tfms, dl_type=dl_type, dls_kwargs=dls_kwargs, cache_all=True)
        self.is_lm, self.seq_len, self.backwards = is_lm, seq_len, backwards

    @classmethod
    def from_df(
        cls,
        text_cols: Any,
        vocab: Sequence[str] | None = None,
        is_lm: bool = False,
        seq_len: int = 72,
        backwards: bool = False,
        min_freq: int = 3,
        max_vocab: int = 60000,
        tok: Any = None,
        rules: Sequence[Callable[[str], str]] | None = None,
        n_workers: int | None = None,
    ) -> TextBlock:
        """For rows of a DataFrame: the text in `text_cols` (several are joined with `xxfld` markers)."""
        tok_tfm = Tokenizer.from_df(text_cols, tok=tok, rules=rules, n_workers=n_workers)
        return cls(tok_tfm, vocab, is_lm, seq_len, backwards, min_freq, max_vocab)

    @classmethod
    def from_folder(
        cls,
        vocab: Sequence[str] | None = None,
        is_lm: bool = False,
        seq_len: int = 72,
        backwards: bool = False,
        min_freq: int = 3,
        max_vocab: int = 60000,
        tok: Any = None,
        rules: Sequence[Callable[[str], str]] | None = None,
        n_workers: int | None = None,
    ) -> TextBlock:
        """For text files (items are paths)."""
        tok_tfm = Tokenizer.from_folder(tok=tok, rules=rules, n_workers=n_workers)
        return cls(tok_tfm, vocab, is_lm, seq_len, backwards, min_freq, max_vocab)


class TextDataLoaders(DataLoaders):
    """Factories for text data (fastai's `TextDataLoaders`): `from_folder`, `from_df`, `from_csv`; language-model
    data with `is_lm=True`. A classifier's data takes the language model's vocab with `text_vocab=`."""

    @property
    def text_vocab(self) -> list[str]:
        """The token vocabulary of the text input."""
        vocab = _text_vocab(self.train_ds) if not isinstance(self.train_ds, _LMWindows) else None
        if vocab is None:
            vocab = getattr(self.train, "vocab", None) if isinstance(self.train, LMDataLoader) else None
        if vocab is None:
            raise AttributeError("TextDataLoaders: no Numericalize step found in the training dataset")
        return list(vocab)

    @classmethod
    def from_folder(
        cls,
        path: str | Path,
        train: str = "train",
        valid: str = "valid",
        valid_pct: float | None = None,
        seed: int | None = None,
        vocab: Sequence[str] | None = None,
        text_vocab: Sequence[str] | None = None,
        is_lm: bool = False,
        tok: Any = None,
        rules: Sequence[Callable[[str], str]] | None = None,
        n_workers: int | None = None,
        seq_len: int = 72,
        backwards: bool = False,
        min_freq: int = 3,
        max_vocab: int = 60000,
        bs: int = 64,
        val_bs: int | None = None,
        **kwargs: Any,
    ) -> TextDataLoaders:
        """Text files under `path`, labelled by their folder's name (`train`/`valid` folders, or `valid_pct` at
        random). With `is_lm`, every text file becomes language-model data (no labels)."""
        path = Path(path)
        block = TextBlock.from_folder(text_vocab, is_lm, seq_len, backwards, min_freq, max_vocab, tok, rules, n_workers)
        splitter: GrandparentSplitter | RandomSplitter
        if valid_pct is None:
            splitter = GrandparentSplitter(train_name=train, valid_name=valid)
        else:
            splitter = RandomSplitter(valid_pct, seed=seed)
        folders = None if is_lm or valid_pct is not None else [train, valid]
        files = get_files(path, extensions=TEXT_EXTENSIONS, folders=folders)
        blocks = (block,) if is_lm else (block, CategoryBlock(vocab=vocab))
        dblock = DataBlock(blocks=blocks, splitter=splitter, get_y=None if is_lm else parent_label)
        dsets = dblock.datasets(files)
        return cls._build(dblock, dsets, bs, val_bs, **kwargs)

    @classmethod
    def _build(cls, dblock: DataBlock, dsets: Any, bs: int, val_bs: int | None, **kwargs: Any) -> TextDataLoaders:
        dls = dblock.dataloaders_from(dsets, bs=bs, val_bs=val_bs, **kwargs)
        return cls(*dls.loaders, loss_kind=dls.loss_kind if len(dsets.tls) > 1 else None, c=_c(dls))

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        text_col: Any = 0,
        label_col: Any = 1,
        valid_pct: float = 0.2,
        seed: int | None = None,
        valid_col: str | None = None,
        label_delim: str | None = None,
        y_block: Any = None,
        text_vocab: Sequence[str] | None = None,
        is_lm: bool = False,
        tok: Any = None,
        rules: Sequence[Callable[[str], str]] | None = None,
        n_workers: int | None = None,
        seq_len: int = 72,
        backwards: bool = False,
        min_freq: int = 3,
        max_vocab: int = 60000,
        bs: int = 64,
        val_bs: int | None = None,
        **kwargs: Any,
    ) -> TextDataLoaders:
        """Texts in `text_col` of `df` (a name or position), labels in `label_col` (split on `label_delim` for
        several labels); validation rows where `valid_col` is true, else `valid_pct` at random."""
        text_name = df.columns[text_col] if isinstance(text_col, int) else text_col
        block = TextBlock.from_df(
            text_name, text_vocab, is_lm, seq_len, backwards, min_freq, max_vocab, tok, rules, n_workers
        )
        splitter = RandomSplitter(valid_pct, seed=seed) if valid_col is None else ColSplitter(valid_col)
        if is_lm:
            dblock = DataBlock(blocks=(block,), splitter=splitter)
        else:
            label_name = df.columns[label_col] if isinstance(label_col, int) else label_col
            if y_block is None:
                y_block = MultiCategoryBlock if label_delim is not None else CategoryBlock
            get_y = ColReader(label_name, label_delim=label_delim) if label_delim else ColReader(label_name)
            dblock = DataBlock(blocks=(block, y_block), splitter=splitter, get_y=get_y)
        dsets = dblock.datasets(df)
        return cls._build(dblock, dsets, bs, val_bs, **kwargs)

    @classmethod
    def from_csv(
        cls, path: str | Path, csv_fname: str = "labels.csv", header: Any = "infer", delimiter: str | None = None,
        **kwargs: Any,
    ) -> TextDataLoaders:  # fmt: skip
        """`from_df` on `path/csv_fname` read with pandas."""
        df = pd.read_csv(Path(path) / csv_fname, header=header, delimiter=delimiter)
        return cls.from_df(df, **kwargs)

    def show_batch(self, b: Any = None, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = True) -> Any:
        """The decoded texts (and labels) of a batch as a pandas DataFrame (`table=False`: a canvas grid)."""
        return _drop_padding(super().show_batch(b, max_n=max_n, ncols=ncols, scale=scale, table=table))

    def show_results(
        self, b: Any, preds: Any, max_n: int = 9, ncols: int = 3, scale: int = 1, table: bool = True
    ) -> Any:
        """The decoded texts, their targets and the predictions (`<target>_pred` columns) as a pandas DataFrame
        (`table=False`: a canvas grid); what `learn.show_results()` shows for text."""
        return _drop_padding(super().show_results(b, preds, max_n=max_n, ncols=ncols, scale=scale, table=table))


def _drop_padding(table: Any) -> Any:
    """A table's text columns without the `xxpad` tokens their batch added (fastai's tables show none)."""
    if isinstance(table, pd.DataFrame):
        for col in table.columns:
            if str(col).startswith("x") and table[col].map(lambda v: isinstance(v, str)).all():
                table[col] = [" ".join(t for t in v.split(" ") if t != PAD) for v in table[col]]
    return table


def _c(dls: DataLoaders) -> int | None:
    try:
        return dls.c
    except (AttributeError, ValueError, TypeError):
        return None
