"""The hyper-parameter and freezing API a training loop uses, shared by every tiers optimizer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import Tensor, nn

from pluggable_optim.hypers import check_hyper_value, per_group_values

__all__ = ["HyperAPI", "norm_params"]

_NORM_TYPES = (nn.modules.batchnorm._BatchNorm, nn.modules.instancenorm._InstanceNorm, nn.LayerNorm, nn.GroupNorm)


def norm_params(model: nn.Module) -> list[Tensor]:
    """The parameters of the normalisation layers (batch, instance, layer, group norm) of `model`.

    Pass them as `keep` to `freeze_to`/`freeze` to keep batch norm trainable in frozen groups (fastai's `train_bn`).
    """
    return [p for m in model.modules() if isinstance(m, _NORM_TYPES) for p in m.parameters(recurse=False)]


class HyperAPI:
    """`hypers`, `set_hyper`, `set_hypers`, `freeze_to`, `freeze`, `unfreeze` over `self.param_groups`.

    A subclass sets `param_groups` and `hyper_names` (the tiers names of the hyper-parameters it reads), and
    may change how one hyper of one group is read and written (`OptimWrapper` translates to torch keys).
    """

    param_groups: list[dict[str, Any]]
    hyper_names: list[str]
    frozen_idx: int = 0

    def _get_hyper(self, group: dict[str, Any], name: str) -> Any:
        return group[name]

    def _set_hyper(self, group: dict[str, Any], name: str, value: Any) -> None:
        group[name] = value

    @property
    def hypers(self) -> list[dict[str, Any]]:
        """The hyper-parameters of each parameter group, by tiers name (a fresh list of dicts: read it,
        change them with `set_hyper`)."""
        names = self.hyper_names
        return [{n: self._get_hyper(g, n) for n in names} for g in self.param_groups]

    def set_hyper(self, name: str, value: Any) -> None:
        """Set hyper `name` in every group: one value for all, a list (one per group), or a `slice` spread
        geometrically over the groups (discriminative learning rates)."""
        if name not in self.hyper_names:
            raise KeyError(f"unknown hyper-parameter {name!r}; this optimizer has {self.hyper_names}")
        values = per_group_values(name, value, len(self.param_groups))
        for v in values:
            check_hyper_value(name, v)
        for group, v in zip(self.param_groups, values, strict=True):
            self._set_hyper(group, name, v)

    def set_hypers(self, **kwargs: Any) -> None:
        """`set_hyper` for each keyword argument."""
        unknown = [k for k in kwargs if k not in self.hyper_names]
        if unknown:
            raise KeyError(f"unknown hyper-parameter(s) {unknown}; this optimizer has {self.hyper_names}")
        for name, value in kwargs.items():
            self.set_hyper(name, value)

    def freeze_to(self, n: int, keep: Iterable[Tensor] = ()) -> None:
        """Freeze the parameter groups before group `n` (negative counts from the end), unfreeze the others.

        Frozen parameters stop requiring grad and lose any grad they had, so they get no update and no state
        change. Parameters in `keep` (e.g. `norm_params(model)`, fastai's `train_bn`) stay trainable.
        """
        n_groups = len(self.param_groups)
        if not -n_groups <= n <= n_groups:
            raise ValueError(f"freeze_to({n}): the optimizer has {n_groups} parameter group(s)")
        idx = n if n >= 0 else n_groups + n
        kept = {id(t) for t in keep}
        for i, group in enumerate(self.param_groups):
            for p in group["params"]:
                trainable = i >= idx or id(p) in kept
                p.requires_grad_(trainable)
                if not trainable:
                    p.grad = None
        self.frozen_idx = idx

    def freeze(self, keep: Iterable[Tensor] = ()) -> None:
        """Freeze every group but the last (the head of a transfer-learning model)."""
        self.freeze_to(-1, keep)

    def unfreeze(self) -> None:
        """Make every group trainable again."""
        self.freeze_to(0)
