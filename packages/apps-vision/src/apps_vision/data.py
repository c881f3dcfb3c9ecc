"""`ImageDataLoaders` and `SegmentationDataLoaders`: DataLoaders from folders, names, data frames or lists in a line.

Arguments and defaults are fastai's. Every factory builds a `DataBlock` and calls `from_dblock`, so the
DataBlock each one uses is the documentation of what it does.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import torch

if TYPE_CHECKING:
    import pandas as pd

from apps_vision.blocks import ImageBlock, MaskBlock
from apps_vision.core import PILBase, PILImage
from apps_vision.files import image_extensions
from datablock import (
    CategoryBlock,
    ColReader,
    ColSplitter,
    DataBlock,
    DataLoaders,
    FileGetter,
    GrandparentSplitter,
    ItemGetter,
    MultiCategoryBlock,
    RandomSplitter,
    RegexLabeller,
    RegressionBlock,
    parent_label,
)

__all__ = ["ImageDataLoaders", "SegmentationDataLoaders", "UsingAttr"]

PathLike = str | os.PathLike[str]


class UsingAttr:
    """`UsingAttr(f, "name")(o)` is `f(o.name)`: a label function of a file's name rather than its path."""

    def __init__(self, func: Callable[[Any], Any], attr: str = "name") -> None:
        self.func, self.attr = func, attr

    def __call__(self, o: Any) -> Any:
        return self.func(getattr(Path(o) if isinstance(o, str) else o, self.attr))

    def __repr__(self) -> str:
        return f"UsingAttr({getattr(self.func, '__name__', self.func)!r}, {self.attr!r})"


_D = TypeVar("_D", bound="_VisionDataLoaders")  # the factories build these; they carry `.path`


def _seq(x: Any, what: str, who: str) -> list[Any]:
    """`x` as a list; a single string or path is refused (iterating it would give its characters or fail later)."""
    if isinstance(x, (str, bytes, os.PathLike)):
        raise TypeError(f"{who}: {what} must be a list, got the single {type(x).__name__} {str(x)!r}; pass [{x!r}]")
    return list(x)


def _finish(dls: DataLoaders, cls: type[_D], path: PathLike, val_bs: int | None) -> _D:
    loaders = list(dls.loaders)
    if val_bs is not None:
        loaders[1:] = [dl.new(bs=val_bs) for dl in loaders[1:]]
    out = cls(*loaders, loss_kind=getattr(dls, "loss_kind", None))
    out.path = Path(path)
    return out


class _VisionDataLoaders(DataLoaders):
    """What the vision factories share: `from_dblock`, which each `from_*` ends with."""

    path: Path  # where the data came from (`path=` of the factory)

    @classmethod
    def from_dblock(
        cls: type[_D],
        dblock: DataBlock,
        source: Any,
        path: PathLike = ".",
        bs: int = 64,
        val_bs: int | None = None,
        shuffle: bool = True,
        device: torch.device | str | None = None,
        **kwargs: Any,
    ) -> _D:
        """`dblock.dataloaders(source)` as this class; `val_bs` (default `bs`) for validation; `.path` is `path`."""
        dls = dblock.dataloaders(source, bs=bs, shuffle=shuffle, device=device, **kwargs)
        return _finish(dls, cls, path, val_bs)


def _image_dblock(img_cls: type[PILBase], y_block: Any, item_tfms: Any, batch_tfms: Any, **kwargs: Any) -> DataBlock:
    """The DataBlock of every factory: an `ImageBlock(img_cls)` input, the `y_block` target, the transforms, and
    how to get items, labels and the split (`kwargs`)."""
    return DataBlock(blocks=(ImageBlock(img_cls), y_block), item_tfms=item_tfms, batch_tfms=batch_tfms, **kwargs)


class ImageDataLoaders(_VisionDataLoaders):
    """DataLoaders for image classification (single- or multi-label, or regression) in one call."""

    @classmethod
    def from_folder(
        cls,
        path: PathLike,
        train: str = "train",
        valid: str = "valid",
        valid_pct: float | None = None,
        seed: int | None = None,
        vocab: Sequence[Any] | None = None,
        item_tfms: Any = None,
        batch_tfms: Any = None,
        img_cls: type[PILBase] = PILImage,
        **kwargs: Any,
    ) -> ImageDataLoaders:
        """Images in `path/<train|valid>/<label>/` (or, with `valid_pct`, in `path/**/<label>/`, split at random)."""
        if valid_pct is None:
            splitter: Any = GrandparentSplitter(train_name=train, valid_name=valid)
            get_items = FileGetter(extensions=sorted(image_extensions), folders=[train, valid])
        else:
            splitter = RandomSplitter(valid_pct, seed=seed)
            get_items = FileGetter(extensions=sorted(image_extensions))
        dblock = _image_dblock(
            img_cls, CategoryBlock(vocab=vocab), item_tfms, batch_tfms, get_items=get_items, splitter=splitter,
            get_y=parent_label,
        )  # fmt: skip
        return cls.from_dblock(dblock, path, path=path, **kwargs)

    @classmethod
    def from_path_func(
        cls,
        path: PathLike,
        fnames: Sequence[PathLike],
        label_func: Callable[[Any], Any],
        valid_pct: float = 0.2,
        seed: int | None = None,
        item_tfms: Any = None,
        batch_tfms: Any = None,
        img_cls: type[PILBase] = PILImage,
        **kwargs: Any,
    ) -> ImageDataLoaders:
        """Images `fnames` labelled by `label_func(path)`, a random `valid_pct` for validation."""
        splitter = RandomSplitter(valid_pct, seed=seed)
        dblock = _image_dblock(img_cls, CategoryBlock, item_tfms, batch_tfms, splitter=splitter, get_y=label_func)
        return cls.from_dblock(dblock, _seq(fnames, "fnames", "ImageDataLoaders.from_path_func"), path=path, **kwargs)

    @classmethod
    def from_name_func(
        cls, path: PathLike, fnames: Sequence[PathLike], label_func: Callable[[str], Any], **kwargs: Any
    ) -> ImageDataLoaders:
        """Images `fnames` labelled by `label_func(file name)` (e.g. upper-case first letter: a cat)."""
        return cls.from_path_func(path, fnames, UsingAttr(label_func, "name"), **kwargs)

    @classmethod
    def from_path_re(cls, path: PathLike, fnames: Sequence[PathLike], pat: str, **kwargs: Any) -> ImageDataLoaders:
        """Images `fnames` labelled by the first group of regex `pat` on the full path."""
        return cls.from_path_func(path, fnames, RegexLabeller(pat), **kwargs)

    @classmethod
    def from_name_re(cls, path: PathLike, fnames: Sequence[PathLike], pat: str, **kwargs: Any) -> ImageDataLoaders:
        """Images `fnames` labelled by the first group of regex `pat` on the file name."""
        return cls.from_name_func(path, fnames, RegexLabeller(pat), **kwargs)

    @classmethod
    def from_df(
        cls,
        df: pd.DataFrame,
        path: PathLike = ".",
        valid_pct: float = 0.2,
        seed: int | None = None,
        fn_col: int | str = 0,
        folder: str | None = None,
        suff: str = "",
        label_col: int | str | Sequence[int | str] = 1,
        label_delim: str | None = None,
        y_block: Any = None,
        valid_col: int | str | None = None,
        item_tfms: Any = None,
        batch_tfms: Any = None,
        img_cls: type[PILBase] = PILImage,
        **kwargs: Any,
    ) -> ImageDataLoaders:
        """Images named in column `fn_col` (under `path/folder`, plus `suff`), labels in `label_col` (split by
        `label_delim`: multi-label); `valid_col` (booleans) or a random `valid_pct` picks validation."""
        pref = Path(path) if folder is None else Path(path) / folder
        if y_block is None:
            multi = (isinstance(label_col, (list, tuple)) and len(label_col) > 1) or label_delim is not None
            y_block = MultiCategoryBlock if multi else CategoryBlock
        splitter = RandomSplitter(valid_pct, seed=seed) if valid_col is None else ColSplitter(valid_col)
        dblock = _image_dblock(
            img_cls, y_block, item_tfms, batch_tfms, get_x=ColReader(fn_col, pref=pref, suff=suff),
            get_y=ColReader(label_col, label_delim=label_delim), splitter=splitter,
        )  # fmt: skip
        return cls.from_dblock(dblock, df, path=path, **kwargs)

    @classmethod
    def from_csv(
        cls,
        path: PathLike,
        csv_fname: str = "labels.csv",
        header: int | str | None = "infer",
        delimiter: str | None = None,
        quoting: int = csv.QUOTE_MINIMAL,
        **kwargs: Any,
    ) -> ImageDataLoaders:
        """`from_df` on the CSV file `path/csv_fname`."""
        import pandas as pd  # only this factory reads files with pandas (import apps_vision stays light)

        kw = {} if delimiter is None else {"delimiter": delimiter}  # None would make pandas sniff the separator
        df = pd.read_csv(Path(path) / csv_fname, header=header, quoting=quoting, **kw)
        return cls.from_df(df, path=path, **kwargs)

    @classmethod
    def from_lists(
        cls,
        path: PathLike,
        fnames: Sequence[PathLike],
        labels: Sequence[Any],
        valid_pct: float = 0.2,
        seed: int | None = None,
        y_block: Any = None,
        item_tfms: Any = None,
        batch_tfms: Any = None,
        img_cls: type[PILBase] = PILImage,
        **kwargs: Any,
    ) -> ImageDataLoaders:
        """Images `fnames` with `labels` (lists of labels: multi-label; floats: regression)."""
        fnames = _seq(fnames, "fnames", "ImageDataLoaders.from_lists")
        labels = _seq(labels, "labels", "ImageDataLoaders.from_lists")
        if len(fnames) != len(labels):
            raise ValueError(f"ImageDataLoaders.from_lists: {len(fnames)} fnames but {len(labels)} labels")
        if y_block is None:
            first = labels[0]
            if isinstance(first, (list, tuple)):  # fastai also needs len > 1; a 1-label list is still multi-label
                y_block = MultiCategoryBlock
            elif isinstance(first, float):
                y_block = RegressionBlock
            else:
                y_block = CategoryBlock
        dblock = _image_dblock(
            img_cls, y_block, item_tfms, batch_tfms, get_x=ItemGetter(0), get_y=ItemGetter(1),
            splitter=RandomSplitter(valid_pct, seed=seed),
        )  # fmt: skip
        return cls.from_dblock(dblock, list(zip(fnames, labels, strict=True)), path=path, **kwargs)


class SegmentationDataLoaders(_VisionDataLoaders):
    """DataLoaders for segmentation: images and their masks."""

    path: Path  # where the data came from (`path=` of the factory)

    @classmethod
    def from_label_func(
        cls,
        path: PathLike,
        fnames: Sequence[PathLike],
        label_func: Callable[[Any], Any],
        valid_pct: float = 0.2,
        seed: int | None = None,
        codes: Sequence[str] | None = None,
        item_tfms: Any = None,
        batch_tfms: Any = None,
        img_cls: type[PILBase] = PILImage,
        **kwargs: Any,
    ) -> SegmentationDataLoaders:
        """Images `fnames` with masks at `label_func(fname)`; `codes` name the mask's classes."""
        dblock = _image_dblock(
            img_cls, MaskBlock(codes=codes), item_tfms, batch_tfms, splitter=RandomSplitter(valid_pct, seed=seed),
            get_y=label_func,
        )  # fmt: skip
        fnames = _seq(fnames, "fnames", "SegmentationDataLoaders.from_label_func")
        return cls.from_dblock(dblock, fnames, path=path, **kwargs)
