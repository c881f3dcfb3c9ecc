"""`NoBnBiasDecay`: weight decay that skips batch-norm and bias parameters (`Learner(wd_bn_bias=False)`)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pluggable_optim import decay_kind, norm_params
from trainloop_callbacks.loop.callback import Callback

__all__ = ["NoBnBiasDecay", "bn_bias_params"]


def bn_bias_params(model: nn.Module) -> list[Tensor]:
    """The parameters weight decay should not touch: normalisation layers' and every bias."""
    seen: dict[int, Tensor] = {id(p): p for p in norm_params(model)}
    for name, p in model.named_parameters():
        if name.rsplit(".", 1)[-1] == "bias":
            seen[id(p)] = p
    return list(seen.values())


class NoBnBiasDecay(Callback):
    """Takes back the weight decay a step applied to batch-norm and bias parameters.

    pluggable-optim applies `wd` per parameter group; this callback, added by `Learner(wd_bn_bias=False)`,
    keeps those parameters out of it without splitting the groups (which would change what `slice` learning
    rates and `freeze_to(n)` mean). Decoupled decay (`p *= 1 - lr*wd` before the update) is undone by adding
    `lr*wd*p_before` after the step; L2 decay by removing `wd*p` from their gradients before it. Groups without
    the tiers `wd` hyper (a wrapped torch optimizer) are left alone.
    """

    order = 5
    unique = True  # one per learner: another instance replaces it
    run_valid = False

    def before_fit(self) -> None:
        ids = {id(p) for p in bn_bias_params(self.learn.model)}
        self._groups = [
            (i, [p for p in g["params"] if id(p) in ids]) for i, g in enumerate(self.learn.require_opt().param_groups)
        ]
        self._groups = [(i, ps) for i, ps in self._groups if ps]
        self._undo: list[tuple[list[Tensor], tuple[Tensor, ...]]] = []  # (params, decay to add back)

    @torch.no_grad()
    def before_step(self) -> None:
        self._undo = []
        opt = self.learn.require_opt()
        param_groups = opt.param_groups
        for i, params in self._groups:
            group = param_groups[i]
            wd = group.get("wd")
            if not wd:
                continue
            ps = [p for p in params if p.grad is not None and p.requires_grad]
            if not ps:
                continue
            # Which decay the optimizer applies: its blocks say (an explicit `l2_reg` has no `decouple_wd`).
            kind = decay_kind(opt, group) or ("decoupled" if group.get("decouple_wd", True) else "l2")
            if kind == "decoupled":
                self._undo.append((ps, torch._foreach_mul(ps, group["lr"] * wd)))
            else:
                torch._foreach_add_([p.grad for p in ps], ps, alpha=-wd)

    @torch.no_grad()
    def after_step(self) -> None:
        for ps, decay in self._undo:
            torch._foreach_add_(ps, decay)
        self._undo = []

    def after_cancel_step(self) -> None:
        self._undo = []  # no step ran: nothing to take back
