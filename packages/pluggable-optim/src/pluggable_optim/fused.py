"""The fused path: a recipe's whole step for one parameter group compiled by `torch.compile`.

The steps are the same foreach compositions as the eager path; compiled, inductor fuses their element-wise
work into a few kernels per group. Hyper-parameters and the step count enter the compiled step as 0-dim tensors,
so a scheduler changing `lr` or `mom` every batch does not recompile. The first step of a group runs eagerly
(it creates the state); a group whose parameters have different step counts also runs eagerly. When compiling
fails (no C++ compiler, unsupported platform) the optimizer warns once and keeps running the eager steps.
"""

from __future__ import annotations

import types
import warnings
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from pluggable_optim.group import GroupView

if TYPE_CHECKING:
    from pluggable_optim.optimizer import Optimizer

__all__ = ["run_fused"]


def _fused_step(
    specs: tuple[tuple[Any, tuple[str, ...]], ...],
    params: list[Tensor],
    grads: list[Tensor],
    states: dict[str, list[Tensor]],
    count: Tensor | None,
    hypers: dict[str, Any],
) -> None:
    view = GroupView(params, grads, None, dict(states), None if count is None else [count] * len(params))
    for step, names in specs:
        step(view, **{n: hypers[n] for n in names})


def _own_copy(fn: Any, n: int) -> Any:
    """`fn` with its own code object: torch.compile keeps its compiled versions per code object (at most 8 by
    default), so each group's step gets its own cache instead of evicting the others'."""
    code = fn.__code__.replace(co_name=f"{fn.__name__}_{n}")
    return types.FunctionType(code, fn.__globals__, code.co_name, fn.__defaults__, fn.__closure__)


def _as_input(value: Any, like: Tensor) -> Any:
    """Numbers become 0-dim tensors (inputs of the compiled step); flags and others stay Python values."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return torch.tensor(float(value), dtype=like.dtype, device=like.device)


def run_fused(opt: Optimizer, view: GroupView, group: dict[str, Any]) -> None:
    """Run `opt`'s steps over `view` with the compiled step (compiling it on the second step of the group)."""
    per_param = view.per_param
    assert per_param is not None
    counted = opt._counts_steps
    if counted:
        first = per_param[0].get("step", 0)
        if first == 0 or any(st.get("step", 0) != first for st in per_param):
            opt._run(view, group)
            return
    key = (id(view.params[0]), len(view.params))
    entry = opt._compiled.get(key)
    if entry is None:
        opt._run(view, group)
        names = [n for n in view.states if all(n in st for st in per_param)]
        opt._compiled[key] = (names, torch.compile(_own_copy(_fused_step, len(opt._compiled)), dynamic=False))
        return
    names, fn = entry
    try:
        states = {n: [st[n] for st in per_param] for n in names}
    except KeyError:
        opt._run(view, group)
        return
    like = view.params[0]
    hypers = {n: _as_input(group[n], like) for n in opt.hyper_names}
    count = _as_input(first, like) if counted else None
    try:
        fn(tuple(opt._specs), view.params, view.grads, states, count, hypers)
    except (RuntimeError, ImportError, OSError) as e:  # torch._dynamo / inductor failures derive from these
        if opt._compiled.get("failed"):
            raise
        warnings.warn(
            f"fused=True: torch.compile could not compile the optimizer step ({type(e).__name__}: {e}); "
            "running the eager foreach steps instead",
            RuntimeWarning,
            stacklevel=4,
        )
        opt.fused = False
        opt._compiled["failed"] = True
        opt._run(view, group)
        return
    if counted:
        for st in per_param:
            st["step"] = first + 1
