"""dispatch_transforms: reversible, type-dispatched transforms and pipelines (plum-dispatch, never torch)."""

from dispatch_transforms.__about__ import __version__
from dispatch_transforms.compose import compose
from dispatch_transforms.dispatch import AmbiguousDispatchError, TypeDispatch
from dispatch_transforms.errors import TransformError
from dispatch_transforms.pipeline import Pipeline
from dispatch_transforms.rand import SKIP, RandTransform, default_generator
from dispatch_transforms.transform import DisplayedTransform, InplaceTransform, ItemTransform, Transform

__all__ = [
    "__version__",
    "Transform",
    "ItemTransform",
    "DisplayedTransform",
    "InplaceTransform",
    "Pipeline",
    "RandTransform",
    "SKIP",
    "default_generator",
    "TypeDispatch",
    "TransformError",
    "AmbiguousDispatchError",
    "compose",
]
