"""Safe loading of typed tensors: `safe_globals()` and `load()` with `weights_only=True`.

Typed tensors pickle through torch's own subclass protocol (`torch._tensor._rebuild_from_type_v2`),
their declared metadata travelling as the instance state. `torch.load(weights_only=True)` refuses
classes it does not know, so the types must be allowed: `typedtensor.load(f)` does that for you,
or use `with torch.serialization.safe_globals(typedtensor.safe_globals()): torch.load(f)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import IO, Any

import torch

from typedtensor.core import TensorBase

__all__ = ["safe_globals", "load"]


def safe_globals() -> list[Callable[..., Any] | tuple[Callable[..., Any], str]]:
    """`TensorBase` and every subclass defined so far (yours included), for `torch.serialization.safe_globals`."""
    found: list[Callable[..., Any] | tuple[Callable[..., Any], str]] = []
    todo: list[type] = [TensorBase]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.append(cls)
            todo.extend(cls.__subclasses__())
    return found


def load(
    f: str | os.PathLike[str] | IO[bytes],
    map_location: Any = None,
) -> Any:
    """`torch.load(f, weights_only=True)` with the typed tensor classes allowed: no arbitrary code runs."""
    with torch.serialization.safe_globals(safe_globals()):
        return torch.load(f, map_location=map_location, weights_only=True)
