"""Activations: `SigmoidRange`, and activations named as data so that layers holding them can be exported."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

__all__ = [
    "ACTIVATIONS",
    "SigmoidRange",
    "sigmoid_range",
    "activation_class",
    "activation_name",
    "activation_to_data",
    "activation_from_data",
]

ACTIVATIONS: dict[str, type[nn.Module]] = {
    cls.__name__: cls
    for cls in (
        nn.ReLU,
        nn.ReLU6,
        nn.LeakyReLU,
        nn.ELU,
        nn.SELU,
        nn.CELU,
        nn.GELU,
        nn.SiLU,
        nn.Mish,
        nn.Hardswish,
        nn.Hardsigmoid,
        nn.Sigmoid,
        nn.Tanh,
        nn.Softplus,
        nn.Identity,
    )
}
"""Activation classes a layer's `act_cls` may name in its exported config (torch.nn's parameter-free ones)."""

# constructor arguments read back from an activation instance, so an instance is described as data too
_ACT_ARGS: dict[str, tuple[str, ...]] = {
    "LeakyReLU": ("negative_slope",),
    "ELU": ("alpha",),
    "CELU": ("alpha",),
    "GELU": ("approximate",),
    "Softplus": ("beta", "threshold"),
}


def _act_args(cls: type[nn.Module]) -> tuple[str, ...]:
    """The hyper-parameters of a known activation class kept in its data (`inplace` where it has one)."""
    return _ACT_ARGS.get(cls.__name__, ()) + (("inplace",) if hasattr(cls(), "inplace") else ())


# activations whose layers fastai initialises with kaiming_uniform_ (its `__default_init__`, set here by a table
# instead of an attribute patched onto torch's classes)
KAIMING_ACTIVATIONS: tuple[type[nn.Module], ...] = (nn.ReLU, nn.ReLU6, nn.LeakyReLU)


def activation_class(act: type[nn.Module] | str | None) -> type[nn.Module] | None:
    """The activation class `act` names: a class as is, a name from `ACTIVATIONS`, or None."""
    if act is None or isinstance(act, type):
        return act
    if isinstance(act, str) and act in ACTIVATIONS:
        return ACTIVATIONS[act]
    raise ValueError(f"act_cls: expected an nn.Module class, None or one of {sorted(ACTIVATIONS)}, got {act!r}")


def activation_name(act: type[nn.Module] | str | None) -> Any:
    """What a layer's config stores for `act_cls`: the name of a known activation, else the class itself (which
    export then refuses by name, since a class is not data)."""
    cls = activation_class(act)
    if cls is None:
        return None
    return cls.__name__ if ACTIVATIONS.get(cls.__name__) is cls else cls


def activation_to_data(act: nn.Module | type[nn.Module] | str | None) -> Any:
    """An activation instance, class or name as data: a name, or `[name, {hyper-parameters}]` for an instance
    with hyper-parameters (`nn.LeakyReLU(0.1)` → `["LeakyReLU", {"negative_slope": 0.1}]`). What is not in
    `ACTIVATIONS` is returned as is (export then refuses it by name)."""
    if isinstance(act, (list, tuple)):  # already data: check it describes a known activation
        activation_from_data(act)
        return [act[0], dict(act[1])]
    if not isinstance(act, nn.Module):
        return activation_name(act)
    cls = type(act)
    if ACTIVATIONS.get(cls.__name__) is not cls:
        return act
    default = cls()
    # only what differs from the defaults, so nn.ReLU() is plainly "ReLU"
    kwargs = {a: getattr(act, a) for a in _act_args(cls) if getattr(act, a) != getattr(default, a)}
    return [cls.__name__, kwargs] if kwargs else cls.__name__


def activation_from_data(data: Any) -> nn.Module | None:
    """The activation module `activation_to_data` described (an instance is passed through)."""
    if data is None or isinstance(data, nn.Module):
        return data
    if isinstance(data, (list, tuple)) and len(data) == 2 and isinstance(data[1], dict):
        if not isinstance(data[0], str) or data[0] not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {data[0]!r}")
        cls = ACTIVATIONS[data[0]]
        unknown = set(data[1]) - set(_act_args(cls))
        if unknown:
            raise ValueError(f"activation: unknown hyper-parameters {sorted(unknown)} for {data[0]!r}")
        return cls(**data[1])
    found = activation_class(data)
    return None if found is None else found()


def sigmoid_range(x: Tensor, low: float, high: float) -> Tensor:
    """Sigmoid scaled to the open interval `(low, high)` (fastai's `sigmoid_range`)."""
    return torch.sigmoid(x) * (high - low) + low


class SigmoidRange(nn.Module):
    """A layer squashing its input into `(low, high)`, e.g. a regression head's `y_range`."""

    config_safe = True

    def __init__(self, low: float, high: float) -> None:
        super().__init__()
        if not high > low:
            raise ValueError(f"SigmoidRange: high ({high}) must be greater than low ({low})")
        self.low, self.high = float(low), float(high)
        self.config = {"low": self.low, "high": self.high}

    def forward(self, x: Tensor) -> Tensor:
        return sigmoid_range(x, self.low, self.high)

    def extra_repr(self) -> str:
        return f"low={self.low}, high={self.high}"
