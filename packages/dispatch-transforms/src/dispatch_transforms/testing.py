"""`check_transform`: the public contract check every Transform should pass, for this and downstream packages.

It checks, on a sample: encoding works and repeats (a RandTransform through replaying its draw); a
decode restores the sample and its type wherever `decodes` handles the encoded value; a tuple is
handled element by element (except by an ItemTransform); an object of an unknown type passes through
unchanged; and a split-restricted transform leaves the other split's data alone.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from dispatch_transforms.dispatch import TypeDispatch
from dispatch_transforms.rand import RandTransform
from dispatch_transforms.transform import Transform

__all__ = ["check_transform"]


class _Unknown:
    """A type no transform can know about (private to this module)."""

    def __repr__(self) -> str:
        return "<unknown object>"


def _equal(a: Any, b: Any) -> bool:
    """Plain equality, element-wise for tuples and lists; refuses non-bool answers (arrays, tensors)."""
    if isinstance(a, tuple | list) and isinstance(b, tuple | list):
        return type(a) is type(b) and len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    result = a == b
    if not isinstance(result, bool):
        raise TypeError(
            f"check_transform: comparing {type(a).__name__} values gave a {type(result).__name__}, "
            f"not a bool; pass eq=... (e.g. torch.equal)"
        )
    return result


def _handles(tfm: Transform, table: TypeDispatch, x: Any) -> bool:
    """Whether `table` has an implementation for `x` (for some element of `x` when tuples are mapped)."""
    if tfm._maps_tuples and isinstance(x, tuple):
        return any(_handles(tfm, table, e) for e in x)
    return table.lookup(type(x)) is not None


def check_transform(
    tfm: Transform,
    sample: Any,
    *,
    eq: Callable[[Any, Any], bool] | None = None,
) -> Any:
    """Check the Transform contract on `sample` and return the encoded sample.

    Raises AssertionError naming the broken rule. `eq(a, b) -> bool` compares results (default:
    `==`, element-wise for tuples; pass e.g. `torch.equal` for tensors). The sample is deep-copied
    before each call, so in-place transforms are checked too.
    """
    if not isinstance(tfm, Transform):
        raise TypeError(f"check_transform: expected a Transform, got {tfm!r}")
    same = eq if eq is not None else _equal
    rand = tfm if isinstance(tfm, RandTransform) else None  # a RandTransform: replayed through its draws
    split = tfm.split_idx
    name = tfm.name

    def call(x: Any, params: Any = None) -> Any:
        x = copy.deepcopy(x)
        if rand is not None:
            return rand(x, split_idx=split, params=params)
        return tfm(x, split_idx=split)

    # Encoding works and is repeatable (a random one through its recorded draw).
    out = call(sample)
    params = rand.last_params if rand is not None else None
    again = call(sample, params)
    assert same(out, again), f"{name}: encoding the same sample twice gave different results ({out!r} vs {again!r})"

    # decode(encode(x)) == x wherever a decode exists, with the sample's type restored.
    if _handles(tfm, tfm._decodes_table, out):
        decoded = tfm.decode(copy.deepcopy(out), split_idx=split)
        assert type(decoded) is type(sample), (
            f"{name}: decode(encode(x)) has type {type(decoded).__name__}, expected {type(sample).__name__}"
        )
        assert same(decoded, sample), f"{name}: decode(encode(x)) gave {decoded!r}, expected {sample!r}"

    # A tuple is mapped element by element, every element with the same draw.
    if tfm._maps_tuples and not isinstance(sample, tuple):
        pair = call((sample, sample))
        assert isinstance(pair, tuple) and len(pair) == 2, f"{name}: a 2-tuple came back as {pair!r}"
        single = call(sample, rand.last_params) if rand is not None else out
        for i, element in enumerate(pair):
            assert same(element, single), (
                f"{name}: element {i} of a tuple was encoded as {element!r}, but alone it gives {single!r}"
            )

    # Unknown types pass through unchanged (unless the transform claims every type).
    unknown = _Unknown()
    if tfm._encodes_table.lookup(_Unknown) is None:
        result = tfm(unknown, split_idx=split)
        assert result is unknown, f"{name}: an object of an unknown type came back as {result!r}"
    if tfm._decodes_table.lookup(_Unknown) is None:
        result = tfm.decode(unknown, split_idx=split)
        assert result is unknown, f"{name}: decoding an object of an unknown type gave {result!r}"

    # A split-restricted transform leaves the other split's data alone.
    if split is not None:
        other = 1 - split
        kept = tfm(sample, split_idx=other)
        assert kept is sample, f"{name}: split_idx={split} but it changed data of split {other}"
    return out
