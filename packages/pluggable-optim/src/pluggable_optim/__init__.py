"""pluggable_optim: optimizers composed from stats and steppers."""

from pluggable_optim.__about__ import __version__
from pluggable_optim.hypers import spread_slice

__all__ = ["__version__", "spread_slice"]
