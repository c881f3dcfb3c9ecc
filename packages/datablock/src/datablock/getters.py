"""Functions that find and read items: files on disk first."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["get_files"]


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


def get_files(
    path: str | os.PathLike[str],
    extensions: Iterable[str] | None = None,
    recurse: bool = True,
    folders: Iterable[str] | None = None,
) -> list[Path]:
    """List the files under `path` (sorted), optionally by extension and top-level folder.

    Uses `os.scandir`, so a folder of 100k images is listed in milliseconds; hidden
    folders (starting with '.') are skipped.
    """
    if not os.path.isdir(path):
        raise FileNotFoundError(f"get_files: {os.fspath(path)!r} is not a directory")
    exts = None if extensions is None else {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    return _scan(os.fspath(path), exts, recurse, None if folders is None else set(folders), top=True)
