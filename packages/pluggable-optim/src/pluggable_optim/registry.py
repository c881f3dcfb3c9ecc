"""The registry of optimizer recipes, as data: name -> constructor taking `params` and hyper-parameters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from pluggable_optim.lookahead import ranger
from pluggable_optim.recipes import SGD, Adam, Lamb, Larc, QHAdam, RAdam, RMSProp

__all__ = ["list_optimizers", "get_optimizer"]

_RECIPES: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "SGD": SGD,
    "RMSProp": RMSProp,
    "Adam": Adam,
    "RAdam": RAdam,
    "QHAdam": QHAdam,
    "Larc": Larc,
    "Lamb": Lamb,
    "ranger": ranger,
}


def list_optimizers() -> list[str]:
    """The names of the registered optimizer recipes."""
    return list(_RECIPES)


def get_optimizer(name: str) -> Callable[..., Any]:
    """The recipe registered as `name` (call it with `params` and hyper-parameters)."""
    try:
        return _RECIPES[name]
    except KeyError:
        raise KeyError(f"no optimizer named {name!r}; registered: {list_optimizers()}") from None
