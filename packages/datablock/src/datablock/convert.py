"""`to_tensor`: items → typed tensors, dispatched on the item's type; other packages add their own types.

`to_tensor` is a `Conversion`: a function whose implementation is picked by the type of its argument
(the most specific registered annotation wins, as in a Transform's `encodes`). Another package adds a
type without touching this module::

    @to_tensor.register
    def _mask(x: PILMask) -> TensorMask:
        return TensorMask(torch.from_numpy(np.array(x)))

The `ToTensor` transform runs the same table, so a registration reaches every `ToTensor` (existing
instances included) and types nobody registered pass through it unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from dispatch_transforms import TypeDispatch
from typedtensor import TensorImage, TensorImageBW

__all__ = ["Conversion", "to_tensor"]


class Conversion:
    """A function dispatched on the type of its one argument, extended with `@conv.register`.

    `conv(x)` calls the implementation registered for the most specific class of `x` and raises a
    `TypeError` naming the type when none matches; `conv.handles(type)` says whether one does.
    """

    def __init__(self, name: str, funcs: list[Callable[[Any], Any]] | None = None) -> None:
        self.name = name
        # a standalone table (no owner, functions without self): the same machinery as `Transform(enc=f)`;
        # results come back as the implementation made them (`retain=False`), never re-typed like the input
        self.table = TypeDispatch(name, list(funcs or []), takes_self=False, retain=False)

    def register(self, func: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """Add `func` for the type its argument is annotated with (a class or a union); returns `func`.

        The return annotation says what `func` gives (nothing is re-typed); a later registration for the
        same annotation replaces the earlier one.
        """
        return self.table.dispatch(func)

    def handles(self, typ: type) -> bool:
        """True when some registered implementation accepts items of type `typ`."""
        return self.table.lookup(typ) is not None

    def __call__(self, x: Any) -> Any:
        found = self.table.lookup(type(x))
        if found is None:
            handled = ", ".join(self.table.handled_types()) or "nothing"
            raise TypeError(
                f"{self.name}: no conversion for {type(x).__name__} (registered: {handled}); "
                f"add one with @{self.name}.register"
            )
        return found[0](x)

    def __repr__(self) -> str:
        return f"<Conversion {self.name}: {', '.join(self.table.handled_types()) or 'nothing'}>"


def _pil_to_tensor(x: Image.Image) -> TensorImage:
    """A PIL image → channels-first uint8: 'L' images as `TensorImageBW` (1, H, W), others as RGB `TensorImage`."""
    # `wrap` re-types without the constructor's checks: a few µs per item on the hot path
    if x.mode == "L":
        return TensorImageBW.wrap(torch.from_numpy(np.array(x))[None])
    if x.mode != "RGB":
        x = x.convert("RGB")
    return TensorImage.wrap(torch.from_numpy(np.array(x)).permute(2, 0, 1))


def _array_to_tensor(x: np.ndarray) -> torch.Tensor:
    """An HWC (or HW) array → a channels-first `TensorImage`; other shapes → a plain tensor."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if t.ndim == 3 and t.shape[-1] in (1, 3, 4):
        return TensorImage(t.permute(2, 0, 1))
    if t.ndim == 2:
        return TensorImage(t[None])
    return t


to_tensor = Conversion("to_tensor", [_pil_to_tensor, _array_to_tensor])
