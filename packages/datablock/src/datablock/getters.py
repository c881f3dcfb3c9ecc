"""Getters: find items (files on disk) and read fields out of them (an index, an attribute, a column)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["get_files", "FileGetter", "ItemGetter", "AttrGetter", "ColReader"]


def _scan(path: str, extensions: set[str] | None, recurse: bool, folders: set[str] | None, top: bool) -> list[Path]:
    found: list[Path] = []
    subdirs: list[str] = []
    with os.scandir(path) as it:
        for entry in it:
            if entry.is_dir(follow_symlinks=True):
                if not entry.name.startswith("."):
                    subdirs.append(entry.name)
            elif extensions is None or os.path.splitext(entry.name)[1].lower() in extensions:
                found.append(Path(entry.path))
    if recurse:
        for d in sorted(subdirs):
            if top and folders is not None and d not in folders:
                continue
            found.extend(_scan(os.path.join(path, d), extensions, recurse, folders, top=False))
    return sorted(found) if top else found


def _name_list(names: str | Iterable[str] | None, where: str, what: str) -> list[str] | None:
    """`names` (extensions, folder names) as a list of strings: one string, or a list, tuple, set or frozenset.

    A string is one name, never iterated letter by letter; other containers are refused, since what they
    hold cannot be told from a mistake.
    """
    if names is None:
        return None
    if isinstance(names, str):
        return [names]
    example = "'.png'" if what == "extensions" else "'train'"
    if not isinstance(names, (list, tuple, set, frozenset)):
        raise TypeError(
            f"{where}: {what} must be one string such as {example} or a list/tuple/set of them, "
            f"got {type(names).__name__} {_short(names)}"
        )
    bad = [e for e in names if not isinstance(e, str)]
    if bad:
        raise TypeError(f"{where}: each of {what} must be a string such as {example}, got {_short(bad[0])}")
    return sorted(names) if isinstance(names, (set, frozenset)) else list(names)


def get_files(
    path: str | os.PathLike[str],
    extensions: str | Iterable[str] | None = None,
    recurse: bool = True,
    folders: Iterable[str] | None = None,
) -> list[Path]:
    """List the files under `path` (sorted), optionally by extension and top-level folder.

    `extensions` is one extension (".png" or "png") or a list/tuple/set of them, matched case-insensitively
    (`c.PNG` is a ".png" file); `folders` likewise names one top-level folder or several. Uses `os.scandir`,
    so a folder of 100k images is listed in milliseconds; hidden folders (starting with '.') are skipped.
    """
    wanted = _name_list(extensions, "get_files", "extensions")
    if not os.path.isdir(path):
        raise FileNotFoundError(f"get_files: {os.fspath(path)!r} is not a directory")
    exts = None if wanted is None else {e.lower() if e.startswith(".") or not e else f".{e.lower()}" for e in wanted}
    top_folders = _name_list(folders, "get_files", "folders")
    return _scan(os.fspath(path), exts, recurse, None if top_folders is None else set(top_folders), top=True)


class FileGetter:
    """A `get_items` for `DataBlock`: `FileGetter(suf, extensions)(path)` lists the files of `path/suf`."""

    config_safe = True  # rebuilt from plain data by datablock.config (it holds only plain arguments)

    def __init__(
        self,
        suf: str = "",
        extensions: str | Iterable[str] | None = None,
        recurse: bool = True,
        folders: Iterable[str] | None = None,
    ) -> None:
        self.suf = suf
        self.extensions = _name_list(extensions, "FileGetter", "extensions")
        self.recurse = recurse
        self.folders = _name_list(folders, "FileGetter", "folders")

    def __call__(self, path: str | os.PathLike[str]) -> list[Path]:
        return get_files(Path(path) / self.suf, self.extensions, self.recurse, self.folders)

    def __repr__(self) -> str:
        return f"FileGetter(suf={self.suf!r}, extensions={self.extensions!r}, recurse={self.recurse})"


class ItemGetter:
    """`ItemGetter(i)(o)` is `o[i]`: picks one element of a tuple, a row or a dict."""

    config_safe = True  # rebuilt from plain data by datablock.config (it holds only plain arguments)

    def __init__(self, i: Any) -> None:
        self.i = i

    def __call__(self, o: Any) -> Any:
        try:
            return o[self.i]
        except (IndexError, KeyError, TypeError) as e:
            raise type(e)(f"ItemGetter({self.i!r}): cannot index item {_short(o)}: {e}") from e

    def __repr__(self) -> str:
        return f"ItemGetter({self.i!r})"


class AttrGetter:
    """`AttrGetter(name)(o)` is `o.name` (or `default` when given and the attribute is missing)."""

    config_safe = True  # rebuilt from plain data by datablock.config (it holds only plain arguments)

    _missing = object()

    def __init__(self, name: str, default: Any = _missing) -> None:
        self.name = name
        self.default = default

    def __call__(self, o: Any) -> Any:
        if self.default is AttrGetter._missing:
            try:
                return getattr(o, self.name)
            except AttributeError as e:
                raise AttributeError(f"AttrGetter({self.name!r}): item {_short(o)} has no such attribute") from e
        return getattr(o, self.name, self.default)

    def __repr__(self) -> str:
        return f"AttrGetter({self.name!r})"


class ColReader:
    """Read column(s) `cols` of a DataFrame row (a `Series` or an `itertuples` namedtuple).

    `pref`/`suff` turn a file-name column into a path (a `Path` prefix joins as a folder);
    `label_delim` splits a multi-label string into a list; several columns give a list.
    """

    config_safe = True  # rebuilt from plain data by datablock.config (it holds only plain arguments)

    def __init__(
        self,
        cols: int | str | Sequence[int | str],
        pref: str | os.PathLike[str] = "",
        suff: str = "",
        label_delim: str | None = None,
    ) -> None:
        self.cols = [cols] if isinstance(cols, (int, str)) else list(cols)
        self.pref = pref
        self.suff = suff
        self.label_delim = label_delim

    def _get(self, row: Any, c: int | str) -> Any:
        try:
            if isinstance(c, int):
                # itertuples rows start with the index; a Series is read by position
                return row.iloc[c] if hasattr(row, "iloc") else row[c + 1] if hasattr(row, "_fields") else row[c]
            return getattr(row, c) if hasattr(row, "_fields") else row[c]
        except (KeyError, IndexError, AttributeError) as e:
            raise KeyError(f"ColReader: column {c!r} not found in row {_short(row)}") from e

    def _transform(self, value: Any) -> Any:
        if isinstance(self.pref, Path):
            return self.pref / f"{value}{self.suff}"
        if self.pref or self.suff:
            return f"{self.pref}{value}{self.suff}"
        if self.label_delim is not None:
            if isinstance(value, float) and value != value:  # NaN: an empty cell means no labels
                return []
            return [v for v in str(value).split(self.label_delim) if v]
        return value

    def __call__(self, row: Any) -> Any:
        values = [self._transform(self._get(row, c)) for c in self.cols]
        return values[0] if len(values) == 1 else values

    def __repr__(self) -> str:
        return f"ColReader({self.cols!r}, pref={self.pref!r}, suff={self.suff!r}, label_delim={self.label_delim!r})"


def _short(o: Any, n: int = 80) -> str:
    r = repr(o)
    return r if len(r) <= n else r[: n - 3] + "..."
