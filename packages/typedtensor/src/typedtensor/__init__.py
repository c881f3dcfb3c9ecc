"""typedtensor: semantic tensor types that keep their type and metadata."""

from typedtensor.__about__ import __version__
from typedtensor.unwrap import as_plain

__all__ = ["__version__", "as_plain"]
