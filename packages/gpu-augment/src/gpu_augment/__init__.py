"""gpu_augment: batch augmentation where the batch lives, one resampling per batch."""

from gpu_augment.__about__ import __version__
from gpu_augment.matrices import rotation_matrix

__all__ = ["__version__", "rotation_matrix"]
