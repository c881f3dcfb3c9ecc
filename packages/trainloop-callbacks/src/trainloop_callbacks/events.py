"""The training loop's events and the exceptions that cancel a part of it."""

from __future__ import annotations

from enum import Enum

__all__ = [
    "Event",
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
    """Every point of `Learner.fit` where callbacks run, in loop order.

    The loop, each bracket fired as ``before_X``, body, ``after_cancel_X`` if the body raised
    ``CancelXException``, then ``after_X``::

        before_fit
          for each epoch:
            before_epoch
              before_train
                for each batch of dls.train:
                  before_batch
                    pred = model(*xb)                     -> after_pred
                    loss = loss_func(pred, *yb)           -> after_loss
                    before_backward; loss.backward()      -> after_backward
                    before_step; opt.step()               -> after_step
                    opt.zero_grad()
                  after_batch
              after_train
              before_validate
                for each batch of dls.valid: (same batch bracket, no backward/step)
              after_validate
            after_epoch
        after_fit
    """

    before_fit = "before_fit"
    before_epoch = "before_epoch"
    before_train = "before_train"
    before_batch = "before_batch"
    after_pred = "after_pred"
    after_loss = "after_loss"
    before_backward = "before_backward"
    after_backward = "after_backward"
    before_step = "before_step"
    after_step = "after_step"
    after_cancel_step = "after_cancel_step"
    after_cancel_backward = "after_cancel_backward"
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
