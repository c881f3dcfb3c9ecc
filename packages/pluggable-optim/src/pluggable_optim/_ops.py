"""Foreach operations whose scalar argument may be a Python number, a list of them, or 0-dim tensors.

Eagerly, hyper-parameters are Python floats and the cheapest `torch._foreach_*` overload is used. Under the fused
path (`torch.compile`), hyper-parameters and step counts arrive as 0-dim tensors so that changing them (a scheduler
moving `lr` every batch) does not recompile; these helpers then multiply explicitly, which the compiler fuses.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeAlias, TypeGuard

import torch
from torch import Tensor

__all__ = [
    "Scalar",
    "Tensors",
    "add_",
    "add_scaled_",
    "added_scaled",
    "addcdiv_",
    "addcmul_",
    "div_",
    "lerp_",
    "mul",
    "mul_",
    "nonzero",
    "per_count",
    "sqrt",
]

Scalar: TypeAlias = float | Tensor | list[float] | list[Tensor]
# What the foreach ops take and give (eagerly they return lists; torch's stubs say tuples).
Tensors: TypeAlias = list[Tensor] | tuple[Tensor, ...]


def _is_plain(s: Any) -> TypeGuard[float]:
    """A Python number (the eager case), as opposed to a 0-dim tensor or a list of values."""
    return isinstance(s, int | float)


def _all_plain(s: list[Any]) -> TypeGuard[list[float]]:
    return all(_is_plain(v) for v in s)


def _each(s: Any, xs: Tensors) -> Any:
    """A 0-dim tensor scalar as one per tensor: foreach ops given a tensor scalar read its value (`.item()`),
    which the compiler cannot trace; a list of 0-dim tensors broadcasts instead."""
    return [s] * len(xs) if isinstance(s, Tensor) else s


def mul_(xs: Tensors, s: Scalar) -> None:
    """`x *= s` for each tensor."""
    torch._foreach_mul_(xs, _each(s, xs))


def mul(xs: Tensors, s: Scalar) -> Tensors:
    """New tensors `x * s`."""
    return torch._foreach_mul(xs, _each(s, xs))


def div_(xs: Tensors, s: Scalar) -> None:
    """`x /= s` for each tensor."""
    torch._foreach_div_(xs, _each(s, xs))


def add_(xs: Tensors, s: Scalar) -> None:
    """`x += s` for each tensor."""
    torch._foreach_add_(xs, _each(s, xs))


def nonzero(x: float | Tensor) -> bool:
    """Whether a term weighted by `x` must be computed: a tensor (value unknown while compiling) always counts."""
    return True if isinstance(x, Tensor) else x != 0


def sqrt(x: float | Tensor) -> float | Tensor:
    """Square root of a Python number or a tensor."""
    return x**0.5


def per_count(counts: list[Any], fn: Callable[[Any], Any]) -> Any:
    """`fn(count)` once when every tensor has the same step count (one cheap scalar), else one value per tensor."""
    first = counts[0]
    if all(c is first for c in counts) or (_is_plain(first) and all(c == first for c in counts)):
        return fn(first)
    return [fn(c) for c in counts]


def add_scaled_(xs: Tensors, ys: Tensors, s: Scalar) -> None:
    """`x += s * y` for each pair."""
    if _is_plain(s):
        torch._foreach_add_(xs, ys, alpha=s)
    else:
        torch._foreach_add_(xs, mul(ys, s))


def addcdiv_(xs: Tensors, a: Tensors, b: Tensors, s: Scalar) -> None:
    """`x += s * a / b` for each triple."""
    if _is_plain(s):
        torch._foreach_addcdiv_(xs, a, b, value=s)
    elif isinstance(s, list) and _all_plain(s):
        torch._foreach_addcdiv_(xs, a, b, s)
    else:
        torch._foreach_add_(xs, mul(torch._foreach_div(a, b), s))


def lerp_(xs: Tensors, ys: Tensors, w: float | Tensor) -> None:
    """`x += w * (y - x)` for each pair."""
    if _is_plain(w):
        torch._foreach_lerp_(xs, ys, w)
    else:
        torch._foreach_add_(xs, mul(torch._foreach_sub(ys, xs), w))


def added_scaled(xs: Tensors, ys: Tensors, s: float | Tensor) -> Tensors:
    """New tensors `x + s * y` (the inputs are left alone)."""
    if _is_plain(s):
        return torch._foreach_add(xs, ys, alpha=s)
    return torch._foreach_add(xs, mul(ys, s))


def addcmul_(xs: Tensors, a: Tensors, b: Tensors, s: float | Tensor) -> None:
    """`x += s * a * b` for each triple."""
    if _is_plain(s):
        torch._foreach_addcmul_(xs, a, b, value=s)
    else:
        torch._foreach_add_(xs, mul(torch._foreach_mul(a, b), s))
