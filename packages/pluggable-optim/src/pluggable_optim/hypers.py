"""Hyper-parameters: per-group values, slices of learning rates, and the torch keys they mirror."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["HyperGroup", "TorchKey", "default_torch_keys", "spread_slice", "per_group_values", "check_hyper_value"]

TorchKey = tuple[str, int | None]
"""Where a tiers hyper lives among torch's keys: `(key, None)` for a plain key, `(key, i)` for item i of a tuple."""


def spread_slice(s: slice, n_groups: int) -> list[float]:
    """Spread a `slice` of learning rates over `n_groups` parameter groups.

    `slice(lo, hi)` is spread geometrically from `lo` to `hi` (one group gets `hi`);
    `slice(hi)` gives `hi / 10` to every group but the last, which gets `hi`.
    """
    if n_groups < 1:
        raise ValueError(f"spread_slice needs at least one group, got n_groups={n_groups}")
    if s.stop is None:
        raise ValueError(f"a slice of hyper-parameters needs a stop value, got {s!r}")
    if s.start is None:
        return [s.stop / 10] * (n_groups - 1) + [s.stop]
    if n_groups == 1:
        return [s.stop]
    ratio = (s.stop / s.start) ** (1 / (n_groups - 1))
    return [s.start * ratio**i for i in range(n_groups)]


def per_group_values(name: str, value: Any, n_groups: int) -> list[Any]:
    """One value of hyper `name` per group, from a scalar, a list/tuple (one per group) or a `slice`."""
    if isinstance(value, slice):
        return spread_slice(value, n_groups)
    if isinstance(value, list | tuple):
        if len(value) != n_groups:
            raise ValueError(
                f"hyper-parameter {name!r} got {len(value)} values but the optimizer has {n_groups} parameter "
                f"group(s): pass one value per group, a single value, or a slice"
            )
        return list(value)
    return [value] * n_groups


_NON_NEGATIVE = ("lr", "wd", "eps")
_FRACTIONS = ("mom", "sqr_mom")


def check_hyper_value(name: str, value: Any) -> None:
    """Reject values no optimizer can use: a negative `lr`/`wd`/`eps`, a `mom`/`sqr_mom` outside [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if name in _NON_NEGATIVE and (value < 0 or math.isnan(value)):
        raise ValueError(f"hyper-parameter {name!r} must be >= 0, got {value}")
    if name in _FRACTIONS and not 0.0 <= value <= 1.0:
        raise ValueError(f"hyper-parameter {name!r} must be in [0, 1], got {value}")


def default_torch_keys(names: Iterable[str]) -> dict[str, TorchKey]:
    """The torch param-group keys that mirror the tiers hyper `names`.

    `wd` is `weight_decay`; `mom` is `betas[0]` when there is also a `sqr_mom` (then `sqr_mom` is `betas[1]`),
    otherwise `momentum`. `lr` has the same name on both sides and needs no mirror.
    """
    names = set(names)
    keys: dict[str, TorchKey] = {}
    if "wd" in names:
        keys["wd"] = ("weight_decay", None)
    if "mom" in names and "sqr_mom" in names:
        keys["mom"] = ("betas", 0)
        keys["sqr_mom"] = ("betas", 1)
    elif "mom" in names:
        keys["mom"] = ("momentum", None)
    return keys


class HyperGroup(dict):
    """A parameter group (a dict, as torch expects) whose tiers hyper names and torch keys always agree.

    Writing `group["mom"] = 0.9` also writes `group["betas"] = (0.9, ...)`, and a torch LR scheduler writing
    `group["betas"]` (or `"momentum"`, `"weight_decay"`) also updates `group["mom"]` (or `"wd"`), so the step,
    which reads the tiers names, always sees what the scheduler wrote.
    """

    _links: Mapping[str, TorchKey] = {}

    def __init__(self, data: Mapping[str, Any], links: Mapping[str, TorchKey]) -> None:
        super().__init__(data)
        self._links = dict(links)
        for name, (key, idx) in self._links.items():
            if name in self:
                self._write_torch(name, self[name])
            elif key in self:
                dict.__setitem__(self, name, self[key] if idx is None else self[key][idx])

    def _write_torch(self, name: str, value: Any) -> None:
        key, idx = self._links[name]
        if idx is None:
            dict.__setitem__(self, key, value)
            return
        current = list(self.get(key, ()))
        current += [None] * (idx + 1 - len(current))
        current[idx] = value
        dict.__setitem__(self, key, tuple(current))

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        links = self._links
        if key in links:
            self._write_torch(key, value)
            return
        for name, (torch_key, idx) in links.items():
            if torch_key == key:
                dict.__setitem__(self, name, value if idx is None else value[idx])

    def update(self, *args: Any, **kwargs: Any) -> None:
        """`dict.update`, keeping the mirrored keys in step."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """`dict.setdefault`, keeping the mirrored keys in step."""
        if key not in self:
            self[key] = default
        return self[key]
