"""`OptimWrapper`: any torch optimizer with the tiers hyper-parameter API."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from pluggable_optim.hyper_api import HyperAPI
from pluggable_optim.hypers import TorchKey

__all__ = ["OptimWrapper", "torch_hyper_keys"]


def torch_hyper_keys(defaults: Mapping[str, Any]) -> dict[str, TorchKey]:
    """Where each tiers hyper name lives among a torch optimizer's keys (`defaults`): `mom`/`sqr_mom` are
    `betas[0]`/`betas[1]` (Adam family) or `momentum`/`alpha` (SGD, RMSprop); `wd` is `weight_decay`."""
    keys: dict[str, TorchKey] = {}
    if "lr" in defaults:
        keys["lr"] = ("lr", None)
    if "betas" in defaults:
        keys["mom"] = ("betas", 0)
        keys["sqr_mom"] = ("betas", 1)
    else:
        if "momentum" in defaults:
            keys["mom"] = ("momentum", None)
        if "alpha" in defaults:
            keys["sqr_mom"] = ("alpha", None)
    if "eps" in defaults:
        keys["eps"] = ("eps", None)
    if "weight_decay" in defaults:
        keys["wd"] = ("weight_decay", None)
    return keys


class OptimWrapper(HyperAPI):
    """Give a torch optimizer the tiers hyper API (`hypers`, `set_hyper`, `freeze_to`, ...).

    Hypers are read from and written to the torch keys directly (`mom` is `betas[0]` or `momentum`, `sqr_mom`
    is `betas[1]` or `alpha`, `wd` is `weight_decay`), so the wrapped optimizer and its schedulers see one truth.
    `step`, `zero_grad`, `state_dict`, `load_state_dict` and `add_param_group` go to the wrapped optimizer, `opt`.
    """

    def __init__(self, opt: torch.optim.Optimizer, keys: Mapping[str, TorchKey] | None = None) -> None:
        if not isinstance(opt, torch.optim.Optimizer):
            raise TypeError(f"OptimWrapper wraps a torch.optim.Optimizer, got {type(opt).__name__}")
        self.opt = opt
        self.keys = torch_hyper_keys(opt.defaults) if keys is None else dict(keys)
        self.hyper_names = list(self.keys)

    @property
    def param_groups(self) -> list[dict[str, Any]]:  # type: ignore[override]  # torch: a plain attribute; here shared
        """The wrapped optimizer's parameter groups."""
        return self.opt.param_groups

    @property
    def state(self) -> Any:
        """The wrapped optimizer's state."""
        return self.opt.state

    @property
    def defaults(self) -> dict[str, Any]:
        """The wrapped optimizer's defaults."""
        return self.opt.defaults

    def _get_hyper(self, group: dict[str, Any], name: str) -> Any:
        key, idx = self.keys[name]
        return group[key] if idx is None else group[key][idx]

    def _set_hyper(self, group: dict[str, Any], name: str, value: Any) -> None:
        key, idx = self.keys[name]
        if idx is None:
            group[key] = value
        else:
            items = list(group[key])
            items[idx] = value
            group[key] = tuple(items)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """The wrapped optimizer's step."""
        return self.opt.step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """The wrapped optimizer's `zero_grad`."""
        self.opt.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        """The wrapped optimizer's state dict."""
        return self.opt.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load into the wrapped optimizer."""
        self.opt.load_state_dict(state_dict)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group to the wrapped optimizer."""
        self.opt.add_param_group(param_group)

    def __repr__(self) -> str:
        return f"OptimWrapper({self.opt!r})"
