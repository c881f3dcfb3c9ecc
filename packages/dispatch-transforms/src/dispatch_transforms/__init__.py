"""dispatch_transforms: reversible, type-dispatched transforms and pipelines."""

from dispatch_transforms.__about__ import __version__
from dispatch_transforms.compose import compose

__all__ = ["__version__", "compose"]
