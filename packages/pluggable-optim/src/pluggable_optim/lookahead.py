"""`Lookahead`: k fast steps of any optimizer, then the slow weights move part of the way towards them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from pluggable_optim.hyper_api import HyperAPI
from pluggable_optim.recipes import RAdam
from pluggable_optim.wrapper import OptimWrapper

__all__ = ["Lookahead", "ranger"]


_SLOW = "lookahead_slow"  # the key of the slow weights in `Lookahead.state_dict()`


class Lookahead(HyperAPI, torch.optim.Optimizer):
    """Lookahead (Zhang et al., 2019) around `opt`: every `k` steps, `slow += alpha * (fast - slow)`, `fast = slow`.

    It shares `opt`'s parameter groups and state, so schedulers and the hyper API act on both at once; the
    step count is the group key `lookahead_count`. The slow weights are kept apart, in `slow_params` (never in
    `opt.state`: torch's optimizers take a parameter with state for one they already set up), and
    `state_dict()` is `opt`'s with the slow weights added under `"lookahead_slow"`.
    """

    def __init__(self, opt: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5) -> None:
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"Lookahead wraps a torch.optim.Optimizer, got {type(opt).__name__}")
        if not (isinstance(k, int) and k >= 1):
            raise ValueError(f"Lookahead needs k >= 1 (fast steps per slow step), got k={k!r}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"Lookahead needs alpha in [0, 1], got alpha={alpha}")
        self.opt = opt
        self.k = k
        self.alpha = alpha
        self.slow_params: dict[torch.Tensor, torch.Tensor] = {}
        self._hypers_of = opt if isinstance(opt, HyperAPI) else OptimWrapper(opt)
        self._shared = False
        super().__init__(opt.param_groups, opt.defaults)
        self.param_groups = opt.param_groups
        self.state = opt.state
        self._shared = True

    @property
    def hyper_names(self) -> list[str]:  # type: ignore[override]  # the base sets an attribute; read through here
        """The wrapped optimizer's hyper names."""
        return self._hypers_of.hyper_names

    def _get_hyper(self, group: dict[str, Any], name: str) -> Any:
        return self._hypers_of._get_hyper(group, name)

    def _set_hyper(self, group: dict[str, Any], name: str, value: Any) -> None:
        self._hypers_of._set_hyper(group, name, value)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the wrapped optimizer (during `__init__`, take over the wrapped optimizer's groups)."""
        if self._shared:
            self.opt.add_param_group(param_group)
        else:
            super().add_param_group(param_group)

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """One fast step of the wrapped optimizer; every `k`-th one, the slow weights catch up."""
        slow_params = self.slow_params
        for group in self.param_groups:
            for p in group["params"]:
                if p not in slow_params:
                    slow_params[p] = p.detach().clone()
        loss = self.opt.step(closure)
        for group in self.param_groups:
            count = group["lookahead_count"] = group.get("lookahead_count", 0) + 1
            if count % self.k:
                continue
            fast = list(group["params"])
            slow = [slow_params[p] for p in fast]
            torch._foreach_lerp_(slow, fast, self.alpha)
            torch._foreach_copy_(fast, slow)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimizer's `zero_grad`."""
        self.opt.zero_grad(set_to_none=set_to_none)

    def _params(self) -> list[torch.Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state dict, plus the slow weights by parameter index (as torch numbers them)."""
        out = self.opt.state_dict()
        out[_SLOW] = {i: self.slow_params[p] for i, p in enumerate(self._params()) if p in self.slow_params}
        return out

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load into the wrapped optimizer and restore the slow weights; share its new groups and state again."""
        state_dict = dict(state_dict)
        slow = state_dict.pop(_SLOW, {})
        self.opt.load_state_dict(state_dict)
        self.param_groups = self.opt.param_groups
        self.state = self.opt.state
        params = self._params()
        self.slow_params = {}
        for i, p in enumerate(params):
            saved = slow.get(i)
            old = self.state[p].pop("slow_param", None)  # where versions up to 0.1 kept them
            saved = old if saved is None else saved
            if saved is not None:
                self.slow_params[p] = saved.to(device=p.device, dtype=p.dtype).clone()

    def __repr__(self) -> str:
        return f"Lookahead({self.opt!r}, k={self.k}, alpha={self.alpha})"


def ranger(
    params: Any,
    lr: float = 1e-3,
    mom: float = 0.95,
    sqr_mom: float = 0.99,
    eps: float = 1e-6,
    wd: float = 0.01,
    decouple_wd: bool = True,
    k: int = 6,
    alpha: float = 0.5,
    **kw: Any,
) -> Lookahead:
    """Ranger: Lookahead over RAdam."""
    inner = RAdam(params, lr=lr, mom=mom, sqr_mom=sqr_mom, eps=eps, wd=wd, decouple_wd=decouple_wd, **kw)
    return Lookahead(inner, k=k, alpha=alpha)
