"""What the data says about the model: the kind of loss a target needs, as plain data.

A loss kind is `None` (the data does not say) or a dict `{"kind": k, "axis": a}` with `k` one of
`"cross_entropy"` (class scores; `a` is the class axis: -1 for one label per sample, 1 for masks),
`"bce"` (independent 0/1 targets, e.g. multi-label) or `"mse"` (numbers). It survives `to_config`, and a
Learner maps it to a loss (trainloop-callbacks: `CrossEntropyLossFlat(axis=a)`, `BCEWithLogitsLossFlat`,
`MSELossFlat`) when no `loss_func` is given.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["LOSS_KINDS", "check_loss_kind"]

LOSS_KINDS = ("cross_entropy", "bce", "mse")


def check_loss_kind(spec: str | Mapping[str, Any] | None, where: str = "loss_kind") -> dict[str, Any] | None:
    """`spec` (a kind name, a dict, or None) as the canonical plain dict `{"kind": ..., "axis": ...}` (or None).

    A name means axis -1; anything else (unknown kind, non-int axis, extra keys) is refused with an error.
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        spec = {"kind": spec}
    if not isinstance(spec, Mapping):
        raise TypeError(
            f"{where}: expected None, a kind name or a dict like {{'kind': 'cross_entropy', 'axis': -1}}, "
            f"got {type(spec).__name__}"
        )
    extra = set(spec) - {"kind", "axis"}
    if extra:
        raise ValueError(f"{where}: unknown key(s) {sorted(extra)}; a loss kind has only 'kind' and 'axis'")
    kind, axis = spec.get("kind"), spec.get("axis", -1)
    if kind not in LOSS_KINDS:
        raise ValueError(f"{where}: kind {kind!r} is not one of {list(LOSS_KINDS)}")
    if not isinstance(axis, int) or isinstance(axis, bool):
        raise TypeError(f"{where}: axis must be an int (the class axis), got {axis!r}")
    return {"kind": kind, "axis": axis}
