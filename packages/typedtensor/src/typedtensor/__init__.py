"""typedtensor: semantic tensor types that keep their type and metadata through torch ops and show themselves."""

from typedtensor.__about__ import __version__
from typedtensor.canvas import Canvas, show_images
from typedtensor.core import TensorBase, mixed_rules, register_mixed_rule, result_type
from typedtensor.retype import cast, retain_type, wrap
from typedtensor.serialize import load, safe_globals
from typedtensor.tensors import (
    TensorBBox,
    TensorCategory,
    TensorImage,
    TensorImageBW,
    TensorMask,
    TensorMultiCategory,
    TensorPoint,
    TensorText,
)
from typedtensor.unwrap import as_plain

__all__ = [
    "__version__",
    "TensorBase",
    "TensorImage",
    "TensorImageBW",
    "TensorMask",
    "TensorPoint",
    "TensorBBox",
    "TensorCategory",
    "TensorMultiCategory",
    "TensorText",
    "wrap",
    "retain_type",
    "cast",
    "as_plain",
    "safe_globals",
    "load",
    "Canvas",
    "show_images",
    "mixed_rules",
    "register_mixed_rule",
    "result_type",
]
