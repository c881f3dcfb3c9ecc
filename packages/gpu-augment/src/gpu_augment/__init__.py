"""gpu_augment: batch augmentation where the batch lives, one resampling per batch."""

from gpu_augment.__about__ import __version__
from gpu_augment.affine import AffineCoordTfm, Dihedral, Flip, RandomResizedCropGPU, Resize, Rotate, Warp, Zoom
from gpu_augment.bbox import DropEmptyBoxes, PadEmptyBoxes, bb_pad, empty_boxes
from gpu_augment.color import LightingParams, lighting_image
from gpu_augment.draws import BatchRandTransform
from gpu_augment.erasing import ErasingParams, RandomErasing, erase_image
from gpu_augment.kernels import AffineParams, affine_boxes, affine_image, affine_mask, affine_points, inside_canvas
from gpu_augment.lighting import Brightness, Contrast, Hue, LightingTfm, Saturation
from gpu_augment.matrices import rotation_matrix
from gpu_augment.points import PointScaler
from gpu_augment.recipes import aug_transforms, setup_aug_tfms

__all__ = [
    "__version__",
    # recipes
    "aug_transforms",
    "setup_aug_tfms",
    # geometric transforms
    "AffineCoordTfm",
    "Flip",
    "Dihedral",
    "Rotate",
    "Zoom",
    "Warp",
    "RandomResizedCropGPU",
    "Resize",
    # lighting and erasing
    "LightingTfm",
    "Brightness",
    "Contrast",
    "Saturation",
    "Hue",
    "RandomErasing",
    # boxes
    "bb_pad",
    "empty_boxes",
    "DropEmptyBoxes",
    "PadEmptyBoxes",
    # points
    "PointScaler",
    # draws and kernels
    "BatchRandTransform",
    "AffineParams",
    "LightingParams",
    "ErasingParams",
    "affine_image",
    "affine_mask",
    "affine_points",
    "affine_boxes",
    "inside_canvas",
    "lighting_image",
    "erase_image",
    "rotation_matrix",
]
