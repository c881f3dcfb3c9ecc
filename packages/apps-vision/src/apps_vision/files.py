"""What counts as an image file."""

from __future__ import annotations

from PIL import Image

__all__ = ["image_extensions"]


def image_extensions() -> frozenset[str]:
    """File extensions (lower case, with the dot) that the installed Pillow can open."""
    Image.init()
    return frozenset(ext.lower() for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN)
