"""pluggable_optim: optimizers composed from stats and steppers, that are torch optimizers."""

from pluggable_optim.__about__ import __version__
from pluggable_optim.group import GroupView
from pluggable_optim.hyper_api import norm_params
from pluggable_optim.hypers import spread_slice
from pluggable_optim.kernels import find_kernel
from pluggable_optim.lookahead import Lookahead, ranger
from pluggable_optim.optimizer import Optimizer
from pluggable_optim.recipes import SGD, Adam, Lamb, Larc, QHAdam, RAdam, RMSProp
from pluggable_optim.registry import get_optimizer, list_optimizers
from pluggable_optim.stats import (
    apply_wd,
    average_grad,
    average_sqr_grad,
    decay_kind,
    l2_reg,
    step_count,
    weight_decay,
)
from pluggable_optim.steppers import (
    adam_step,
    lamb_step,
    larc_layer_lr,
    larc_step,
    momentum_step,
    nesterov_step,
    qhadam_step,
    radam_step,
    rms_prop_step,
    sgd_step,
)
from pluggable_optim.wrapper import OptimWrapper

__all__ = [
    "__version__",
    # the optimizer and its view of a group
    "Optimizer",
    "GroupView",
    "OptimWrapper",
    # stats
    "average_grad",
    "average_sqr_grad",
    "step_count",
    "weight_decay",
    "l2_reg",
    "apply_wd",
    "decay_kind",
    # steppers
    "sgd_step",
    "momentum_step",
    "nesterov_step",
    "rms_prop_step",
    "adam_step",
    "radam_step",
    "qhadam_step",
    "larc_layer_lr",
    "larc_step",
    "lamb_step",
    # recipes and wrappers
    "SGD",
    "RMSProp",
    "Adam",
    "RAdam",
    "QHAdam",
    "Larc",
    "Lamb",
    "Lookahead",
    "ranger",
    "list_optimizers",
    "get_optimizer",
    # helpers
    "spread_slice",
    "find_kernel",
    "norm_params",
]
