"""Hooks on modules: `Hook`, `Hooks`, `hook_output(s)`, `HookCallback` and `ActivationStats`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from trainloop_callbacks.loop.callback import Callback

__all__ = ["Hook", "Hooks", "hook_output", "hook_outputs", "HookCallback", "ActivationStats", "has_params"]

HookFunc = Callable[[nn.Module, Any, Any], Any]


def _detach(x: Any, cpu: bool) -> Any:
    if isinstance(x, Tensor):
        x = x.detach()
        return x.cpu() if cpu else x
    if isinstance(x, (tuple, list)):
        return type(x)(_detach(o, cpu) for o in x)
    return x


class Hook:
    """Registers `hook_func(module, input, output)` on `m` (forward, or backward with `is_forward=False`, where
    `input`/`output` are the gradients) and keeps its latest result in `stored`. A context manager: removed on
    exit. `detach`/`cpu` detach (and move) what the function sees."""

    def __init__(
        self, m: nn.Module, hook_func: HookFunc, is_forward: bool = True, detach: bool = True, cpu: bool = False
    ) -> None:
        self.hook_func, self.detach, self.cpu = hook_func, detach, cpu
        self.stored: Any = None
        self.removed = False
        register = m.register_forward_hook if is_forward else m.register_full_backward_hook
        self.handle = register(self.hook_fn)

    def hook_fn(self, module: nn.Module, inp: Any, out: Any) -> None:
        """Called by torch: applies `hook_func` and stores the result."""
        if self.detach:
            inp, out = _detach(inp, self.cpu), _detach(out, self.cpu)
        self.stored = self.hook_func(module, inp, out)

    def remove(self) -> None:
        """Unregister the hook (idempotent)."""
        if not self.removed:
            self.handle.remove()
            self.removed = True

    def __enter__(self) -> Hook:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def _output(module: nn.Module, inp: Any, out: Any) -> Any:  # noqa: ARG001 - torch's hook signature
    return out


def hook_output(module: nn.Module, detach: bool = True, cpu: bool = False, grad: bool = False) -> Hook:
    """A `Hook` storing the output of `module` (or the gradient of its output with `grad=True`)."""
    return Hook(module, _output, is_forward=not grad, detach=detach, cpu=cpu)


class Hooks:
    """One `Hook` per module of `ms`, with the same function; `stored` lists their results. A context manager."""

    def __init__(
        self,
        ms: Sequence[nn.Module],
        hook_func: HookFunc,
        is_forward: bool = True,
        detach: bool = True,
        cpu: bool = False,
    ) -> None:
        self.hooks = [Hook(m, hook_func, is_forward, detach, cpu) for m in ms]

    def __getitem__(self, i: int) -> Hook:
        return self.hooks[i]

    def __len__(self) -> int:
        return len(self.hooks)

    def __iter__(self) -> Iterator[Hook]:
        return iter(self.hooks)

    @property
    def stored(self) -> list[Any]:
        """The latest result of each hook."""
        return [h.stored for h in self.hooks]

    def remove(self) -> None:
        """Unregister every hook."""
        for h in self.hooks:
            h.remove()

    def __enter__(self) -> Hooks:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def hook_outputs(modules: Sequence[nn.Module], detach: bool = True, cpu: bool = False, grad: bool = False) -> Hooks:
    """`Hooks` storing the outputs (or output gradients with `grad=True`) of `modules`."""
    return Hooks(modules, _output, is_forward=not grad, detach=detach, cpu=cpu)


def has_params(m: nn.Module) -> bool:
    """Whether `m` has parameters of its own (not counting its children)."""
    return any(True for _ in m.parameters(recurse=False))


class HookCallback(Callback):
    """Hooks `modules` (default: every module with parameters of its own) during training batches.

    The result of `hook(module, input, output)` is kept per module in `hooks.stored`; the default `hook` keeps the
    output, subclasses override it to compute statistics. `every`: only hook training iterations divisible by it.
    Hooks are registered at `before_fit` and removed at `after_fit` (`remove_end`).
    """

    def __init__(
        self,
        modules: Sequence[nn.Module] | None = None,
        every: int | None = None,
        remove_end: bool = True,
        is_forward: bool = True,
        detach: bool = True,
        cpu: bool = True,
    ) -> None:
        self.modules, self.every, self.remove_end = modules, every, remove_end
        self.is_forward, self.detach, self.cpu = is_forward, detach, cpu
        self.hooks: Hooks | None = None
        self._active = False
        self._kept: dict[nn.Module, Any] = {}

    def hook(self, m: nn.Module, inp: Any, out: Any) -> Any:  # noqa: ARG002 - torch's hook signature
        """What to keep from one call of a hooked module; the output by default."""
        return out

    def _hook(self, m: nn.Module, inp: Any, out: Any) -> Any:
        if self._active:
            self._kept[m] = self.hook(m, inp, out)
        return self._kept.get(m)  # outside hooked training batches the last result stays

    def before_fit(self) -> None:
        modules = self.modules
        if modules is None:
            modules = [m for m in self.learn.model.modules() if has_params(m)]
        if self.hooks is None:
            self.hooks = Hooks(modules, self._hook, self.is_forward, self.detach, self.cpu)

    def before_batch(self) -> None:
        learn = self.learn
        self._active = learn.training and (self.every is None or learn.train_iter % self.every == 0)

    def after_batch(self) -> None:
        self._active = False

    def after_fit(self) -> None:
        if self.remove_end and self.hooks is not None:
            self.hooks.remove()
            self.hooks = None


class ActivationStats(HookCallback):
    """Records, per hooked module and training batch, the mean and std of its output and the fraction of values
    near zero (`|x| <= near_zero`), and with `with_hist` a histogram of the outputs over `hist_range`.

    `stats[i]` is the list of per-module dicts of training batch `i`; `layer_stats(k)` stacks module `k`'s
    `(mean, std, near_zero)` over batches; `hist(k)` its histograms (one row per batch).
    """

    run_valid = False

    def __init__(
        self,
        modules: Sequence[nn.Module] | None = None,
        every: int | None = None,
        with_hist: bool = False,
        hist_range: tuple[float, float] = (-7.0, 7.0),
        bins: int = 40,
        near_zero: float = 0.05,
    ) -> None:
        super().__init__(modules, every)
        self.with_hist, self.hist_range, self.bins, self.near_zero = with_hist, hist_range, bins, near_zero
        self.stats: list[list[dict[str, Any]]] = []

    def hook(self, m: nn.Module, inp: Any, out: Any) -> dict[str, Any]:  # noqa: ARG002 - torch's hook signature
        out = out.float()
        res: dict[str, Any] = {
            "mean": out.mean().item(),
            "std": out.std().item() if out.numel() > 1 else 0.0,
            "near_zero": (out.abs() <= self.near_zero).float().mean().item(),
        }
        if self.with_hist:
            res["hist"] = torch.histc(out, self.bins, *self.hist_range)
        return res

    def before_fit(self) -> None:
        super().before_fit()
        self.stats = []

    def after_batch(self) -> None:
        hooks = self.hooks
        if self._active and hooks is not None:  # hooks are registered whenever the callback is active
            self.stats.append(list(hooks.stored))
        super().after_batch()

    def layer_stats(self, idx: int) -> Tensor:
        """`(n_batches, 3)`: mean, std and near-zero fraction of module `idx`'s outputs per recorded batch."""
        return torch.tensor([[s[idx]["mean"], s[idx]["std"], s[idx]["near_zero"]] for s in self.stats])

    def hist(self, idx: int) -> Tensor:
        """`(n_batches, bins)`: histograms of module `idx`'s outputs (needs `with_hist=True`)."""
        if not self.with_hist:
            raise ValueError("ActivationStats.hist needs with_hist=True")
        return torch.stack([s[idx]["hist"] for s in self.stats])
