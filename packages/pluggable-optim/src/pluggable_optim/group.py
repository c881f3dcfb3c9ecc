"""`GroupView`: one parameter group seen as lists of tensors, what every optimizer step works on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

__all__ = ["GroupView"]


class GroupView:
    """The parameters of one group that have a gradient, their grads, and their optimizer state, as lists.

    Steps (stats and steppers) receive a `GroupView` and work on all its tensors at once with `torch._foreach_*`.
    `state(name, init)` returns the list of state tensors called `name`, creating missing ones with `init(param)`.
    `counts` holds each parameter's step count once a `step_count` block ran (ints; 0-dim tensors when compiled).
    `grads` may be replaced by a step (e.g. `l2_reg` adds the weight decay to a copy), never modified in place, so
    `p.grad` stays what backward gave.
    """

    __slots__ = ("counts", "grads", "params", "per_param", "states")

    def __init__(
        self,
        params: list[Tensor],
        grads: list[Tensor] | tuple[Tensor, ...],
        per_param: list[dict[str, Any]] | None = None,
        states: dict[str, list[Tensor]] | None = None,
        counts: list[Any] | None = None,
    ) -> None:
        self.params = params
        self.grads = grads
        self.per_param = per_param
        self.states: dict[str, list[Tensor]] = {} if states is None else states
        self.counts = counts

    def __len__(self) -> int:
        return len(self.params)

    def state(self, name: str, init: Callable[[Tensor], Tensor] = torch.zeros_like) -> list[Tensor]:
        """The state tensors called `name`, one per parameter; missing ones are created with `init(param)`."""
        found = self.states.get(name)
        if found is not None:
            return found
        if self.per_param is None:
            raise KeyError(f"state {name!r} is not in this view (it has {sorted(self.states)})")
        out = []
        for p, st in zip(self.params, self.per_param, strict=True):
            t = st.get(name)
            if t is None:
                t = st[name] = init(p)
            out.append(t)
        self.states[name] = out
        return out
