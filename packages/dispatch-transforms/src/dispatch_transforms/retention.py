"""Return-type retention: a result of a supertype of the input's type is cast back to the input's type.

`encodes(self, x: MyStr)` returning a plain `str` gives a `MyStr`; a typed tensor that comes back as a
plain tensor is re-typed with its metadata through the classmethod protocol
`type(like).wrap(result, like=like)`. An explicit return annotation names the target class instead.
A Transform class with `retain = False` (or `Transform(enc=f, retain=False)`) returns results as they
are; `-> None` is the deprecated spelling of that switch (it warns once per function that returns a value).
"""

from __future__ import annotations

import inspect
from typing import Any

from dispatch_transforms.dispatch import KEEP, RETAIN, NoneAlias

__all__ = ["cast_like", "retain"]

# Per class: does it provide the `wrap(result, like=...)` classmethod?
_HAS_WRAP: dict[type, bool] = {}


def _has_wrap(cls: type) -> bool:
    try:
        return _HAS_WRAP[cls]
    except KeyError:
        found = isinstance(inspect.getattr_static(cls, "wrap", None), classmethod)
        _HAS_WRAP[cls] = found
        return found


def cast_like(result: Any, cls: type, like: Any) -> Any:
    """`result` as a `cls`: `cls.wrap(result, like=like)` when `cls` has that classmethod, else `cls(result)`."""
    if _has_wrap(cls):
        return cls.wrap(result, like=like)
    return cls(result)


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
