"""`Callback`: argument-less methods named after loop events that read and write `self.learn`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, overload

from trainloop_callbacks.loop.events import Event

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["Callback", "sort_by_run", "matches", "EVENT_NAMES"]

EVENT_NAMES: tuple[str, ...] = tuple(e.value for e in Event)


def _snake(name: str) -> str:
    name = re.sub(r"Callback$", "", name) or name
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    return re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name).lower()


class _LearnSlot:
    """`Callback.learn`: the Learner the callback is attached to, typed `Learner` (never None).

    `Learner.add_cb` stores the learner in the callback's own `__dict__`, which this non-data descriptor never
    shadows: reading `cb.learn` on an attached callback is a plain attribute read. On a callback that is not
    attached (never added, or removed) it raises an `AttributeError` saying so, instead of returning None.
    """

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> _LearnSlot: ...
    @overload
    def __get__(self, obj: Callback, owner: type[Any]) -> Learner: ...
    def __get__(self, obj: Callback | None, owner: type[Any]) -> _LearnSlot | Learner:
        if obj is None:
            return self
        raise AttributeError(
            f"{type(obj).__name__} is not attached to a Learner (cb.learn is set by `learn.add_cb(cb)` and "
            "cleared by `remove_cb`)",
            name="learn",
            obj=obj,
        )


class Callback:
    """Base class of callbacks: define methods named after `Event`s; they read and write `self.learn`.

    Ordering: callbacks run by ascending `order`; `run_before`/`run_after` (a class or class name, or a
    collection of them) refine it. Given as a mapping `{other: reason}` they are requirements: the Learner refuses
    to fit when an `order` was set against one (`conflicts.check_conflicts`). `conflicts_with = {other: reason}`
    names callbacks that cannot share a fit with this one. `run_train`/`run_valid` switch a callback's batch-level
    events off in the training or the validation phase (fit, epoch and phase events always run); setting
    `run = False` switches it off entirely. `state_dict()`/`load_state_dict()` let checkpoints restore it.

    Several callbacks of one class may run on a learner (two `SaveModelCallback`s watching different
    metrics), each under its own `name`. A class with `unique = True` (the loop's own callbacks, mixed
    precision) exists at most once per learner: adding another instance replaces the one there.
    """

    order: int = 0
    run_before: type | str | Iterable[type | str] | None = ()
    run_after: type | str | Iterable[type | str] | None = ()
    conflicts_with: ClassVar[Mapping[type | str, str]] = {}
    run_train: bool = True
    run_valid: bool = True
    run: bool = True
    unique: bool = False
    needs_step_clock: bool = False  # some batches are not optimizer steps: the Learner adds a StepClock for the fit
    learn = _LearnSlot()  # the Learner, set by `Learner.add_cb`; reading it when not attached raises
    _name: str | None = None  # given by `Learner.add_cb` when the class's name is taken by another instance

    @property
    def name(self) -> str:
        """Attribute name of this callback on the learner: `TrainEvalCallback` -> `train_eval`; a second
        callback of the same class gets a numeric suffix (`save_model_1`)."""
        return self._name or _snake(type(self).__name__)

    def events(self) -> list[str]:
        """Names of the events this callback handles."""
        return [e for e in EVENT_NAMES if callable(getattr(self, e, None))]

    def state_dict(self) -> dict[str, Any]:
        """State to checkpoint (tensors and plain data only); stateless callbacks return `{}`."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        if state:
            raise ValueError(f"{type(self).__name__} keeps no state but was given keys {sorted(state)}")

    def __repr__(self) -> str:
        return type(self).__name__


def _refs(owner: Callback, attr: str) -> tuple[type | str, ...]:
    """`owner.run_before`/`run_after` as a tuple: one class or name (fastai's usual `run_after = Recorder`), or a
    collection of them; a bare string is one name, never its characters (test_run_before_after_forms)."""
    refs = getattr(owner, attr)
    if refs is None:
        return ()
    if isinstance(refs, (type, str)):
        return (refs,)
    items = tuple(refs) if isinstance(refs, Iterable) else (refs,)
    bad = [r for r in items if not isinstance(r, (type, str))]
    if bad:
        raise TypeError(
            f"{type(owner).__name__}.{attr} must be a callback class, a class name, or a collection of them; "
            f"got {refs!r}"
        )
    return items


def matches(cb: Callback, refs: Iterable[type | str]) -> bool:
    """Whether `cb` is an instance of one of `refs` (classes, or class names compared with its class's name)."""
    for ref in refs:
        if isinstance(ref, str):
            if type(cb).__name__ == ref:
                return True
        elif isinstance(cb, ref):
            return True
    return False


def sort_by_run(cbs: Sequence[Callback]) -> list[Callback]:
    """Sort callbacks by `order`, then move them so every `run_before`/`run_after` constraint holds."""
    todo = sorted(cbs, key=lambda c: c.order)
    before = {id(c): _refs(c, "run_before") for c in todo}  # read (and checked) once per callback
    after = {id(c): _refs(c, "run_after") for c in todo}

    def must_precede(a: Callback, b: Callback) -> bool:
        return matches(b, before[id(a)]) or matches(a, after[id(b)])

    out: list[Callback] = []
    while todo:
        for i, cb in enumerate(todo):
            if not any(must_precede(other, cb) for other in todo if other is not cb):
                out.append(todo.pop(i))
                break
        else:
            raise ValueError(f"callbacks {todo} have run_before/run_after constraints that form a cycle")
    return out
