"""Known order-sensitive and incompatible callback combinations, checked at `before_fit`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from trainloop_callbacks.callback import Callback

__all__ = ["CallbackConflictError", "OrderRule", "ORDER_RULES", "EXCLUSIVE", "check_conflicts"]


class CallbackConflictError(ValueError):
    """Raised at `before_fit` when the callbacks of a learner cannot work together as attached."""


class OrderRule(NamedTuple):
    """`first` must run before `then` at `event`, because `why`."""

    first: str
    then: str
    event: str
    why: str


ORDER_RULES: tuple[OrderRule, ...] = (
    OrderRule(
        "GradientAccumulation",
        "MixedPrecision",
        "before_step",
        "accumulation must decide whether this batch steps before the grad scaler unscales the gradients "
        "(unscaling a partial sum corrupts the next micro-batches)",
    ),
    OrderRule("MixedPrecision", "GradientClip", "before_step", "gradients must be unscaled before they are clipped"),
    OrderRule(
        "GradientAccumulation",
        "GradientClip",
        "before_step",
        "the accumulated gradient is clipped once per optimizer step, after it is complete",
    ),
    OrderRule(
        "DistributedTrainer",
        "TrainEvalCallback",
        "before_fit",
        "the training loader must be sharded before the batch count of the schedule is read",
    ),
    OrderRule(
        "TrainEvalCallback", "StepClock", "after_batch", "the step clock corrects the position TrainEval advanced"
    ),
    OrderRule("ParamScheduler", "SWA", "before_batch", "SWA's learning rate replaces the schedule's once SWA starts"),
    OrderRule("EMA", "SaveModelCallback", "after_fit", "the best checkpoint is loaded after EMA puts its weights in"),
)

EXCLUSIVE: tuple[tuple[str, str, str], ...] = (
    ("MixUp", "CutMix", "both mix the batch and replace the loss; use one mixing callback per fit"),
    ("EMA", "SWA", "both replace the trained weights by an average at the end; use one of them"),
    ("GANTrainer", "GradientAccumulation", "accumulated gradients would mix generator and critic steps"),
    ("GANTrainer", "MixUp", "mixing a GAN's noise with real samples is not meaningful"),
    ("GANTrainer", "CutMix", "mixing a GAN's noise with real samples is not meaningful"),
)


def _is(cb: Callback, name: str) -> bool:
    return any(k.__name__ == name for k in type(cb).__mro__)


def _find(cbs: Sequence[Callback], name: str) -> list[int]:
    return [i for i, cb in enumerate(cbs) if _is(cb, name)]


def check_conflicts(cbs: Sequence[Callback]) -> None:
    """Raise `CallbackConflictError` if `cbs` (in run order, as `learn.cbs`) break an `ORDER_RULES` entry or hold
    two callbacks that `EXCLUSIVE` forbids together; the message names both and says why and how to fix it."""
    for a, b, why in EXCLUSIVE:
        if _find(cbs, a) and _find(cbs, b):
            raise CallbackConflictError(f"{a} and {b} cannot be used in the same fit: {why}")
    for rule in ORDER_RULES:
        firsts, thens = _find(cbs, rule.first), _find(cbs, rule.then)
        if firsts and thens and max(firsts) > min(thens):
            first, then = cbs[max(firsts)], cbs[min(thens)]
            raise CallbackConflictError(
                f"{rule.first} (order {first.order}) must run before {rule.then} (order {then.order}) at "
                f"{rule.event}: {rule.why}. Keep their default `order`s or set run_before/run_after accordingly."
            )
