"""`RandTransform`: draw the random parameters once per call, then apply them; a draw can be replayed.

`draw(x, generator)` sees the whole input (the tuple of a sample), so every element of the sample
gets the same draw; `tfm(y, params=tfm.last_params)` applies that same draw to something else (the
mask of an image, in a test). By default the generator is the `random` module's shared instance, so
`random.seed(s)` makes a run repeat.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from dispatch_transforms.errors import TransformError
from dispatch_transforms.transform import DisplayedTransform

__all__ = ["RandTransform", "SKIP", "default_generator"]


class _Skip:
    """The draw of a call that `p` decided to skip; passing it as `params` returns the input unchanged."""

    _instance: _Skip | None = None

    def __new__(cls) -> _Skip:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "SKIP"

    def __reduce__(self) -> str:
        return "SKIP"


SKIP = _Skip()


def default_generator() -> random.Random:
    """The `random` module's shared generator (the one `random.seed` seeds)."""
    return random.random.__self__  # type: ignore[attr-defined]  # the bound method's instance (typeshed omits it)


class RandTransform(DisplayedTransform):
    """A Transform with random parameters, applied with probability `p`; training only by default.

    Per call: `decide(x, generator)` says whether it applies at all (with probability `p`); if so
    `draw(x, generator)` returns the parameters, which `encodes` reads as `self.params`.
    `last_params` keeps them (or `SKIP`) so `tfm(other, params=tfm.last_params)` replays the call.
    Override `draw` to draw parameters, `decide` to decide otherwise (e.g. per item of a batch) and
    `get_generator` to use another generator.
    """

    split_idx: int | None = 0
    params: Any = None
    last_params: Any = None

    def __init__(
        self,
        p: float = 1.0,
        *,
        generator: Any = None,  # a random.Random by default; a subclass's draw may take another (torch.Generator)
        enc: Callable[..., Any] | None = None,
        dec: Callable[..., Any] | None = None,
        split_idx: int | None = None,
        order: int | None = None,
    ) -> None:
        super().__init__(enc, dec, split_idx=split_idx, order=order)
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}: p must be a probability in [0, 1], got {p!r}")
        self.p = p
        self.generator: Any = generator

    def get_generator(self, x: Any) -> Any:  # noqa: ARG002 (subclasses may pick a generator by input, e.g. device)
        """The generator for this call: `self.generator` when set, else `default_generator()`."""
        generator = getattr(self, "generator", None)
        return generator if generator is not None else default_generator()

    def decide(self, x: Any, generator: Any) -> bool:  # noqa: ARG002 (x is for subclasses)
        """Whether this call applies: always when `p` is 1, else with probability `p`."""
        p = getattr(self, "p", 1.0)
        return p >= 1.0 or generator.random() < p

    def draw(self, x: Any, generator: Any) -> Any:  # noqa: ARG002 (the default draws nothing)
        """The random parameters of one call on `x` (the whole tuple for a sample); must not be None."""
        return {}

    def __call__(self, x: Any, split_idx: int | None = None, *, params: Any = None) -> Any:
        """Draw (or take `params`), then encode `x` with `self.params` set; `SKIP` returns `x` unchanged."""
        if split_idx is not None and self.split_idx is not None and split_idx != self.split_idx:
            return x
        if params is None:
            params = self._draw(x)
        self.params = self.last_params = params
        if params is SKIP:
            return x
        return self._apply(self._encodes_table, x)

    def _draw(self, x: Any) -> Any:
        try:
            generator = self.get_generator(x)
            if not self.decide(x, generator):
                return SKIP
            params = self.draw(x, generator)
        except TransformError:
            raise
        except Exception as e:
            raise TransformError(self.name, "draw", x, e) from e
        if params is None:
            raise TypeError(
                f"{self.name}.draw returned None; return the drawn parameters (an empty dict when there are none) "
                f"so that the call can be replayed with params=..."
            )
        return params
