"""`Optimizer`: a torch optimizer made of a list of steps (stats and steppers) run over each parameter group."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from pluggable_optim.group import GroupView
from pluggable_optim.hyper_api import HyperAPI
from pluggable_optim.hypers import HyperGroup, TorchKey, check_hyper_value, default_torch_keys, per_group_values
from pluggable_optim.kernels import find_kernel
from pluggable_optim.stats import step_count

__all__ = ["Optimizer", "Step", "step_hypers"]

Step = Callable[..., None]
"""A stat or stepper: `step(g: GroupView, *, hyper=default, ...)`, working on a whole group in place."""


def step_hypers(step: Step) -> dict[str, Any]:
    """The hyper-parameters a step reads: its keyword-only arguments and their defaults.

    Arguments fixed with `functools.partial` (e.g. `partial(average_grad, dampening=True)`) belong to the recipe
    and are not hyper-parameters.
    """
    try:
        sig = inspect.signature(step)
    except (TypeError, ValueError) as e:
        raise TypeError(f"optimizer step {step!r} has no inspectable signature") from e
    fixed = step.keywords if isinstance(step, functools.partial) else {}
    out = {}
    for p in sig.parameters.values():
        if p.kind is inspect.Parameter.KEYWORD_ONLY and p.name not in fixed:
            if p.default is inspect.Parameter.empty:
                raise TypeError(f"optimizer step {_name(step)}: hyper-parameter {p.name!r} needs a default value")
            out[p.name] = p.default
    return out


def _name(step: Step) -> str:
    func = getattr(step, "func", step)  # functools.partial
    return getattr(func, "__name__", repr(step))


def _is_named(x: Any) -> bool:
    """A `(name, tensor)` pair, as `model.named_parameters()` yields."""
    return isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], str) and isinstance(x[1], Tensor)


def _split_params(params: Any) -> list[dict[str, Any]]:
    """Parameter groups from tensors (one group), lists of tensors (one group each) or torch-style dicts."""
    if isinstance(params, Tensor):
        raise TypeError("params must be an iterable of tensors, of lists of tensors, or of dicts; got one tensor")
    items = list(params)
    if not items:
        raise ValueError("the optimizer got an empty parameter list")
    if all(isinstance(x, Tensor) for x in items) or all(_is_named(x) for x in items):
        return [{"params": items}]
    groups = []
    for i, x in enumerate(items):
        if isinstance(x, Mapping):
            if "params" not in x:
                raise ValueError(f"parameter group {i} is a dict without a 'params' key")
            groups.append(dict(x))
        elif isinstance(x, Iterable) and not isinstance(x, Tensor | str):
            groups.append({"params": list(x)})
        else:
            raise TypeError(
                f"params item {i} is a {type(x).__name__}; expected all tensors, or all lists of tensors / dicts"
            )
    return groups


class Optimizer(HyperAPI, torch.optim.Optimizer):
    """An optimizer made of `steps`, small functions run in order over each parameter group at once.

    `params`: tensors (one group), lists of tensors (one group each) or torch-style dicts. `hypers`: the values
    of the steps' hyper-parameters (`lr`, `mom`, `sqr_mom`, `eps`, `wd`, ...), each a scalar, a list (one per group)
    or a `slice` (spread over the groups); the steps' keyword defaults fill the rest. Each group also carries the
    torch keys (`weight_decay`, `momentum` or `betas`) mirroring those names, so torch schedulers work unchanged.
    When the steps are exactly SGD, Adam or AdamW, the default (`foreach=None`) and `fused=True` run torch's
    fused kernel for them (see `pluggable_optim.kernels`); `foreach=True` runs the steps with `torch._foreach_*`,
    `foreach=False` one tensor at a time; `fused=True` compiles any other recipe's step with `torch.compile`
    (see `pluggable_optim.fused`).
    """

    def __init__(
        self,
        params: Iterable[Any],
        steps: Sequence[Step],
        *,
        foreach: bool | None = None,
        fused: bool = False,
        torch_keys: Mapping[str, TorchKey] | None = None,
        **hypers: Any,
    ) -> None:
        steps = list(steps)
        if not steps:
            raise ValueError("an optimizer needs at least one step")
        defaults: dict[str, Any] = {}
        specs = []
        for step in steps:
            if not callable(step):
                raise TypeError(f"optimizer steps must be callables, got {step!r}")
            own = step_hypers(step)
            defaults.update(own)  # the last step that declares a hyper gives its default
            specs.append((step, tuple(own)))
        unknown = [k for k in hypers if k not in defaults]
        if unknown:
            raise ValueError(
                f"unknown hyper-parameter(s) {unknown} for steps {[_name(s) for s in steps]}; "
                f"expected some of {sorted(defaults)}"
            )
        self.steps = steps
        self._specs = specs
        self.hyper_names = list(defaults)
        links = default_torch_keys(defaults) if torch_keys is None else dict(torch_keys)
        bad = [k for k in links if k not in defaults]
        if bad:
            raise ValueError(f"torch_keys names unknown hyper-parameter(s) {bad}; expected some of {sorted(defaults)}")
        self._links = links
        self.foreach = foreach
        self.fused = fused
        self._compiled: dict[Any, Any] = {}
        self._counts_steps = any(getattr(s, "func", s) is step_count for s in steps)
        self._kernel = find_kernel(steps)

        groups = _split_params(params)
        for name, value in hypers.items():
            values = per_group_values(name, value, len(groups))
            torch_key = links[name][0] if name in links else None
            for group, v in zip(groups, values, strict=True):
                if name not in group and torch_key not in group:  # a group's own value wins, by either name
                    group[name] = v
            defaults[name] = values[-1]
        for name, value in defaults.items():
            check_hyper_value(name, value)
        super().__init__(groups, dict(HyperGroup(defaults, links)))

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group (a dict with `params`, and optionally hyper values by tiers name or torch key)."""
        group = HyperGroup(param_group, self._links)
        for name in self.hyper_names:
            if name not in group:
                group[name] = self.defaults[name]
            check_hyper_value(name, group[name])
        super().add_param_group(group)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """torch's `load_state_dict`, keeping the groups' tiers names and torch keys in step afterwards."""
        super().load_state_dict(state_dict)
        self.param_groups = [HyperGroup(g, self._links) for g in self.param_groups]

    @torch.no_grad()
    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Run the steps over every group; `closure` (re-evaluating the loss) is called first, with grad on."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss

    def _step_group(self, group: dict[str, Any]) -> None:
        params, grads = [], []
        for p in group["params"]:
            grad = p.grad
            if grad is not None and p.requires_grad:
                params.append(p)
                grads.append(grad)
        if not params:
            return
        state = self.state
        if self.foreach is False:
            for p, grad in zip(params, grads, strict=True):
                self._run(GroupView([p], [_dense(grad)], [state[p]]), group)
            return
        first = params[0]
        device, dtype = first.device, first.dtype
        if all(p.device == device and p.dtype == dtype for p in params) and not any(g.is_sparse for g in grads):
            view = GroupView(params, grads, [state[p] for p in params])
            if self._kernel is not None and (self.fused or self.foreach is None) and self._kernel(view, group):
                return
            if self.fused:
                from pluggable_optim.fused import run_fused  # torch.compile is imported only when asked for

                run_fused(self, view, group)
            else:
                self._run(view, group)
            return
        buckets: dict[Any, list[int]] = {}
        for i, (p, grad) in enumerate(zip(params, grads, strict=True)):
            key = ("sparse", i) if grad.is_sparse else (p.device, p.dtype)
            buckets.setdefault(key, []).append(i)
        for idx in buckets.values():
            ps = [params[i] for i in idx]
            self._run(GroupView(ps, [_dense(grads[i]) for i in idx], [state[p] for p in ps]), group)

    def _run(self, view: GroupView, group: dict[str, Any]) -> None:
        for step, names in self._specs:
            step(view, **{n: group[n] for n in names})

    def __repr__(self) -> str:
        steps = ", ".join(_name(s) for s in self.steps)
        return f"{type(self).__name__}(steps=[{steps}], groups={len(self.param_groups)}, hypers={self.hypers})"


def _dense(grad: Tensor) -> Tensor:
    """Sparse gradients are handled as dense tensors, one parameter at a time."""
    return grad.to_dense() if grad.is_sparse else grad
