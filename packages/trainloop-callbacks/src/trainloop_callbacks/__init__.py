"""trainloop_callbacks: a fixed training loop with two-way callbacks at every step."""

from trainloop_callbacks.__about__ import __version__
from trainloop_callbacks.accumulate import GradientAccumulation
from trainloop_callbacks.averaging import EMA, SWA
from trainloop_callbacks.callback import Callback, sort_by_run
from trainloop_callbacks.conflicts import CallbackConflictError, check_conflicts
from trainloop_callbacks.data import DataLoaderPair
from trainloop_callbacks.distributed import DistributedTrainer, distrib_ctx, num_distrib, rank_distrib
from trainloop_callbacks.events import (
    CancelBackwardException,
    CancelBatchException,
    CancelEpochException,
    CancelFitException,
    CancelStepException,
    CancelTrainException,
    CancelValidException,
    Event,
)
from trainloop_callbacks.export import ALLOWED_MODULES, ExportError, load_learner
from trainloop_callbacks.gan import (
    AdaptiveGANSwitcher,
    FixedGANSwitcher,
    GANLearner,
    GANLoss,
    GANModule,
    GANTrainer,
)
from trainloop_callbacks.hooks import ActivationStats, Hook, HookCallback, Hooks, hook_output, hook_outputs
from trainloop_callbacks.inference import GatherPredsCallback
from trainloop_callbacks.interpret import ClassificationInterpretation, Interpretation
from trainloop_callbacks.layers import (
    ACTIVATIONS,
    AdaptiveConcatPool2d,
    BatchNorm,
    ConvLayer,
    Embedding,
    Flatten,
    InstanceNorm,
    LinBnDrop,
    NormType,
    PixelShuffle_ICNR,
    ResBlock,
    SelfAttention,
    SEModule,
    SigmoidRange,
    SimpleSelfAttention,
    emb_sz_rule,
    icnr_init,
    init_linear,
    sigmoid_range,
    trunc_normal_,
)
from trainloop_callbacks.learner import Learner
from trainloop_callbacks.losses import (
    LOSS_KINDS,
    BCELossFlat,
    BCEWithLogitsLossFlat,
    CrossEntropyLossFlat,
    DiceLoss,
    FlatLoss,
    FocalLoss,
    FocalLossFlat,
    L1LossFlat,
    LabelSmoothingCrossEntropy,
    LabelSmoothingCrossEntropyFlat,
    MSELossFlat,
    loss_from_kind,
)
from trainloop_callbacks.lr_finder import LRFinder, minimum, slide, steep, valley
from trainloop_callbacks.metric_base import AccumMetric, AvgLoss, AvgMetric, AvgSmoothLoss, Metric
from trainloop_callbacks.metrics import (
    BalancedAccuracy,
    CohenKappa,
    Dice,
    F1Score,
    FBeta,
    JaccardCoeff,
    MatthewsCorrCoef,
    PearsonCorrCoef,
    Perplexity,
    Precision,
    R2Score,
    Recall,
    RocAucBinary,
    accuracy,
    accuracy_multi,
    error_rate,
    exp_rmspe,
    mae,
    mse,
    msle,
    rmse,
    top_k_accuracy,
)
from trainloop_callbacks.metrics_multi import DiceMulti, F1ScoreMulti, JaccardCoeffMulti, RocAucMulti, foreground_acc
from trainloop_callbacks.mixed_precision import MixedPrecision
from trainloop_callbacks.mixup import CutMix, MixHandler, MixUp
from trainloop_callbacks.model_utils import (
    ModelResetter,
    dummy_eval,
    in_channels,
    model_sizes,
    num_features_model,
    params_of,
)
from trainloop_callbacks.progress import PROGRESS_STYLES, ProgressCallback, TextTable, fastprogress_available
from trainloop_callbacks.recorder import Recorder
from trainloop_callbacks.schedule import (
    ParamScheduler,
    SchedCos,
    SchedExp,
    SchedLin,
    SchedNo,
    SchedPoly,
    combine_scheds,
    combined_cos,
    sched_cos,
    sched_exp,
    sched_lin,
    sched_no,
    sched_poly,
)
from trainloop_callbacks.splitters import BodyHeadSplitter, check_split, split_body_head
from trainloop_callbacks.step_clock import StepClock
from trainloop_callbacks.summary import ModelSummary, model_summary
from trainloop_callbacks.tracker import (
    CSVLogger,
    EarlyStoppingCallback,
    FiniteLossCheck,
    NonFiniteLossError,
    ReduceLROnPlateau,
    SaveModelCallback,
    TerminateOnNaNCallback,
    TrackerCallback,
)
from trainloop_callbacks.trackers import MLflowCallback, TensorBoardCallback, WandbCallback
from trainloop_callbacks.train_eval import TrainEvalCallback
from trainloop_callbacks.training import BnFreeze, ChannelsLast, GradientClip
from trainloop_callbacks.tta import tta
from trainloop_callbacks.wd_filter import NoBnBiasDecay

__all__ = [
    "__version__",
    # the loop
    "Learner",
    "Event",
    "Callback",
    "sort_by_run",
    "CancelFitException",
    "CancelEpochException",
    "CancelTrainException",
    "CancelValidException",
    "CancelBatchException",
    "CancelBackwardException",
    "CancelStepException",
    "DataLoaderPair",
    # default callbacks
    "TrainEvalCallback",
    "Recorder",
    "ProgressCallback",
    "PROGRESS_STYLES",
    "TextTable",
    "fastprogress_available",
    "GatherPredsCallback",
    "NoBnBiasDecay",
    # schedules
    "sched_lin",
    "sched_cos",
    "sched_no",
    "sched_exp",
    "sched_poly",
    "SchedLin",
    "SchedCos",
    "SchedNo",
    "SchedExp",
    "SchedPoly",
    "combine_scheds",
    "combined_cos",
    "ParamScheduler",
    # lr finder
    "LRFinder",
    "minimum",
    "steep",
    "valley",
    "slide",
    # metrics
    "Metric",
    "AvgMetric",
    "AccumMetric",
    "AvgLoss",
    "AvgSmoothLoss",
    "accuracy",
    "error_rate",
    "top_k_accuracy",
    "accuracy_multi",
    "F1Score",
    "FBeta",
    "Precision",
    "Recall",
    "RocAucBinary",
    "MatthewsCorrCoef",
    "BalancedAccuracy",
    "CohenKappa",
    "Dice",
    "JaccardCoeff",
    "mse",
    "rmse",
    "mae",
    "msle",
    "exp_rmspe",
    "R2Score",
    "PearsonCorrCoef",
    "Perplexity",
    # losses
    "FlatLoss",
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
    "LOSS_KINDS",
    "loss_from_kind",
    # tracking
    "TrackerCallback",
    "EarlyStoppingCallback",
    "SaveModelCallback",
    "ReduceLROnPlateau",
    "TerminateOnNaNCallback",
    "FiniteLossCheck",
    "NonFiniteLossError",
    "CSVLogger",
    # training techniques (one callback each, combinable; conflicts checked at before_fit)
    "MixedPrecision",
    "GradientAccumulation",
    "StepClock",
    "GradientClip",
    "BnFreeze",
    "ChannelsLast",
    "MixHandler",
    "MixUp",
    "CutMix",
    "EMA",
    "SWA",
    "check_conflicts",
    "CallbackConflictError",
    # hooks and summary
    "Hook",
    "Hooks",
    "hook_output",
    "hook_outputs",
    "HookCallback",
    "ActivationStats",
    "ModelSummary",
    "model_summary",
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
    # inference, interpretation, export
    "tta",
    "Interpretation",
    "ClassificationInterpretation",
    "load_learner",
    "ALLOWED_MODULES",
    "ExportError",
    # layers shared by the applications (trainloop_callbacks.layers)
    "ACTIVATIONS",
    "NormType",
    "BatchNorm",
    "InstanceNorm",
    "LinBnDrop",
    "SigmoidRange",
    "sigmoid_range",
    "Embedding",
    "trunc_normal_",
    "emb_sz_rule",
    "AdaptiveConcatPool2d",
    "Flatten",
    "init_linear",
    "ConvLayer",
    "SelfAttention",
    "SimpleSelfAttention",
    "PixelShuffle_ICNR",
    "icnr_init",
    "ResBlock",
    "SEModule",
    # model utilities
    "model_sizes",
    "dummy_eval",
    "num_features_model",
    "in_channels",
    "params_of",
    "ModelResetter",
    # metrics over several classes or labels
    "DiceMulti",
    "JaccardCoeffMulti",
    "foreground_acc",
    "F1ScoreMulti",
    "RocAucMulti",
    # splitters for transfer learning
    "split_body_head",
    "check_split",
    "BodyHeadSplitter",
    # experiment trackers (optional extras: trainloop-callbacks[tensorboard], [mlflow], [wandb])
    "TensorBoardCallback",
    "MLflowCallback",
    "WandbCallback",
]
