"""Transform behaviour: pass-through, tuples, retention, split_idx, setup, decode, naming, variants."""

import pickle
import warnings
from collections import namedtuple
from types import SimpleNamespace
from typing import overload

import pytest
from plum import dispatch

from dispatch_transforms import DisplayedTransform, InplaceTransform, ItemTransform, Transform
from dispatch_transforms.testing import check_transform


class Label(str):
    """A str subclass: retention must give Labels back."""


class Metered(float):
    """A float subclass carrying metadata, re-typed through the `wrap(result, like=...)` protocol."""

    def __new__(cls, value: float, unit: str = "m") -> "Metered":
        obj = super().__new__(cls, value)
        obj.unit = unit
        return obj

    @classmethod
    def wrap(cls, result: float, *, like: "Metered") -> "Metered":
        return cls(result, unit=like.unit)


class Shout(Transform):
    """Upper-cases text on the way in, lower-cases it on the way out."""

    def encodes(self, x: str):
        return x.upper()

    def decodes(self, x: str):
        return x.lower()


class AddOne(Transform):
    @overload
    def encodes(self, x: int):
        return x + 1

    @overload
    def encodes(self, x: float):
        return x + 1.0

    @dispatch
    def encodes(self, x: int | float): ...

    @overload
    def decodes(self, x: int):
        return x - 1

    @overload
    def decodes(self, x: float):
        return x - 1.0

    @dispatch
    def decodes(self, x: int | float): ...


Pair = namedtuple("Pair", ["a", "b"])


# ----------------------------------------------------------------- pass-through and tuples
def test_unknown_types_pass_through_unchanged():
    t, obj = Shout(), object()
    assert t(obj) is obj and t.decode(obj) is obj and t(3) == 3


def test_tuple_is_mapped_per_element_by_each_elements_type():
    assert Shout()(("dog", 1, "cat")) == ("DOG", 1, "CAT")
    assert AddOne()((1, 2.5, "x")) == (2, 3.5, "x")


def test_nested_tuples_and_namedtuples_keep_their_shape():
    assert AddOne()((1, (2, ("a", 3.0)))) == (2, (3, ("a", 4.0)))
    out = AddOne()(Pair(1, 2))
    assert type(out) is Pair and out == Pair(2, 3)


def test_a_list_is_one_item():
    class Count(Transform):
        def encodes(self, x: list) -> int:
            return len(x)

    assert Count()(["a", "b", "c"]) == 3
    assert Shout()(["a"]) == ["a"]  # no str implementation applies to a list


def test_item_transform_receives_the_whole_tuple():
    class Swap(ItemTransform):
        def encodes(self, x: tuple):
            return (x[1], x[0])

    assert Swap()((1, "a")) == ("a", 1)
    check_transform(Swap(), (1, "a"))


# ----------------------------------------------------------------- retention
def test_supertype_result_is_cast_back_to_the_input_type():
    out = Shout()(Label("dog"))
    assert type(out) is Label and out == "DOG"
    assert type(Shout().decode(out)) is Label


def test_retention_uses_the_wrap_protocol_with_metadata():
    class Double(Transform):
        def encodes(self, x: float):
            return float(x) * 2

    out = Double()(Metered(1.5, unit="km"))
    assert type(out) is Metered and out == 3.0 and out.unit == "km"


def test_results_of_unrelated_or_sub_types_are_kept():
    class ToLen(Transform):
        def encodes(self, x: str):
            return len(x)

    class ToLabel(Transform):
        def encodes(self, x: str):
            return Label(x)

    assert ToLen()(Label("abc")) == 3
    assert type(ToLabel()("abc")) is Label


def test_retain_false_returns_results_as_they_are():
    class Plain(Transform):
        retain = False

        def encodes(self, x: str):  # unannotated: retention would cast the str back to a Label
            return str(x)

        def decodes(self, x: float) -> Metered:  # with retention off, an annotation casts nothing either
            return float(x) + 1

    class Retained(Plain):
        retain = True  # a subclass switches it back on

    class Inherited(Plain):
        pass

    assert type(Plain()(Label("a"))) is str and type(Plain().encodes(Label("a"))) is str
    assert type(Plain()((Label("a"), Label("b")))[1]) is str  # the tuple path too
    assert type(Plain().decode(Metered(1.0, unit="km"))) is float
    assert type(Retained()(Label("a"))) is Label and type(Retained().decode(Metered(1.0, unit="km"))) is Metered
    assert type(Inherited()(Label("a"))) is str
    assert Plain.retain is False and Plain().retain is False and Transform.retain is True


def _plain(x: str):  # module level: picklable
    return str(x)


def test_retain_false_for_function_transforms():
    plain = _plain
    off, on = Transform(enc=plain, retain=False), Transform(enc=plain)
    assert type(off(Label("a"))) is str and off.retain is False
    assert type(on(Label("a"))) is Label and on.retain is True
    assert type(pickle.loads(pickle.dumps(off))(Label("a"))) is str


def test_retain_switched_on_an_existing_class_resets_resolutions():
    class Later(Transform):
        def encodes(self, x: str):
            return str(x)

    assert type(Later()(Label("a"))) is Label
    Later.retain = False
    assert type(Later()(Label("a"))) is str


def test_retain_misuse_is_refused():
    class Plain(Transform):
        retain = False

    with pytest.raises(AttributeError, match=r"Plain\.retain is a class attribute"):
        Plain().retain = True
    with pytest.raises(TypeError, match=r"Bad: retain must be True or False, got 'no'"):

        class Bad(Transform):
            retain = "no"

    with pytest.raises(TypeError, match=r"retain= applies to the functions of Transform\(enc=..., dec=...\)"):
        Transform(retain=False)


def test_none_return_annotation_is_a_deprecated_alias_of_retain_false():
    class Plain(Transform):
        def encodes(self, x: str) -> None:
            return str(x)

    class Inplace(InplaceTransform):  # an honest `-> None` (nothing returned) does not warn
        def encodes(self, x: list) -> None:
            x.append(1)

    with pytest.warns(DeprecationWarning, match=r"Plain\.encodes is annotated `-> None` but returns a value") as rec:
        out = Plain()(Label("a"))
    assert type(out) is str  # still switches retention off
    assert rec[0].filename == __file__  # points at the definition
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert type(Plain()((Label("b"), Label("c")))[0]) is str  # once per function: no second warning
        assert Inplace()([0]) == [0, 1]


def test_explicit_return_annotation_names_the_target_type():
    class AsLabel(Transform):
        def encodes(self, x: int) -> Label:
            return str(x)

    out = AsLabel()(7)
    assert type(out) is Label and out == "7"


def test_union_return_annotation_keeps_default_retention():
    class Up(Transform):
        def encodes(self, x: str) -> str | bytes:
            return x.upper()

    assert type(Up()(Label("a"))) is Label


# ----------------------------------------------------------------- functions and decorator
def test_transform_from_functions():
    def times10(x: int):
        return x * 10

    def div10(x: int):
        return x // 10

    t = Transform(enc=times10, dec=div10)
    assert t(3) == 30 and t.decode(30) == 3 and t("s") == "s"
    assert t.name == "times10" and (t.enc, t.dec) == (times10, div10)
    assert (Shout().enc, Shout().dec) == (None, None)
    assert check_transform(t, 4) == 40


def test_transform_as_a_decorator():
    @Transform
    def negate(x: int | float):
        return -x

    assert negate((1, 2.5, "a")) == (-1, -2.5, "a")
    assert negate.name == "negate" and "int | float" in repr(negate)


def test_enc_must_be_callable():
    with pytest.raises(TypeError, match="enc must be a function"):
        Transform(enc=3)


# ----------------------------------------------------------------- split_idx, order, setup
def test_split_idx_restricts_where_a_transform_runs():
    train_only = Transform(enc=lambda x: x + 1, split_idx=0)
    valid_only = Transform(enc=lambda x: x + 1, split_idx=1)
    always = Transform(enc=lambda x: x + 1)
    assert [train_only(1, split_idx=0), train_only(1, split_idx=1), train_only(1)] == [2, 1, 2]
    assert [valid_only(1, split_idx=0), valid_only(1, split_idx=1)] == [1, 2]
    assert [always(1, split_idx=0), always(1, split_idx=1)] == [2, 2]
    assert Transform(enc=lambda x: x, dec=lambda x: -x, split_idx=0).decode(3, split_idx=1) == 3


def test_split_idx_and_order_arguments_are_validated_and_override_class_defaults():
    class Late(Transform):
        order = 5

    assert Late().order == 5 and Late(order=1).order == 1
    with pytest.raises(ValueError, match=r"split_idx must be None.*got 2"):
        Transform(split_idx=2)


def test_setup_dispatches_on_items_and_learns_state():
    class Vocab(Transform):
        def setups(self, items: list):
            self.vocab = sorted(set(items))

        def encodes(self, x: str):
            return self.vocab.index(x)

        def decodes(self, x: int):
            return self.vocab[x]

    t = Vocab()
    t.setup(["b", "a", "b"])
    assert t.vocab == ["a", "b"] and t("b") == 1 and t.decode(1) == "b"
    check_transform(t, "a")
    t.setup(("not", "a", "list"))  # no setups for tuples: nothing happens
    assert t.vocab == ["a", "b"]


def test_train_setup_uses_the_training_items():
    class Mean(Transform):
        def setups(self, items):
            self.mean = sum(items) / len(items)

    items = SimpleNamespace(train=[1, 3], valid=[100])
    t = Mean()
    t.setup(items, train_setup=True)
    assert t.mean == 2
    t.setup([10, 20])
    assert t.mean == 15


# ----------------------------------------------------------------- decode, naming, repr
def test_decode_round_trip():
    t = AddOne()
    for x in (1, 2.5, (1, 2.0, "z")):
        assert t.decode(t(x)) == x
    check_transform(t, 5)
    check_transform(Shout(), "dog")


def test_bound_methods_dispatch_one_item():
    t = AddOne()
    assert t.encodes(1) == 2 and t.decodes(2) == 1
    assert t.encodes((1, 2)) == (1, 2)  # a tuple is one item here, and no implementation takes tuples


def test_name_and_repr():
    t = AddOne()
    assert t.name == "AddOne"
    t.name = "plus-one"
    assert repr(t) == "plus-one:\n  encodes: int, float\n  decodes: int, float"
    assert "encodes: -" in repr(Transform())


def test_displayed_transform_shows_its_arguments():
    class Scale(DisplayedTransform):
        def __init__(self, factor: float, offset: float = 0.0):
            super().__init__()
            self.factor, self.offset = factor, offset

        def encodes(self, x: float):
            return x * self.factor + self.offset

    assert repr(Scale(2.0)).startswith("Scale(factor=2.0, offset=0.0):\n  encodes: float")


def test_inplace_transform_returns_its_mutated_input():
    class Append(InplaceTransform):
        def encodes(self, x: list):
            x.append(0)

    items = [1]
    assert Append()(items) is items and items == [1, 0]
    pair = ([1], [2])
    assert Append()(pair) is pair and pair == ([1, 0], [2, 0])


def test_transforms_pickle_with_their_functions():
    t = pickle.loads(pickle.dumps(Transform(enc=_module_level_double, split_idx=1)))
    assert t(2) == 4 and t.split_idx == 1 and t.name == "_module_level_double"
    assert pickle.loads(pickle.dumps(AddOne()))(1) == 2


def _module_level_double(x: int):
    return 2 * x


def test_subclass_without_init_call_still_works():
    class NoSuper(Transform):
        def __init__(self, k: int):
            self.k = k

        def encodes(self, x: int):
            return x + self.k

    assert NoSuper(3)(1) == 4 and NoSuper(3).name == "NoSuper"
