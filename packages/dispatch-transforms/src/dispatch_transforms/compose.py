"""Plain function composition, the degenerate case of a Pipeline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["compose"]


def compose(*funcs: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """Return a function applying `funcs` left to right (`compose(f, g)(x) == g(f(x))`)."""

    def composed(x: Any) -> Any:
        for f in funcs:
            x = f(x)
        return x

    return composed
