"""check_transform: passes good transforms and names the broken rule for bad ones."""

import pytest

from dispatch_transforms import ItemTransform, Transform
from dispatch_transforms.testing import check_transform


class Good(Transform):
    def encodes(self, x: int):
        return x * 3

    def decodes(self, x: int):
        return x // 3


def test_good_transform_passes_and_returns_the_encoded_sample():
    assert check_transform(Good(), 4) == 12
    assert check_transform(Good(split_idx=1), 4) == 12


def test_broken_round_trip_is_reported():
    class Lossy(Good):
        def decodes(self, x: int):
            return x

    with pytest.raises(AssertionError, match=r"Lossy: decode\(encode\(x\)\) gave 12, expected 4"):
        check_transform(Lossy(), 4)


def test_decode_losing_the_type_is_reported():
    class Tag(str):
        pass

    class Untyped(Transform):
        def encodes(self, x: str):
            return len(x)

        def decodes(self, x: int) -> str:
            return "a" * x

    with pytest.raises(AssertionError, match=r"has type str, expected Tag"):
        check_transform(Untyped(), Tag("abc"))


def test_broken_tuple_handling_is_reported():
    class WholeTuple(Transform):
        def encodes(self, x: int):
            return x

        def _apply(self, table, x):  # a subclass that breaks element-wise mapping
            return ("oops",) if isinstance(x, tuple) else super()._apply(table, x)

    with pytest.raises(AssertionError, match=r"WholeTuple: a 2-tuple came back as \('oops',\)"):
        check_transform(WholeTuple(), 4)


def test_swallowing_unknown_types_is_reported():
    class Swallow(Transform):
        def encodes(self, x: int):
            return x

        def __call__(self, x, split_idx=None):
            return None if type(x).__name__ == "_Unknown" else super().__call__(x, split_idx)

    with pytest.raises(AssertionError, match=r"unknown type came back as None"):
        check_transform(Swallow(), 1)


def test_nondeterministic_transform_is_reported():
    counter = iter(range(100))
    with pytest.raises(AssertionError, match=r"twice gave different results"):
        check_transform(Transform(enc=lambda x: next(counter)), 1)


def test_split_leak_is_reported():
    class Leaky(Good):
        split_idx = 0

        def __call__(self, x, split_idx=None):
            return self._apply(self._encodes_table, x)

    with pytest.raises(AssertionError, match=r"split_idx=0 but it changed data of split 1"):
        check_transform(Leaky(), 2)


def test_item_transform_skips_the_tuple_rule():
    class Flip(ItemTransform):
        def encodes(self, x: tuple):
            return x[::-1]

        def decodes(self, x: tuple):
            return x[::-1]

    assert check_transform(Flip(), (1, 2)) == (2, 1)


def test_non_bool_comparison_asks_for_eq():
    class Vec:
        def __init__(self, v):
            self.v = v

        def __eq__(self, other):
            return [a == b for a, b in zip(self.v, other.v, strict=True)]

    t = Transform(enc=lambda x: x)
    with pytest.raises(TypeError, match=r"pass eq="):
        check_transform(t, Vec([1]))
    assert check_transform(t, Vec([1]), eq=lambda a, b: all(a == b)).v == [1]


def test_rejects_non_transforms():
    with pytest.raises(TypeError, match="expected a Transform"):
        check_transform(lambda x: x, 1)
