"""Image files: which extensions are images, listing them, and finding the ones that do not open."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from PIL import Image

from datablock import get_files

__all__ = ["image_extensions", "get_image_files", "verify_image", "verify_images"]

# fastai's set is every extension `mimetypes` maps to an image/* type; that table varies with the system's
# mime files, so the same list is written out here (plus the formats Pillow reads that it lacks).
image_extensions: frozenset[str] = frozenset(
    {
        ".avif", ".bmp", ".dib", ".gif", ".heic", ".heif", ".ico", ".ief", ".jfif", ".jp2", ".jpe", ".jpeg",
        ".jpg", ".pbm", ".pgm", ".png", ".pnm", ".ppm", ".ras", ".rgb", ".svg", ".tga", ".tif", ".tiff",
        ".webp", ".xbm", ".xpm", ".xwd",
    }
)  # fmt: skip
"""File extensions (lower case, with the dot) of image files, for `get_files(path, extensions=...)`."""


def get_image_files(
    path: str | os.PathLike[str], recurse: bool = True, folders: Iterable[str] | None = None
) -> list[Path]:
    """The image files under `path` (sorted), optionally only in the top-level `folders`."""
    return get_files(path, extensions=image_extensions, recurse=recurse, folders=folders)


def verify_image(fn: str | os.PathLike[str]) -> bool:
    """True when `fn` opens and decodes as an image."""
    try:
        with Image.open(fn) as im:
            im.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return False
    return True


def verify_images(fns: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files of `fns` that do not open as images (to delete or inspect before training)."""
    return [Path(f) for f in fns if not verify_image(f)]
