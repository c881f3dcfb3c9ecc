"""Test-time augmentation: average predictions over augmented passes and blend them with the plain one."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.protocols import HasTtaDl, Renewable

if TYPE_CHECKING:
    from trainloop_callbacks.learner import Learner

__all__ = ["tta", "AugmentInputs"]


class AugmentInputs(Callback):
    """Applies `aug` to the batch inputs in inference passes (used by `tta` with an explicit augmentation)."""

    order = -5

    def __init__(self, aug: Callable[[Any], Any]) -> None:
        self.aug = aug

    def before_batch(self) -> None:
        self.learn.xb = tuple(self.aug(x) for x in self.learn.xb)


def _augmented_dl(learn: Learner, dl: Iterable[Any]) -> Iterable[Any]:
    """The items of `dl` through the training loader's transforms (its augmentations), in order.

    Duck typing: the training loader's `new(dataset=..., shuffle=False, drop_last=False)` (e.g. datablock's
    DataLoader), or the data's `tta_dl(dl)` hook when it has one.
    """
    dls = learn.dls
    if isinstance(dls, HasTtaDl):
        return dls.tta_dl(dl)
    train, dataset = dls.train, getattr(dl, "dataset", None)  # `dataset`: torch's DataLoader attribute
    if isinstance(train, Renewable) and dataset is not None:
        return train.new(dataset=dataset, shuffle=False, drop_last=False)
    raise ValueError(
        "tta needs augmentations: pass aug=<function of an input batch>, or data whose training loader has "
        "new(dataset=..., shuffle=..., drop_last=...) (its transforms augment) or a dls.tta_dl(dl) hook; "
        f"these data ({type(learn.dls).__name__}, train loader {type(train).__name__}) have neither"
    )


def tta(
    learn: Learner,
    ds_idx: int = 1,
    dl: Iterable[Any] | None = None,
    n: int = 4,
    beta: float | None = 0.25,
    use_max: bool = False,
    aug: Callable[[Any], Any] | None = None,
) -> tuple[Tensor, Any]:
    """Predictions with test-time augmentation: `n` passes over augmented inputs, averaged (or their maximum with
    `use_max`), blended with the plain predictions as `beta * plain + (1 - beta) * augmented` (`beta=None`:
    augmented only). Returns `(preds, targets)` in dataset order.

    Augmentations come from `aug` (applied to each input batch) or, by duck typing, from the data: the training
    loader's transforms applied to the same items (see `_augmented_dl`).
    """
    if n < 1:
        raise ValueError(f"tta needs n >= 1 augmented passes, got {n}")
    if beta is not None and not 0.0 <= beta <= 1.0:
        raise ValueError(f"tta beta must be in [0, 1] or None, got {beta}")
    dl = learn._dl(ds_idx, dl)
    passes = []
    for _ in range(n):
        if aug is not None:
            preds, _targs = learn.get_preds(dl=dl, cbs=[AugmentInputs(aug)])
        else:
            preds, _targs = learn.get_preds(dl=_augmented_dl(learn, dl))
        passes.append(preds.as_subclass(Tensor) if isinstance(preds, Tensor) else preds)
    stacked = torch.stack(passes)
    aug_preds = stacked.max(0)[0] if use_max else stacked.mean(0)
    plain, targs = learn.get_preds(dl=dl)
    if beta is None:
        return aug_preds, targs
    return torch.lerp(aug_preds, plain.as_subclass(Tensor), beta), targs
