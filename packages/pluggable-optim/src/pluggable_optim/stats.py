"""Stats: what an optimizer measures during training (averaged grads, averaged squared grads, step counts),
and the two ways of applying weight decay. Each works on a whole parameter group at once."""

from __future__ import annotations

import torch

from pluggable_optim._ops import addcmul_, added_scaled, lerp_, mul_, nonzero
from pluggable_optim.group import GroupView

__all__ = ["average_grad", "average_sqr_grad", "step_count", "weight_decay", "l2_reg"]


def weight_decay(g: GroupView, *, lr: float = 1e-3, wd: float = 0.0, decouple_wd: bool = True) -> None:
    """Decoupled weight decay (AdamW's): shrink the weights by `1 - lr * wd` before the step moves them."""
    if decouple_wd and nonzero(wd):
        mul_(g.params, 1 - lr * wd)


def l2_reg(g: GroupView, *, wd: float = 0.0, decouple_wd: bool = True) -> None:
    """L2 regularisation: the step sees `grad + wd * param` (a new list; `p.grad` itself is left alone)."""
    if not decouple_wd and nonzero(wd):
        g.grads = added_scaled(g.grads, g.params, wd)


def average_grad(g: GroupView, *, mom: float = 0.9, dampening: bool = False) -> None:
    """Moving average of the gradients in state `grad_avg`: `avg = mom * avg + (1 - mom if dampening else 1) * grad`.

    Without dampening it is SGD's momentum buffer; with dampening, Adam's first moment.
    """
    avg = g.state("grad_avg")
    if dampening:
        lerp_(avg, g.grads, 1 - mom)
    else:
        mul_(avg, mom)
        torch._foreach_add_(avg, g.grads)


def average_sqr_grad(g: GroupView, *, sqr_mom: float = 0.99, sqr_dampening: bool = True) -> None:
    """Moving average of the squared gradients in state `sqr_avg`: `avg = sqr_mom * avg + (1 - sqr_mom) * grad**2`."""
    avg = g.state("sqr_avg")
    mul_(avg, sqr_mom)
    addcmul_(avg, g.grads, g.grads, (1 - sqr_mom) if sqr_dampening else 1.0)


def step_count(g: GroupView) -> None:
    """Count the steps each parameter took (state `step`, a Python int), for bias corrections; sets `g.counts`."""
    if g.per_param is None:  # the fused path: one count shared by the whole group, given in the view
        if g.counts is None:
            raise KeyError("step_count needs per-parameter state or counts in the view")
        first = g.counts[0]
        g.counts = [first + 1] * len(g.counts) if all(c is first for c in g.counts) else [c + 1 for c in g.counts]
        return
    counts = []
    for st in g.per_param:
        c = st["step"] = st.get("step", 0) + 1
        counts.append(c)
    g.counts = counts
