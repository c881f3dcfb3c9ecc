"""`CallbackHost`: how a `Learner` holds its callbacks and runs them at each event."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, TypeVar

from trainloop_callbacks.loop.callback import EVENT_NAMES, Callback, sort_by_run
from trainloop_callbacks.loop.events import BATCH_EVENTS, BRACKETS, CANCEL_EXCEPTIONS, render_loop
from trainloop_callbacks.loop.progress import ProgressCallback

__all__ = ["CallbackHost", "listify"]

_H = TypeVar("_H", bound="CallbackHost")  # the host's own class (a `Learner`): chained calls keep its type

_NOTED = "_trainloop_callback_noted"
_FREE = object()
_BACKWARD_EVENTS = BRACKETS["backward"][:3]
_STEP_EVENTS = BRACKETS["step"][:3]


class CallbackHost:
    """Adding, removing, ordering and running callbacks; `Learner` inherits it."""

    cbs: list[Callback]
    _table: dict[str, list[tuple[Callback, Any]]]
    _quiet_backward: bool
    _quiet_step: bool
    training: bool

    def add_cb(self: _H, cb: Callback | type[Callback]) -> _H:
        """Attach a callback (an instance, or a class to instantiate); it becomes `learn.<cb.name>`.

        Another callback of the same class keeps running: the new one gets a numbered name (`save_model_1`),
        except for a class marked `unique` (`Recorder`, `MixedPrecision`, ...), whose new instance replaces
        the old one."""
        self._add([cb])
        return self

    def add_cbs(self: _H, cbs: Iterable[Callback | type[Callback]]) -> _H:
        """Attach several callbacks."""
        self._add(cbs)
        return self

    def _add(self, cbs: Iterable[Callback | type[Callback]]) -> list[Callback]:
        """Attach `cbs`; returns the `unique` callbacks they replaced (so `added_cbs` can put them back)."""
        replaced: list[Callback] = []
        for cb in cbs:
            if isinstance(cb, type):
                cb = cb()
            if not isinstance(cb, Callback):
                raise TypeError(f"add_cb expects a Callback, got {type(cb).__name__}")
            if cb in self.cbs:
                continue
            if cb.unique:
                cb._name = None
                old = getattr(self, cb.name, None)
                if isinstance(old, Callback) and old in self.cbs:
                    self.remove_cb(old)
                    replaced.append(old)
            self._give_name(cb)
            cb.learn = self  # type: ignore[assignment]  # CallbackHost exists only as a base of Learner
            setattr(self, cb.name, cb)
            self.cbs.append(cb)
        self._rebuild()
        return replaced

    def _give_name(self, cb: Callback) -> None:
        # A name the learner does not use yet: the one it had on this learner before (re-added by
        # `removed_cbs`), else the class's name, else that name numbered (test_two_callbacks_of_one_class_both_run).
        if cb._name is not None and self._holder(cb._name, cb) is None:
            return
        cb._name = None
        base = cb.name
        holder = self._holder(base, cb)
        if holder is None:
            return
        if not isinstance(holder, Callback):
            raise ValueError(
                f"callback {type(cb).__name__} would be stored as learn.{base}, which the Learner already uses "
                f"for a {type(holder).__name__}; rename the callback class"
            )
        for k in itertools.count(1):
            cb._name = f"{base}_{k}"
            if cb.name != cb._name:
                raise ValueError(
                    f"two callbacks named {base!r} ({holder!r} and {cb!r}), and {type(cb).__name__} overrides "
                    "`name`, so the second cannot be renumbered; give each instance its own name"
                )
            if self._holder(cb._name, cb) is None:
                return

    def _holder(self, name: str, cb: Callback) -> Any:
        """What the learner holds at `name` (None if nothing, or `cb` itself)."""
        held = getattr(self, name, _FREE)
        return None if held is _FREE or held is cb else held

    def remove_cb(self: _H, cb: Callback | type[Callback]) -> _H:
        """Detach a callback, or every callback of a class; safe during `fit`."""
        found = [c for c in self.cbs if (isinstance(c, cb) if isinstance(cb, type) else c is cb)]
        for c in found:
            vars(c).pop("learn", None)  # detached: reading `c.learn` now raises
            self.cbs = [o for o in self.cbs if o is not c]
            if getattr(self, c.name, None) is c:
                delattr(self, c.name)
        self._rebuild()
        return self

    def remove_cbs(self: _H, cbs: Iterable[Callback | type[Callback]]) -> _H:
        """Detach several callbacks."""
        for cb in cbs:
            self.remove_cb(cb)
        return self

    @contextlib.contextmanager
    def added_cbs(self: _H, cbs: Callback | Sequence[Callback] | None) -> Iterator[_H]:
        """Attach `cbs` for the duration of a `with` block."""
        cbs = listify(cbs)
        replaced = self._add(cbs)
        try:
            yield self
        finally:
            self.remove_cbs(cbs)
            self._add(replaced)  # a `unique` callback of the learner that one of `cbs` stood in for

    @contextlib.contextmanager
    def removed_cbs(self: _H, cbs: Callback | Sequence[Callback] | None) -> Iterator[_H]:
        """Detach `cbs` for the duration of a `with` block, then put them back."""
        cbs = [c for c in listify(cbs) if c in self.cbs]
        self.remove_cbs(cbs)
        try:
            yield self
        finally:
            self.add_cbs(cbs)

    @contextlib.contextmanager
    def no_bar(self: _H) -> Iterator[_H]:
        """Train without the progress bar inside a `with` block."""
        with self.removed_cbs([c for c in self.cbs if isinstance(c, ProgressCallback)]):
            yield self

    def _rebuild(self) -> None:
        # One list of bound methods per event, rebuilt (never mutated) when callbacks change, so a
        # callback removed while an event runs does not disturb the iteration (test_remove_during_fit).
        self.cbs = sort_by_run(self.cbs)
        table = {e: [(c, getattr(c, e)) for c in self.cbs if callable(getattr(c, e, None))] for e in EVENT_NAMES}
        self._table = table
        # brackets of the batch with no callback at all: the loop calls backward / step directly
        self._quiet_backward = not any(table[e] for e in _BACKWARD_EVENTS)
        self._quiet_step = not any(table[e] for e in _STEP_EVENTS)

    def __call__(self, event: str) -> None:
        """Run every active callback's handler for `event` (a name or an `Event`)."""
        training, batch_level = self.training, event in BATCH_EVENTS
        table = self._table
        for cb, method in table[event]:
            # A callback removed while this event runs (the table was rebuilt) is skipped: it is still attached
            # when the table is unchanged, else when it still holds this learner (reading `cb.learn` would raise).
            # run_train/run_valid filter batch-level events only: fit/epoch/phase events reach every callback
            if (
                (self._table is table or vars(cb).get("learn") is self)
                and cb.run
                and (not batch_level or (cb.run_train if training else cb.run_valid))
            ):
                try:
                    method()
                except CANCEL_EXCEPTIONS:
                    raise
                except Exception as e:
                    _note(e, cb, event)
                    raise

    def show_training_loop(self) -> None:
        """Print the loop (`events.render_loop`) with the callbacks that run at each event."""
        print(render_loop(lambda event: [type(c).__name__ for c, _ in self._table[event]]))


def _note(e: Exception, cb: Callback, event: str) -> None:
    if getattr(e, _NOTED, False):
        return
    msg = f"in callback {type(cb).__name__} at event {event}"
    if e.args and isinstance(e.args[0], str):
        e.args = (f"{msg}: {e.args[0]}", *e.args[1:])
    elif hasattr(e, "add_note"):
        e.add_note(msg)
    with contextlib.suppress(AttributeError):
        setattr(e, _NOTED, True)


def listify(x: Any) -> list[Any]:
    if x is None:
        return []
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]
