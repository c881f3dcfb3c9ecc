"""Normalization layers with fastai's initialisation, and `NormType`, the choice a `ConvLayer` offers."""

from __future__ import annotations

from enum import Enum
from typing import Any, overload

from torch import Tensor, nn

__all__ = ["NormType", "BatchNorm", "InstanceNorm"]


class NormType(str, Enum):
    """Which normalization a layer uses; `...Zero` variants start with gamma 0 (a residual branch starts as
    the identity). A plain string with the same name is accepted wherever a `NormType` is."""

    Batch = "Batch"
    BatchZero = "BatchZero"
    Weight = "Weight"
    Spectral = "Spectral"
    Instance = "Instance"
    InstanceZero = "InstanceZero"


@overload
def norm_type_of(norm_type: NormType | str) -> NormType: ...
@overload
def norm_type_of(norm_type: None) -> None: ...
@overload
def norm_type_of(norm_type: NormType | str | None) -> NormType | None: ...
def norm_type_of(norm_type: NormType | str | None) -> NormType | None:
    """`norm_type` as a `NormType` (None stays None); a clear error for an unknown name."""
    if norm_type is None:
        return None
    try:
        return NormType(norm_type)
    except ValueError:
        raise ValueError(
            f"norm_type: expected None or one of {[n.value for n in NormType]}, got {norm_type!r}"
        ) from None


def _check_ndim(ndim: int) -> int:
    if ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1, 2 or 3, got {ndim!r}")
    return ndim


def _init_norm(norm: nn.Module, zero: bool) -> nn.Module:
    # fastai's _get_norm: beta a little above 0, gamma 1 (or 0 for a residual branch's last norm)
    weight, bias = norm.weight, norm.bias  # Parameters when affine (None otherwise)
    if getattr(norm, "affine", False) and isinstance(weight, Tensor) and isinstance(bias, Tensor):
        nn.init.constant_(bias, 1e-3)
        nn.init.constant_(weight, 0.0 if zero else 1.0)
    return norm


def BatchNorm(nf: int, ndim: int = 2, norm_type: NormType | str = NormType.Batch, **kwargs: Any) -> nn.Module:
    """`BatchNorm{ndim}d(nf)` with bias 1e-3 and weight 1 (0 for `NormType.BatchZero`), as fastai."""
    cls = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[_check_ndim(ndim) - 1]
    return _init_norm(cls(nf, **kwargs), zero=norm_type_of(norm_type) is NormType.BatchZero)


def InstanceNorm(
    nf: int, ndim: int = 2, norm_type: NormType | str = NormType.Instance, affine: bool = True, **kwargs: Any
) -> nn.Module:
    """`InstanceNorm{ndim}d(nf, affine=True)` with fastai's init (weight 0 for `NormType.InstanceZero`)."""
    cls = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)[_check_ndim(ndim) - 1]
    return _init_norm(cls(nf, affine=affine, **kwargs), zero=norm_type_of(norm_type) is NormType.InstanceZero)
