"""apps_vision: image classification and segmentation in a few lines."""

from apps_vision.__about__ import __version__
from apps_vision.files import image_extensions

__all__ = ["__version__", "image_extensions"]
