"""The training loop's events and the exceptions that cancel a part of it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from typing import NamedTuple

__all__ = [
    "Event",
    "Bracket",
    "BRACKETS",
    "LAYOUT",
    "BATCH_EVENTS",
    "render_loop",
    "CancelFitException",
    "CancelEpochException",
    "CancelTrainException",
    "CancelValidException",
    "CancelBatchException",
    "CancelBackwardException",
    "CancelStepException",
    "CANCEL_EXCEPTIONS",
]


class Event(str, Enum):
    """Every point of `Learner.fit` where callbacks run, in the order the loop reaches them.

    The members *are* the loop: each bracket is ``before_X``, its body (the members listed between), then
    ``after_cancel_X`` if the body raised ``CancelXException``, and ``after_X``. `BRACKETS`, `LAYOUT` and
    `BATCH_EVENTS` below are derived from this order; the Learner's loop, the callback host's fast paths,
    the inference pass and `render_loop` (the picture in the README) read them, so the loop is written once.
    The validation phase (``before_validate`` .. ``after_validate``) runs the same batch bracket without
    backward and step.
    """

    before_fit = "before_fit"
    before_epoch = "before_epoch"
    before_train = "before_train"
    before_batch = "before_batch"
    after_pred = "after_pred"
    after_loss = "after_loss"
    before_backward = "before_backward"
    after_cancel_backward = "after_cancel_backward"
    after_backward = "after_backward"
    before_step = "before_step"
    after_cancel_step = "after_cancel_step"
    after_step = "after_step"
    after_cancel_batch = "after_cancel_batch"
    after_batch = "after_batch"
    after_cancel_train = "after_cancel_train"
    after_train = "after_train"
    before_validate = "before_validate"
    after_cancel_validate = "after_cancel_validate"
    after_validate = "after_validate"
    after_cancel_epoch = "after_cancel_epoch"
    after_epoch = "after_epoch"
    after_cancel_fit = "after_cancel_fit"
    after_fit = "after_fit"


class CancelFitException(Exception):
    """Raise in a callback to stop training; `after_cancel_fit` then `after_fit` follow."""


class CancelEpochException(Exception):
    """Raise in a callback to skip the rest of this epoch (training and validation)."""


class CancelTrainException(Exception):
    """Raise in a callback to skip the rest of this epoch's training phase."""


class CancelValidException(Exception):
    """Raise in a callback to skip the rest of this epoch's validation phase."""


class CancelBatchException(Exception):
    """Raise in a callback to skip the rest of this batch (no backward, no step)."""


class CancelBackwardException(Exception):
    """Raise in `before_backward` to skip the backward pass of this batch."""


class CancelStepException(Exception):
    """Raise in `before_step` to skip the optimizer step of this batch."""


CANCEL_EXCEPTIONS = (
    CancelFitException,
    CancelEpochException,
    CancelTrainException,
    CancelValidException,
    CancelBatchException,
    CancelBackwardException,
    CancelStepException,
)


_CANCELS: dict[str, type[Exception]] = {
    "fit": CancelFitException,
    "epoch": CancelEpochException,
    "train": CancelTrainException,
    "validate": CancelValidException,
    "batch": CancelBatchException,
    "backward": CancelBackwardException,
    "step": CancelStepException,
}


class Bracket(NamedTuple):
    """One part of the loop: `before`, the body, `cancelled` if the body raised `exc`, then `after`."""

    before: str
    cancelled: str
    after: str
    exc: type[Exception]


def _derive() -> tuple[dict[str, Bracket], tuple[tuple[Event, int], ...], frozenset[str]]:
    """Brackets, nesting depth of each event and the batch-level events, read off the order of `Event`."""
    brackets: dict[str, Bracket] = {}
    layout: list[tuple[Event, int]] = []
    open_: list[str] = []  # the brackets the walk is inside, outermost first
    batch: list[str] = []
    for e in Event:
        kind, _, part = e.value.partition("_")
        if kind == "before":
            layout.append((e, len(open_)))
            open_.append(part)
        elif part.startswith("cancel_"):
            layout.append((e, open_.index(part[len("cancel_") :])))
        elif part in open_:  # after_X closes the bracket X
            depth = open_.index(part)
            del open_[depth:]
            layout.append((e, depth))
            brackets[part] = Bracket(f"before_{part}", f"after_cancel_{part}", e.value, _CANCELS[part])
        else:  # a point inside a body (after_pred, after_loss)
            layout.append((e, len(open_)))
        if "batch" in open_ or part == "batch":
            batch.append(e.value)
    return brackets, tuple(layout), frozenset(batch)


BRACKETS, LAYOUT, BATCH_EVENTS = _derive()
"""`BRACKETS`: bracket name (`fit`, `epoch`, `train`, `validate`, `batch`, `backward`, `step`) -> its events and
cancel exception. `LAYOUT`: each event with its nesting depth. `BATCH_EVENTS`: the events inside the batch bracket
(the ones `run_train`/`run_valid` filter)."""

# what the loop itself does around the events (for the picture only; the code is `Learner._do_fit` and below)
_LOOP_BEFORE = {
    "before_epoch": "for epoch in range(n_epoch):",
    "before_train": "dl = dls.train",
    "before_batch": "for xb, yb in dl:",
    "before_validate": "dl = dls.valid  (with torch.no_grad(); the same batch bracket, no backward/step)",
}
_LOOP_AFTER = {
    "before_batch": "pred = model(*xb)",
    "after_pred": "loss = loss_func(pred, *yb)",
    "before_backward": "loss.backward()",
    "before_step": "opt.step()",
    "after_step": "opt.zero_grad()",
}


def render_loop(handlers: Callable[[str], Iterable[str]] | None = None) -> str:
    """The loop as indented text, one event a line with the callbacks that run there (`handlers(event)` names
    them; `Learner.show_training_loop` passes its own), and the loop's own statements between the events."""
    lines = []
    for event, depth in LAYOUT:
        name, pad = event.value, "  " * depth
        if name in _LOOP_BEFORE:
            lines.append(f"{pad}# {_LOOP_BEFORE[name]}")
        cbs = ", ".join(handlers(name)) if handlers is not None else ""
        lines.append(f"{pad + name:<30}: [{cbs}]".rstrip())
        if name in _LOOP_AFTER:
            inner = "  " * (depth + 1) if name.startswith("before_") else pad
            lines.append(f"{inner}# {_LOOP_AFTER[name]}")
    return "\n".join(lines)
