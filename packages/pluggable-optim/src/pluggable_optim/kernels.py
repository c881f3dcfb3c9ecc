"""torch's own fused optimizer kernels, for compositions that are exactly SGD, Adam or AdamW.

An optimizer step is memory-bound: what it costs is the number of passes over the parameter memory. The
foreach composition of SGD with momentum makes about 8 passes (11 with L2 decay); torch's fused kernels
(`torch._fused_sgd_`, `torch._fused_adam_`, `torch._fused_adamw_`, on CPU and CUDA) read each tensor once and
write each result once: 5 passes for SGD with momentum, 7 for Adam. When an optimizer's steps are exactly one of
these recipes (the blocks, in order, whoever listed them), `Optimizer` runs the kernel instead of the blocks,
with the same state (`grad_avg`, `sqr_avg`, `step`) and the same hyper-parameters, so a checkpoint or a switch
between the two paths carries over. The kernels leave `p.grad` as backward gave it (decay is added to a register
copy, never written back; tested).

A kernel runs only when it can do exactly what the blocks do: plain-number hyper-parameters, dense tensors of
one floating dtype on CPU or CUDA whose gradients and state share the parameters' strides. Otherwise the blocks
run. `foreach=True` asks for the blocks (the foreach composition) and `foreach=False` for one tensor at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from pluggable_optim._ops import Tensors
from pluggable_optim.group import GroupView
from pluggable_optim.stats import apply_wd, average_grad, average_sqr_grad, l2_reg, step_count, weight_decay
from pluggable_optim.steppers import adam_step, momentum_step, nesterov_step, sgd_step

__all__ = ["Kernel", "find_kernel"]

Kernel = Callable[[GroupView, dict[str, Any]], bool]
"""`kernel(view, group)`: run the whole step of `group` over `view`; False (having done nothing) when it cannot."""

_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_DEVICES = ("cpu", "cuda")
_DECAY = {apply_wd: "hyper", weight_decay: "decoupled", l2_reg: "l2"}


def _block(step: Any) -> tuple[Any, dict[str, Any]]:
    """A step as (function, the keywords a `functools.partial` fixed)."""
    if isinstance(step, functools.partial):
        return step.func, dict(step.keywords)
    return step, {}


def find_kernel(steps: Sequence[Any]) -> Kernel | None:
    """The torch kernel that does exactly what `steps` do, or None.

    Matched: an optional decay block (`apply_wd`, `weight_decay` or `l2_reg`) followed by `sgd_step`; by
    `average_grad` and `momentum_step` or `nesterov_step` (SGD with momentum); or by
    `partial(average_grad, dampening=True)`, `average_sqr_grad`, `step_count` and `adam_step` (Adam).
    """
    blocks = [_block(s) for s in steps]
    decay = None
    first = next((kind for f, kind in _DECAY.items() if blocks and blocks[0][0] is f), None)
    if first is not None and not blocks[0][1]:
        decay, blocks = first, blocks[1:]
    funcs = [f for f, _ in blocks]
    fixed = [kw for _, kw in blocks]
    if funcs == [sgd_step] and not fixed[0]:
        return functools.partial(_sgd, decay=decay, momentum=False, nesterov=False, dampening=None)
    momentum_pairs: list[list[Callable[..., None]]] = [[average_grad, momentum_step], [average_grad, nesterov_step]]
    if funcs in momentum_pairs and not fixed[1]:
        if set(fixed[0]) <= {"dampening"}:
            nesterov, dampening = funcs[1] is nesterov_step, fixed[0].get("dampening")
            return functools.partial(_sgd, decay=decay, momentum=True, nesterov=nesterov, dampening=dampening)
    if (
        funcs == [average_grad, average_sqr_grad, step_count, adam_step]
        and fixed[0] == {"dampening": True}
        and not any(fixed[1:])
    ):
        return functools.partial(_adam, decay=decay)
    return None


def _plain(*values: Any) -> bool:
    return all(isinstance(v, int | float) for v in values)


def _fits(params: Tensors, *others: Tensors) -> bool:
    """Dense tensors of one floating dtype on CPU or CUDA, every list with the parameters' strides."""
    first = params[0]
    if first.device.type not in _DEVICES or first.dtype not in _DTYPES:
        return False
    for i, p in enumerate(params):
        if not (p.is_contiguous() or (p.ndim == 4 and p.is_contiguous(memory_format=torch.channels_last))):
            return False
        stride = p.stride()
        if any(ts[i].stride() != stride or ts[i].dtype != p.dtype for ts in others):
            return False
    return True


def _decay(decay: str | None, group: dict[str, Any]) -> str | None:
    """The kind of decay to apply: "decoupled", "l2" or None (no decay block, or `wd` is 0)."""
    if decay is None or group.get("wd", 0) == 0:
        return None
    if decay == "hyper":
        return "decoupled" if group.get("decouple_wd", True) else "l2"
    return decay


def _sgd(
    view: GroupView,
    group: dict[str, Any],
    *,
    decay: str | None,
    momentum: bool,
    nesterov: bool,
    dampening: bool | None,
) -> bool:
    """SGD through `torch._fused_sgd_`; decoupled decay shrinks the weights first, as `weight_decay` does.

    `dampening`: what the recipe fixed for `average_grad` (None: the group's `dampening` hyper)."""
    lr, wd, mom = group["lr"], group.get("wd", 0.0), group.get("mom", 0.0) if momentum else 0.0
    if not _plain(lr, wd, mom) or not _fits(view.params, view.grads):
        return False
    if momentum and mom == 0:  # torch's momentum kernel needs momentum > 0; the blocks handle it
        return False
    damp = group.get("dampening", False) if dampening is None else dampening
    if not isinstance(damp, bool):
        return False
    kind = _decay(decay, group)
    bufs = view.state("grad_avg") if momentum else []
    if momentum and not _fits(view.params, bufs):
        return False
    if kind == "decoupled":
        torch._foreach_mul_(view.params, 1 - lr * wd)
    torch._fused_sgd_(
        view.params,
        view.grads,
        bufs,
        weight_decay=wd if kind == "l2" else 0.0,
        momentum=mom,
        lr=lr,
        dampening=mom if momentum and damp else 0.0,
        nesterov=nesterov,
        maximize=False,
        is_first_step=False,  # the buffer starts at zero, so the first step gives buf = grad, as torch's
    )
    return True


def _adam(view: GroupView, group: dict[str, Any], *, decay: str | None) -> bool:
    """Adam or AdamW through `torch._fused_adam_` / `torch._fused_adamw_`, counting steps as `step_count` does."""
    lr, wd, mom, sqr_mom, eps = group["lr"], group.get("wd", 0.0), group["mom"], group["sqr_mom"], group["eps"]
    if not _plain(lr, wd, mom, sqr_mom, eps) or not group.get("sqr_dampening", True):
        return False
    if not _fits(view.params, view.grads):
        return False
    avgs, sqrs = view.state("grad_avg"), view.state("sqr_avg")
    if not _fits(view.params, avgs, sqrs):
        return False
    step_count(view)
    assert view.counts is not None
    device = view.params[0].device
    made: dict[int, Tensor] = {}
    steps = []
    for c in view.counts:  # one 0-dim float32 tensor per distinct count (read-only for the kernel)
        t = made.get(c)
        if t is None:
            t = made[c] = torch.tensor(float(c), dtype=torch.float32, device=device)
        steps.append(t)
    kind = _decay(decay, group)
    fused = torch._fused_adamw_ if kind == "decoupled" else torch._fused_adam_
    fused(
        view.params,
        view.grads,
        avgs,
        sqrs,
        [],
        steps,
        lr=lr,
        beta1=mom,
        beta2=sqr_mom,
        weight_decay=wd if kind is not None else 0.0,
        eps=eps,
        amsgrad=False,
        maximize=False,
    )
    return True
