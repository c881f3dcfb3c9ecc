"""Recipes: the classic optimizers, each a few lines of composition of the stats and steppers."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from pluggable_optim.optimizer import Optimizer, Step, step_hypers
from pluggable_optim.stats import apply_wd, average_grad, average_sqr_grad, step_count
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

__all__ = ["SGD", "RMSProp", "Adam", "RAdam", "QHAdam", "Larc", "Lamb"]

Params = Iterable[Any]


def SGD(
    params: Params,
    lr: float = 1e-3,
    mom: float = 0.0,
    wd: float = 0.0,
    decouple_wd: bool = True,
    nesterov: bool = False,
    **kw: Any,
) -> Optimizer:
    """SGD, with momentum when `mom` is not 0 (torch's formulation: `buf = mom * buf + grad; p -= lr * buf`).

    With `mom=0` the optimizer has no `mom` hyper-parameter (and keeps no momentum buffer), as in fastai.
    `nesterov=True` steps by `grad + mom * buf` instead (Nesterov momentum, as torch.optim.SGD). Runs torch's
    fused SGD kernel by default (see `pluggable_optim.kernels`).
    """
    if nesterov and mom == 0:
        raise ValueError("SGD: nesterov=True needs momentum (mom > 0)")
    stepper = nesterov_step if nesterov else momentum_step
    steps: list[Step] = [apply_wd] + ([average_grad, stepper] if mom != 0 else [sgd_step])
    hypers: dict[str, Any] = {"mom": mom} if mom != 0 else {}  # no `mom` hyper at all without momentum
    return Optimizer(params, steps, lr=lr, wd=wd, decouple_wd=decouple_wd, **hypers, **kw)


def RMSProp(
    params: Params,
    lr: float = 1e-2,
    sqr_mom: float = 0.99,
    mom: float = 0.0,
    eps: float = 1e-8,
    wd: float = 0.0,
    decouple_wd: bool = True,
    **kw: Any,
) -> Optimizer:
    """RMSProp; its torch keys are torch.optim.RMSprop's (`alpha` = `sqr_mom`, `momentum` = `mom`)."""
    steps: list[Step] = [apply_wd, average_sqr_grad, rms_prop_step]
    keys = {"wd": ("weight_decay", None), "mom": ("momentum", None), "sqr_mom": ("alpha", None)}
    return Optimizer(
        params, steps, torch_keys=keys, lr=lr, sqr_mom=sqr_mom, mom=mom, eps=eps, wd=wd, decouple_wd=decouple_wd, **kw
    )


def _adam_like(stepper: Step) -> list[Step]:
    return [apply_wd, partial(average_grad, dampening=True), average_sqr_grad, step_count, stepper]


def _adam_recipe(name: str, stepper: Step, doc: str, **overrides: Any) -> Callable[..., Optimizer]:
    """A recipe of the Adam family: `stepper` after the Adam statistics, with weight decay.

    Its signature is derived, not restated: `params`, then the hyper-parameters `stepper` declares (in its
    order, with its defaults), then `apply_wd`'s `wd` and `decouple_wd`, then `**kw`; `overrides` change a
    default (Adam's `wd=0.01`). So the recipe cannot drift from the stepper it runs.
    """
    hypers = step_hypers(stepper)
    hypers.update({k: v for k, v in step_hypers(apply_wd).items() if k not in hypers})
    unknown = [k for k in overrides if k not in hypers]
    if unknown:
        raise TypeError(f"{name}: overrides {unknown} are not hyper-parameters of {stepper.__name__} or apply_wd")
    hypers.update(overrides)
    positional = inspect.Parameter.POSITIONAL_OR_KEYWORD
    signature = inspect.Signature(
        [inspect.Parameter("params", positional, annotation="Params")]
        + [inspect.Parameter(k, positional, default=v, annotation=type(v).__name__) for k, v in hypers.items()]
        + [inspect.Parameter("kw", inspect.Parameter.VAR_KEYWORD, annotation="Any")],
        return_annotation="Optimizer",
    )

    def recipe(*args: Any, **kwargs: Any) -> Optimizer:
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        values = dict(bound.arguments)
        params, kw = values.pop("params"), values.pop("kw")
        return Optimizer(params, _adam_like(stepper), **values, **kw)

    recipe.__name__ = recipe.__qualname__ = name
    recipe.__doc__ = doc
    recipe.__signature__ = signature  # type: ignore[attr-defined]  # read by inspect.signature, help() and IDEs
    return recipe


Adam = _adam_recipe(
    "Adam",
    adam_step,
    "Adam; AdamW when `decouple_wd=True` (the default, as in fastai), Adam with L2 regularisation otherwise.",
    wd=0.01,
)
RAdam = _adam_recipe(
    "RAdam",
    radam_step,
    "RAdam (rectified Adam): Adam whose adaptive term is switched on only once its variance is tractable.",
)
QHAdam = _adam_recipe(
    "QHAdam",
    qhadam_step,
    "QHAdam (quasi-hyperbolic Adam): mixes the current gradient into Adam's moments by `nu_1` and `nu_2`.",
)


def Larc(
    params: Params,
    lr: float = 1e-3,
    mom: float = 0.9,
    clip: bool = True,
    trust_coeff: float = 0.02,
    eps: float = 1e-8,
    wd: float = 0.0,
    **kw: Any,
) -> Optimizer:
    """LARS (`clip=False`) or LARC (`clip=True`): SGD with momentum and a layer-wise learning rate."""
    return Optimizer(
        params, [larc_layer_lr, larc_step], lr=lr, mom=mom, clip=clip, trust_coeff=trust_coeff, eps=eps, wd=wd, **kw
    )


def Lamb(
    params: Params,
    lr: float = 1e-3,
    mom: float = 0.9,
    sqr_mom: float = 0.99,
    eps: float = 1e-5,
    wd: float = 0.0,
    **kw: Any,
) -> Optimizer:
    """LAMB: Adam's update plus weight decay, scaled per tensor by the trust ratio (large-batch training)."""
    steps: list[Step] = [partial(average_grad, dampening=True), average_sqr_grad, step_count, lamb_step]
    return Optimizer(params, steps, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd, **kw)
