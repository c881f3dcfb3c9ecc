"""Return-type retention: a result of a supertype of the input's type is cast back to the input's type.

`encodes(self, x: MyStr)` returning a plain `str` gives a `MyStr`; a typed tensor that comes back as a
plain tensor is re-typed with its metadata through the classmethod protocol
`type(like).wrap(result, like=like)`. An explicit return annotation names the target class instead.
A Transform class with `retain = False` (or `Transform(enc=f, retain=False)`) returns results as they
are; `-> None` is the deprecated spelling of that switch (it warns once per function that returns a value).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from dispatch_transforms.dispatch import KEEP, RETAIN, NoneAlias

__all__ = ["cast_like", "retain"]

# Per class: its `wrap(result, like=...)` classmethod (bound to the class), or None when it has none.
_WRAPS: dict[type, Callable[..., Any] | None] = {}


def _wrap_of(cls: type) -> Callable[..., Any] | None:
    try:
        return _WRAPS[cls]
    except KeyError:
        found = isinstance(inspect.getattr_static(cls, "wrap", None), classmethod)
        _WRAPS[cls] = getattr(cls, "wrap", None) if found else None
        return _WRAPS[cls]


def cast_like(result: Any, cls: type, like: Any) -> Any:
    """`result` as a `cls`: `cls.wrap(result, like=like)` when `cls` has that classmethod, else `cls(result)`."""
    wrap = _wrap_of(cls)
    return cls(result) if wrap is None else wrap(result, like=like)


def retain(result: Any, x: Any, rule: Any) -> Any:
    """Apply a return rule (RETAIN, KEEP, a `NoneAlias` or a class) to the `result` of a call on `x`."""
    if rule is RETAIN:
        rtype = type(result)
        if rtype is type(x) or not isinstance(x, rtype):
            return result
        return cast_like(result, type(x), x)
    if type(rule) is NoneAlias:
        if result is not None:
            rule.warn_once()
        return result
    if rule is KEEP or isinstance(result, rule) or not issubclass(rule, type(result)):
        return result
    return cast_like(result, rule, x)
