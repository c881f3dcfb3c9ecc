"""`LinBnDrop`: batch norm, dropout and a linear layer in one block (the unit of fastai's heads and MLPs)."""

from __future__ import annotations

from torch import nn

from trainloop_callbacks.layers.activation import activation_from_data, activation_to_data
from trainloop_callbacks.layers.norm import BatchNorm

__all__ = ["LinBnDrop"]


class LinBnDrop(nn.Sequential):
    """`BatchNorm1d` → `Dropout(p)` → `Linear` → `act`, or with `lin_first` the linear layer and `act` first, then
    batch norm and dropout, as fastai's `LinBnDrop`. The linear layer has no bias when `bn`.

    `act` is an activation module as in fastai (`nn.ReLU(inplace=True)`), or a class or name from
    `ACTIVATIONS`; one outside that table makes the block impossible to export as data."""

    config_safe = True

    def __init__(
        self,
        n_in: int,
        n_out: int,
        bn: bool = True,
        p: float = 0.0,
        act: nn.Module | type[nn.Module] | str | None = None,
        lin_first: bool = False,
    ) -> None:
        if not 0.0 <= p < 1.0:
            raise ValueError(f"LinBnDrop: dropout probability p must be in [0, 1), got {p!r}")
        act_data = activation_to_data(act)
        act_module = activation_from_data(act_data)
        layers: list[nn.Module] = [BatchNorm(n_out if lin_first else n_in, ndim=1)] if bn else []
        if p != 0:
            layers.append(nn.Dropout(p))
        lin: list[nn.Module] = [nn.Linear(n_in, n_out, bias=not bn)]
        if act_module is not None:
            lin.append(act_module)
        super().__init__(*(lin + layers if lin_first else layers + lin))
        self.config = {
            "n_in": n_in,
            "n_out": n_out,
            "bn": bn,
            "p": float(p),
            "act": act_data,
            "lin_first": lin_first,
        }
