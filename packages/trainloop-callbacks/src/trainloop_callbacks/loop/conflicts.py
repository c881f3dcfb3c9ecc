"""The one check of how a learner's callbacks combine, run by the Learner before `before_fit`.

The rules live on the callbacks themselves: `run_before`/`run_after` given as a mapping `{other: reason}` are
requirements (the order is wrong, not just different, if they are broken), and `conflicts_with = {other: reason}`
names callbacks that cannot share a fit. `sort_by_run` applies the orderings; this check refuses an `order` set
against a requirement, and any conflicting pair, with the reason.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from trainloop_callbacks.loop.callback import Callback, matches

__all__ = ["CallbackConflictError", "check_conflicts"]


class CallbackConflictError(ValueError):
    """Raised at the start of a fit when the callbacks of a learner cannot work together as attached."""


def _reasons(cb: Callback, attr: str) -> Iterator[tuple[type | str, str]]:
    refs = getattr(cb, attr)
    if isinstance(refs, Mapping):
        yield from refs.items()


def check_conflicts(cbs: Sequence[Callback]) -> None:
    """Raise `CallbackConflictError` if two of `cbs` (in run order, as `learn.cbs`) declare each other a conflict
    (`conflicts_with`), or if an `order` contradicts a reasoned `run_before`/`run_after`; the message names both
    callbacks and says why and how to fix it."""
    position = {id(c): i for i, c in enumerate(cbs)}
    for cb in cbs:
        for ref, why in _reasons(cb, "conflicts_with"):
            for other in cbs:
                if other is not cb and matches(other, (ref,)):
                    a, b = sorted((cb, other), key=lambda c: position[id(c)])
                    raise CallbackConflictError(
                        f"{type(a).__name__} and {type(b).__name__} cannot be used in the same fit: {why}"
                    )
        for attr in ("run_before", "run_after"):
            for ref, why in _reasons(cb, attr):
                for other in cbs:
                    if other is cb or not matches(other, (ref,)):
                        continue
                    first, then = (cb, other) if attr == "run_before" else (other, cb)
                    if first.order > then.order:
                        raise CallbackConflictError(
                            f"{type(first).__name__} (order {first.order}) must run before {type(then).__name__} "
                            f"(order {then.order}): {why}. Keep their default `order`s."
                        )
