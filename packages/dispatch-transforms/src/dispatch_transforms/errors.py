"""`TransformError`: what a failing transform raises, naming the transform, the method and the input."""

from __future__ import annotations

from typing import Any

__all__ = ["TransformError"]

_MAX_REPR = 80


def short_repr(x: Any, limit: int = _MAX_REPR) -> str:
    """`repr(x)` cut to `limit` characters (a repr that itself fails is reported as such)."""
    try:
        text = repr(x)
    except Exception as e:  # noqa: BLE001 (a broken __repr__ must not hide the real error)
        return f"<{type(x).__name__} with a failing repr: {type(e).__name__}>"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class TransformError(RuntimeError):
    """A transform's method raised; the original exception is chained as `__cause__`.

    Attributes: `transform` (its name), `method` (`encodes`, `decodes`, `setups`, ...) and
    `input_type` (the type of the object it was called on).
    """

    def __init__(self, transform: str, method: str, x: Any, cause: BaseException) -> None:
        self.transform = transform
        self.method = method
        self.input_type = type(x)
        super().__init__(
            f"{transform}.{method} failed on an input of type {type(x).__name__}: {short_repr(x)}\n"
            f"  {type(cause).__name__}: {cause}"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the message so the error survives a trip through DataLoader workers.
        return (_rebuild, (type(self), self.args, self.transform, self.method, self.input_type))


def _rebuild(cls: type[TransformError], args: tuple[Any, ...], transform: str, method: str, input_type: type) -> Any:
    err = cls.__new__(cls)
    RuntimeError.__init__(err, *args)
    err.transform, err.method, err.input_type = transform, method, input_type
    return err
