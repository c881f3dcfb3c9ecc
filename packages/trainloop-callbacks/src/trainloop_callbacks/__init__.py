"""trainloop_callbacks: a fixed training loop with two-way callbacks at every step.

What a user imports is here; the metrics are in `trainloop_callbacks.metrics` and the layers shared by the
applications in `trainloop_callbacks.layers` (each with its own `__all__`). Everything else (the callback host,
the protocols, conflict checks, schedule annealers, hooks, model utilities, export internals) is importable from
its module: `loop/` (the loop), `schedule/`, `callbacks/`, `models/`, `inference/`.
"""

from trainloop_callbacks.__about__ import __version__
from trainloop_callbacks.callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.callbacks.averaging import EMA, SWA
from trainloop_callbacks.callbacks.mixed_precision import MixedPrecision
from trainloop_callbacks.callbacks.mixup import CutMix, MixUp
from trainloop_callbacks.callbacks.tracker import (
    CSVLogger,
    EarlyStoppingCallback,
    ReduceLROnPlateau,
    SaveModelCallback,
    TerminateOnNaNCallback,
)
from trainloop_callbacks.callbacks.training import BnFreeze, ChannelsLast, GradientClip
from trainloop_callbacks.distributed import DistributedTrainer, distrib_ctx, num_distrib, rank_distrib
from trainloop_callbacks.gan import AdaptiveGANSwitcher, FixedGANSwitcher, GANLearner, GANLoss, GANModule, GANTrainer
from trainloop_callbacks.inference.interpret import ClassificationInterpretation, Interpretation
from trainloop_callbacks.inference.resolver import ExportError
from trainloop_callbacks.learner import Learner
from trainloop_callbacks.loading import load_learner
from trainloop_callbacks.loop.callback import Callback
from trainloop_callbacks.loop.conflicts import CallbackConflictError
from trainloop_callbacks.loop.events import (
    CancelBackwardException,
    CancelBatchException,
    CancelEpochException,
    CancelFitException,
    CancelStepException,
    CancelTrainException,
    CancelValidException,
    Event,
)
from trainloop_callbacks.loop.finite_loss import FiniteLossCheck, NonFiniteLossError
from trainloop_callbacks.loop.progress import ProgressCallback
from trainloop_callbacks.loop.recorder import Recorder
from trainloop_callbacks.loop.train_eval import TrainEvalCallback
from trainloop_callbacks.losses import (
    BCELossFlat,
    BCEWithLogitsLossFlat,
    CrossEntropyLossFlat,
    DiceLoss,
    FocalLoss,
    FocalLossFlat,
    L1LossFlat,
    LabelSmoothingCrossEntropy,
    LabelSmoothingCrossEntropyFlat,
    MSELossFlat,
)
from trainloop_callbacks.models.hooks import ActivationStats
from trainloop_callbacks.schedule.lr_finder import minimum, slide, steep, valley
from trainloop_callbacks.schedule.scheds import (
    ParamScheduler,
    SchedCos,
    SchedExp,
    SchedLin,
    SchedNo,
    SchedPoly,
    combine_scheds,
    combined_cos,
)
from trainloop_callbacks.trackers import MLflowCallback, TensorBoardCallback, WandbCallback

__all__ = [
    "__version__",
    # the loop
    "Learner",
    "Event",
    "Callback",
    "CancelFitException",
    "CancelEpochException",
    "CancelTrainException",
    "CancelValidException",
    "CancelBatchException",
    "CancelBackwardException",
    "CancelStepException",
    "CallbackConflictError",
    # default callbacks
    "TrainEvalCallback",
    "Recorder",
    "ProgressCallback",
    "FiniteLossCheck",
    "NonFiniteLossError",
    # schedules and the lr finder's suggestions
    "SchedLin",
    "SchedCos",
    "SchedNo",
    "SchedExp",
    "SchedPoly",
    "combine_scheds",
    "combined_cos",
    "ParamScheduler",
    "minimum",
    "steep",
    "valley",
    "slide",
    # losses
    "CrossEntropyLossFlat",
    "BCEWithLogitsLossFlat",
    "BCELossFlat",
    "MSELossFlat",
    "L1LossFlat",
    "LabelSmoothingCrossEntropy",
    "LabelSmoothingCrossEntropyFlat",
    "FocalLoss",
    "FocalLossFlat",
    "DiceLoss",
    # tracking
    "EarlyStoppingCallback",
    "SaveModelCallback",
    "ReduceLROnPlateau",
    "TerminateOnNaNCallback",
    "CSVLogger",
    # training techniques (one callback each, combinable; conflicts checked before the fit starts)
    "MixedPrecision",
    "GradientAccumulation",
    "GradientClip",
    "BnFreeze",
    "ChannelsLast",
    "MixUp",
    "CutMix",
    "EMA",
    "SWA",
    "ActivationStats",
    # GANs
    "GANModule",
    "GANLoss",
    "GANTrainer",
    "FixedGANSwitcher",
    "AdaptiveGANSwitcher",
    "GANLearner",
    # distributed
    "DistributedTrainer",
    "distrib_ctx",
    "rank_distrib",
    "num_distrib",
    # after training
    "Interpretation",
    "ClassificationInterpretation",
    "load_learner",
    "ExportError",
    # experiment trackers (each an optional extra)
    "TensorBoardCallback",
    "MLflowCallback",
    "WandbCallback",
]
