"""Steppers: how the weights move, from the gradients and the stats measured before them.

Each works on a whole parameter group at once (`torch._foreach_*`). Bias corrections are per tensor, since
each parameter keeps its own step count (see `step_count`).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from pluggable_optim._ops import (
    Tensors,
    add_,
    add_scaled_,
    addcdiv_,
    addcmul_,
    added_scaled,
    div_,
    mul,
    mul_,
    nonzero,
    per_count,
    sqrt,
)
from pluggable_optim.group import GroupView

__all__ = [
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
]


def _counts(g: GroupView, who: str) -> list[Any]:
    if g.counts is None:
        raise RuntimeError(f"{who} needs the step counts: put `step_count` before it in the optimizer's steps")
    return g.counts


def sgd_step(g: GroupView, *, lr: float = 1e-3) -> None:
    """Plain SGD: `p -= lr * grad`."""
    add_scaled_(g.params, g.grads, -lr)


def momentum_step(g: GroupView, *, lr: float = 1e-3) -> None:
    """SGD with momentum: `p -= lr * grad_avg` (the buffer kept by `average_grad`)."""
    add_scaled_(g.params, g.state("grad_avg"), -lr)


def nesterov_step(g: GroupView, *, lr: float = 1e-3, mom: float = 0.9) -> None:
    """SGD with Nesterov momentum (torch's formulation): `p -= lr * (grad + mom * grad_avg)`, after `average_grad`."""
    add_scaled_(g.params, g.grads, -lr)
    add_scaled_(g.params, g.state("grad_avg"), -lr * mom)


def rms_prop_step(g: GroupView, *, lr: float = 1e-3, mom: float = 0.0, eps: float = 1e-8) -> None:
    """RMSProp: `p -= lr * grad / (sqrt(sqr_avg) + eps)`.

    With `mom > 0` the momentum averages the normalised steps, as torch.optim.RMSprop and TensorFlow do:
    `buf = mom * buf + grad / (sqrt(sqr_avg) + eps); p -= lr * buf` (state `step_avg`).
    """
    denom = torch._foreach_sqrt(g.state("sqr_avg"))
    add_(denom, eps)
    if nonzero(mom):
        buf = g.state("step_avg")
        mul_(buf, mom)
        torch._foreach_addcdiv_(buf, g.grads, denom)
        add_scaled_(g.params, buf, -lr)
    else:
        addcdiv_(g.params, g.grads, denom, -lr)


def adam_step(g: GroupView, *, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5) -> None:
    """Adam: `p -= lr * (grad_avg / (1 - mom**t)) / (sqrt(sqr_avg / (1 - sqr_mom**t)) + eps)`."""
    counts = _counts(g, "adam_step")
    denom = torch._foreach_sqrt(g.state("sqr_avg"))
    div_(denom, per_count(counts, lambda c: sqrt(1 - sqr_mom**c)))
    add_(denom, eps)
    addcdiv_(g.params, g.state("grad_avg"), denom, per_count(counts, lambda c: -lr / (1 - mom**c)))


def _radam_rect(sqr_mom: float, count: int) -> float:
    """RAdam's variance rectification for step `count`; 0 while the variance is not yet tractable (rho_t <= 5)."""
    rho_inf = 2 / (1 - sqr_mom) - 1
    rho_t = rho_inf - 2 * count * sqr_mom**count / (1 - sqr_mom**count)
    if rho_t <= 5:
        return 0.0
    return math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))


def radam_step(g: GroupView, *, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-5) -> None:
    """RAdam: Adam with its adaptive term rectified, or plain bias-corrected momentum SGD in the first steps.

    `p -= lr * r_t * sqrt(1 - sqr_mom**t) / (1 - mom**t) * grad_avg / (sqrt(sqr_avg) + eps)` when the
    rectification `r_t` exists (rho_t > 5), else `p -= lr / (1 - mom**t) * grad_avg`.
    """
    counts = _counts(g, "radam_step")
    avgs = g.state("grad_avg")
    sqrs = g.state("sqr_avg")
    if isinstance(counts[0], Tensor) or isinstance(sqr_mom, Tensor):
        _radam_step_traced(g.params, avgs, sqrs, counts[0], lr, mom, sqr_mom, eps)
        return
    rects = [_radam_rect(sqr_mom, c) for c in counts]
    on = [i for i, r in enumerate(rects) if r > 0]
    off = [i for i, r in enumerate(rects) if r == 0]
    if off:
        ps = g.params if not on else [g.params[i] for i in off]
        av = avgs if not on else [avgs[i] for i in off]
        add_scaled_(ps, av, per_count([counts[i] for i in off], lambda c: -lr / (1 - mom**c)))
    if on:
        ps = g.params if not off else [g.params[i] for i in on]
        av = avgs if not off else [avgs[i] for i in on]
        sq = sqrs if not off else [sqrs[i] for i in on]
        denom = torch._foreach_sqrt(sq)
        add_(denom, eps)
        sizes = [-lr * rects[i] * math.sqrt(1 - sqr_mom ** counts[i]) / (1 - mom ** counts[i]) for i in on]
        addcdiv_(ps, av, denom, sizes[0] if all(s == sizes[0] for s in sizes) else sizes)


def _radam_step_traced(
    params: list[Tensor],
    avgs: list[Tensor],
    sqrs: list[Tensor],
    count: Tensor,
    lr: Any,
    mom: Any,
    sqr_mom: Any,
    eps: Any,
) -> None:
    """RAdam for the fused path: one shared step count (a tensor), both branches chosen with `torch.where`."""
    count = torch.as_tensor(count, dtype=torch.float64)
    rho_inf = 2 / (1 - sqr_mom) - 1
    rho_t = rho_inf - 2 * count * sqr_mom**count / (1 - sqr_mom**count)
    on = rho_t > 5
    ratio = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)).clamp(min=0)
    rect = torch.where(on, ratio.sqrt(), torch.zeros_like(ratio))
    debias1 = 1 - mom**count
    adaptive = (-lr * rect * (1 - sqr_mom**count).sqrt() / debias1).to(params[0].dtype)
    plain = torch.where(on, torch.zeros_like(debias1), -lr / debias1).to(params[0].dtype)
    denom = torch._foreach_sqrt(sqrs)
    add_(denom, eps)
    torch._foreach_add_(params, mul(torch._foreach_div(avgs, denom), adaptive))
    torch._foreach_add_(params, mul(avgs, plain))


def qhadam_step(
    g: GroupView,
    *,
    lr: float = 1e-3,
    mom: float = 0.999,
    sqr_mom: float = 0.999,
    nu_1: float = 0.7,
    nu_2: float = 1.0,
    eps: float = 1e-8,
) -> None:
    """QHAdam (quasi-hyperbolic Adam): averages of the debiased moments with the current gradient.

    `p -= lr * ((1 - nu_1) * grad + nu_1 * m_hat) / (sqrt((1 - nu_2) * grad**2 + nu_2 * v_hat) + eps)`
    with `m_hat = grad_avg / (1 - mom**t)`, `v_hat = sqr_avg / (1 - sqr_mom**t)`.
    """
    counts = _counts(g, "qhadam_step")
    num = mul(g.state("grad_avg"), per_count(counts, lambda c: nu_1 / (1 - mom**c)))
    add_scaled_(num, g.grads, 1 - nu_1)
    denom = mul(g.state("sqr_avg"), per_count(counts, lambda c: nu_2 / (1 - sqr_mom**c)))
    if nonzero(1 - nu_2):
        addcmul_(denom, g.grads, g.grads, 1 - nu_2)
    torch._foreach_sqrt_(denom)
    add_(denom, eps)
    addcdiv_(g.params, num, denom, -lr)


def _norms(tensors: Tensors) -> Tensor:
    """The L2 norm of each tensor, stacked into one 1-D tensor."""
    return torch.stack(torch._foreach_norm(tensors))


def larc_layer_lr(
    g: GroupView, *, lr: float = 1e-3, trust_coeff: float = 0.02, wd: float = 0.0, eps: float = 1e-8, clip: bool = True
) -> None:
    """LARS/LARC layer-wise learning rates, left in `g.states["local_lr"]` for `larc_step`.

    `local_lr = lr * trust_coeff * ||p|| / (||grad|| + wd * ||p|| + eps)`; with `clip` (LARC) it never exceeds `lr`.
    A tensor whose weights or gradients are all zero (e.g. a freshly zeroed bias) gets `lr`.
    """
    p_norm = _norms(g.params)
    g_norm = _norms(g.grads)
    local = lr * trust_coeff * p_norm / (g_norm + wd * p_norm + eps)
    lr_t = torch.as_tensor(lr, dtype=local.dtype, device=local.device)
    if clip:
        local = torch.minimum(local, lr_t)
    local = torch.where((p_norm > 0) & (g_norm > 0), local, lr_t)
    g.states["local_lr"] = list(local.unbind())


def larc_step(g: GroupView, *, mom: float = 0.9, wd: float = 0.0) -> None:
    """LARS's step: `buf = mom * buf + local_lr * (grad + wd * p); p -= buf` (state `momentum_buffer`)."""
    local = g.states.get("local_lr")
    if local is None:
        raise RuntimeError("larc_step needs the layer-wise learning rates: put `larc_layer_lr` before it")
    upd = added_scaled(g.grads, g.params, wd) if nonzero(wd) else g.grads
    upd = torch._foreach_mul(upd, local)
    if nonzero(mom):
        buf = g.state("momentum_buffer")
        mul_(buf, mom)
        torch._foreach_add_(buf, upd)
        upd = buf
    torch._foreach_sub_(g.params, upd)


def lamb_step(
    g: GroupView, *, lr: float = 1e-3, mom: float = 0.9, sqr_mom: float = 0.99, eps: float = 1e-6, wd: float = 0.0
) -> None:
    """LAMB: an Adam update with weight decay, scaled per tensor by the trust ratio `||p|| / ||update||`.

    `u = m_hat / (sqrt(v_hat) + eps) + wd * p; p -= lr * min(||p|| / ||u||, 10) * u`, with ratio 1 when either
    norm is zero (the paper's clipping function, with fastai's upper bound of 10).
    """
    counts = _counts(g, "lamb_step")
    # m_hat / (sqrt(v_hat) + eps) = c * m / (sqrt(v) + eps * sqrt(1 - sqr_mom**t)) with
    # c = sqrt(1 - sqr_mom**t) / (1 - mom**t): the update is built as u = m / (...) + (wd / c) * p, the true update
    # being c * u, which saves passes over memory
    c = per_count(counts, lambda t: sqrt(1 - sqr_mom**t) / (1 - mom**t))
    e = per_count(counts, lambda t: eps * sqrt(1 - sqr_mom**t))
    if g.params[0].device.type == "cpu" and all(isinstance(x, int | float) for x in (lr, wd, c, e)):
        _lamb_per_tensor(g.params, g.state("grad_avg"), g.state("sqr_avg"), lr, wd, c, e)
        return
    denom = torch._foreach_sqrt(g.state("sqr_avg"))
    add_(denom, e)
    upd = torch._foreach_div(g.state("grad_avg"), denom)
    if nonzero(wd):
        add_scaled_(upd, g.params, [wd / ci for ci in c] if isinstance(c, list) else wd / c)
    p_norm = _norms(g.params)
    c_t = torch.tensor(c, dtype=p_norm.dtype, device=p_norm.device) if isinstance(c, list) else c
    u_norm = _norms(upd) * c_t
    ratio = torch.where((p_norm > 0) & (u_norm > 0), p_norm / u_norm, torch.ones_like(p_norm)).clamp(max=10.0)
    # one pass: p += upd * scale, the per-tensor scale a broadcast 0-dim tensor
    torch._foreach_addcmul_(g.params, upd, list((ratio * c_t * -lr).to(upd[0].dtype).unbind()))


def _lamb_per_tensor(
    params: list[Tensor], avgs: list[Tensor], sqrs: list[Tensor], lr: float, wd: float, c: float, e: float
) -> None:
    """`lamb_step` on the CPU, one tensor at a time: the update of each tensor is built, measured and applied
    while it is in cache, and its memory is handed back before the next one (the allocator reuses it), where a
    foreach update of the whole group would take, and page-fault in, a new group-sized block every step."""
    for p, m, v in zip(params, avgs, sqrs, strict=True):
        u = torch.sqrt(v)
        u.add_(e)
        torch.div(m, u, out=u)
        if wd != 0:
            u.add_(p, alpha=wd / c)
        p_norm = float(torch.linalg.vector_norm(p))
        u_norm = float(torch.linalg.vector_norm(u)) * c
        ratio = min(p_norm / u_norm, 10.0) if p_norm > 0 and u_norm > 0 else 1.0
        p.add_(u, alpha=-lr * c * ratio)
