"""gpu_augment: batch augmentation where the batch lives, one resampling per batch."""

from gpu_augment.__about__ import __version__
from gpu_augment.affine import AffineCoordTfm, Dihedral, Flip, RandomResizedCropGPU, Resize, Rotate, Warp, Zoom
from gpu_augment.kernels import AffineParams, affine_boxes, affine_image, affine_mask, affine_points, inside_canvas
from gpu_augment.matrices import rotation_matrix

__all__ = [
    "__version__",
    "AffineCoordTfm",
    "Flip",
    "Dihedral",
    "Rotate",
    "Zoom",
    "Warp",
    "RandomResizedCropGPU",
    "Resize",
    "AffineParams",
    "affine_image",
    "affine_mask",
    "affine_points",
    "affine_boxes",
    "inside_canvas",
    "rotation_matrix",
]
