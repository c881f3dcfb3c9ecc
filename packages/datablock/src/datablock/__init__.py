"""datablock: Datasets, a fast DataLoader and the DataBlock API."""

from datablock.__about__ import __version__
from datablock.getters import get_files

__all__ = ["__version__", "get_files"]
