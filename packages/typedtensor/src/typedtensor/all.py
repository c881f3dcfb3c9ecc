"""Every public name of typedtensor in one module, for `from typedtensor.all import *` in notebooks.

Nothing in tiers imports this module; each name also has its explicit home (see `typedtensor.__init__`).
"""

from typedtensor import (
    Canvas,
    TensorBase,
    TensorBBox,
    TensorCategory,
    TensorImage,
    TensorImageBW,
    TensorMask,
    TensorMultiCategory,
    TensorPoint,
    TensorText,
    as_plain,
    cast,
    load,
    mixed_rules,
    register_mixed_rule,
    result_type,
    retain_type,
    safe_globals,
    show_images,
    wrap,
)
from typedtensor.testing import assert_same_typed, check_typed_op

__all__ = [
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
    "check_typed_op",
    "assert_same_typed",
]
