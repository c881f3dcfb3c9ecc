"""Stats: what an optimizer measures during training (averaged grads, averaged squared grads, step counts),
and the two ways of applying weight decay (and `apply_wd`, which picks one by a hyper). Each works on a whole
parameter group at once."""

from __future__ import annotations

import torch

from pluggable_optim._ops import addcmul_, added_scaled, lerp_, mul_, nonzero
from pluggable_optim.group import GroupView

__all__ = ["average_grad", "average_sqr_grad", "step_count", "weight_decay", "l2_reg", "apply_wd", "decay_kind"]


def weight_decay(g: GroupView, *, lr: float = 1e-3, wd: float = 0.0) -> None:
    """Decoupled weight decay (AdamW's): shrink the weights by `1 - lr * wd` before the step moves them."""
    if nonzero(wd):
        mul_(g.params, 1 - lr * wd)


def l2_reg(g: GroupView, *, wd: float = 0.0) -> None:
    """L2 regularisation: the step sees `grad + wd * param` (a new list; `p.grad` itself is left alone)."""
    if nonzero(wd):
        g.grads = added_scaled(g.grads, g.params, wd)


def apply_wd(g: GroupView, *, lr: float = 1e-3, wd: float = 0.0, decouple_wd: bool = True) -> None:
    """Weight decay of the kind the `decouple_wd` hyper names: `weight_decay` when True, `l2_reg` when False.

    The recipes' block, so that the kind stays a hyper-parameter of SGD, Adam, ... (as fastai's `decouple_wd`
    argument); a composition that lists `weight_decay` or `l2_reg` itself gets that kind, whatever `decouple_wd`.
    """
    if decouple_wd:
        weight_decay(g, lr=lr, wd=wd)
    else:
        l2_reg(g, wd=wd)


def decay_kind(opt: object, group: dict) -> str | None:
    """Which weight decay `opt`'s steps apply to `group`: "decoupled", "l2", or None when it is not known.

    None for optimizers that are not made of blocks (a torch optimizer), and for recipes whose steppers handle
    `wd` themselves (LARS, LAMB). A wrapper with the blocks' optimizer in `.opt` (`Lookahead`) is looked through.
    For callbacks that must adjust the decay of some parameters.
    """
    if not hasattr(opt, "steps") and hasattr(opt, "opt"):
        opt = opt.opt
    steps = [getattr(s, "func", s) for s in getattr(opt, "steps", ())]
    if apply_wd in steps:
        return "decoupled" if group.get("decouple_wd", True) else "l2"
    if weight_decay in steps:
        return "decoupled"
    if l2_reg in steps:
        return "l2"
    return None


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
