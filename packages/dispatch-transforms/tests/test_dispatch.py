"""Resolution: subclasses, unions, tuples of types, plum's overload pattern, inheritance, ambiguity."""

from typing import Any, overload

import pytest
from plum import dispatch

from dispatch_transforms import AmbiguousDispatchError, Transform, TypeDispatch


class Animal:
    pass


class Dog(Animal):
    pass


class Puppy(Dog):
    pass


class Cat(Animal):
    pass


class Describe(Transform):
    """Each version returns a label naming the version that ran."""

    @overload
    def encodes(self, x: Animal) -> str:
        return "animal"

    @overload
    def encodes(self, x: Dog) -> str:
        return "dog"

    @overload
    def encodes(self, x: int | float) -> str:
        return "number"

    @overload
    def encodes(self, x: (str, bytes)) -> str:  # a tuple of types means "any of them", as in fastai
        return "text"

    @dispatch
    def encodes(self, x: Animal | int | float | str | bytes) -> str: ...


def test_most_specific_subclass_wins():
    t = Describe()
    assert t(Animal()) == "animal"
    assert t(Dog()) == "dog"
    assert t(Puppy()) == "dog"  # nearest registered base
    assert t(Cat()) == "animal"


def test_unions_and_tuples_of_types():
    t = Describe()
    assert [t(3), t(2.5), t(True)] == ["number", "number", "number"]
    assert [t("a"), t(b"a")] == ["text", "text"]


def test_resolution_is_cached_per_input_type():
    t = Describe()
    t(Dog())
    table = Describe.encodes
    assert isinstance(table, TypeDispatch)
    func, takes_self, _ = table.cache[Dog]
    assert takes_self and func(t, Dog()) == "dog"
    assert table.cache.get(list, "absent") == "absent"
    t([1])
    assert table.cache[list] is None  # "passes through" is cached too


def test_plain_typed_methods_without_plum():
    class Twice(Transform):
        def encodes(self, x: int) -> int:
            return 2 * x

    assert Twice()(4) == 8
    assert Twice()("4") == "4"


def test_unannotated_method_handles_every_type():
    class Wrap(Transform):
        def encodes(self, x) -> list:
            return [x]

    assert Wrap()(1) == [1] and Wrap()("a") == ["a"]


def test_any_annotation_means_every_type():
    class Wrap(Transform):
        def encodes(self, x: Any) -> list:
            return [x]

    assert Wrap()(None) == [None]


def test_subclass_methods_take_precedence_then_inherit():
    class Base(Transform):
        def encodes(self, x: int) -> str:
            return "base-int"

        def decodes(self, x: int) -> str:
            return "base-dec"

    class Child(Base):
        def encodes(self, x: str) -> str:
            return "child-str"

    class Override(Base):
        def encodes(self, x: object) -> str:
            return "override-any"

    assert Child()(1) == "base-int" and Child()("s") == "child-str"
    assert Child().decode(1) == "base-dec"
    assert Override()(1) == "override-any"  # a subclass's own methods win, even less specific ones
    assert Base()("s") == "s"  # the child's registration does not leak upwards


def test_ambiguous_union_overlap_names_the_candidates():
    class Amb(Transform):
        @overload
        def encodes(self, x: int | str) -> int:
            return 1

        @overload
        def encodes(self, x: int | float) -> int:
            return 2

        @dispatch
        def encodes(self, x: int | str | float) -> int: ...

    assert Amb()("s") == 1 and Amb()(1.5) == 2
    with pytest.raises(AmbiguousDispatchError, match=r"int \| str.*int \| float|int \| float.*int \| str"):
        Amb()(3)


def test_forward_reference_annotations_resolve_lazily():
    t = LateTransform()
    assert t(Later()) == "later"


class LateTransform(Transform):
    def encodes(self, x: "Later") -> str:
        return "later"


class Later:
    pass


def test_bad_annotation_is_reported_with_the_method():
    class Bad(Transform):
        def encodes(self, x: "list[int]") -> list[int]:
            return x

    with pytest.raises(TypeError, match=r"Bad\.encodes.*class, a union or a tuple of classes"):
        Bad()([1])


def test_method_without_input_argument_is_rejected():
    class NoArg(Transform):
        def encodes(self):
            return 1

    with pytest.raises(TypeError, match=r"must accept \(self, x\)"):
        NoArg()(1)


def test_non_callable_method_is_rejected_at_class_creation():
    with pytest.raises(TypeError, match=r"encodes must be a function"):

        class Broken(Transform):
            encodes = 3


def test_table_repr_lists_types():
    assert "Animal" in repr(Describe.encodes) and "int | float" in repr(Describe.encodes)


# ----------------------------------------------------------------------------- repeated plain definitions
# fastai's idiom: the same method name defined several times in one class body, each typed. Each
# F811 waiver below marks a user's redefinition, which is what the idiom is made of.


class DescribeRepeated(Transform):
    """`Describe` written the fastai way: one plain `def encodes` per type."""

    def encodes(self, x: Animal) -> str:
        return "animal"

    def encodes(self, x: Dog) -> str:  # noqa: F811
        return "dog"

    def encodes(self, x: int | float) -> str:  # noqa: F811
        return "number"

    def encodes(self, x: (str, bytes)) -> str:  # noqa: F811
        return "text"


@pytest.mark.parametrize("x", [Animal(), Dog(), Puppy(), Cat(), 3, 2.5, True, "a", b"a", None, [1]])
def test_repeated_definitions_resolve_like_the_overload_form(x):
    assert DescribeRepeated()(x) == Describe()(x)
    assert DescribeRepeated.encodes.handled_types() == Describe.encodes.handled_types()


def test_repeated_definitions_fastai_talk_example():
    # The talk's example: one transform, typed versions for each kind of item, decodes the same way.
    class Label(str):
        pass

    class Categorize(Transform):
        def setups(self, items: list):
            self.vocab = sorted(set(items))

        def setups(self, items: tuple):  # noqa: F811
            self.vocab = sorted(set(items), reverse=True)

        def encodes(self, x: str):
            return self.vocab.index(x)

        def encodes(self, x: float):  # noqa: F811
            return int(x)

        def decodes(self, x: int):
            return self.vocab[x]

        def decodes(self, x: str):  # noqa: F811
            return x.upper()

    tfm = Categorize()
    tfm.setup(["dog", "cat", "dog"])
    assert tfm.vocab == ["cat", "dog"]
    assert tfm(("dog", 1.0, [3])) == (1, 1, [3])  # per element; a list passes through
    assert tfm.decode((1, "cat")) == ("dog", "CAT")
    assert type(tfm.decode(Label("cat"))) is Label  # retention works for each version
    tfm.setup(("a", "b"))
    assert tfm.vocab == ["b", "a"]  # setups dispatch on the items' type too


def test_repeated_definitions_with_inheritance():
    class Base(Transform):
        def encodes(self, x: int) -> str:
            return "base-int"

        def encodes(self, x: str) -> str:  # noqa: F811
            return "base-str"

    class Child(Base):
        def encodes(self, x: bool) -> str:
            return "child-bool"

        def encodes(self, x: float) -> str:  # noqa: F811
            return "child-float"

    class Override(Base):
        def encodes(self, x: object) -> str:
            return "override-object"

        def encodes(self, x: bytes) -> str:  # noqa: F811
            return "override-bytes"

    c = Child()
    assert [c(True), c(1.5), c(1), c("s")] == ["child-bool", "child-float", "base-int", "base-str"]
    o = Override()  # the subclass's own versions first, even less specific ones; its most specific wins
    assert [o(1), o("s"), o(b"b")] == ["override-object", "override-object", "override-bytes"]
    assert Base()(True) == "base-int" and Base()(1.5) == 1.5  # nothing leaks upwards
    assert "__transform_definitions__" not in vars(Child)


def test_repeated_definitions_ambiguity_and_redefinition():
    class Amb(Transform):
        def encodes(self, x: int | str) -> int:
            return 1

        def encodes(self, x: int | float) -> int:  # noqa: F811
            return 2

    assert Amb()("s") == 1 and Amb()(1.5) == 2
    with pytest.raises(AmbiguousDispatchError, match=r"int \| str.*int \| float|int \| float.*int \| str"):
        Amb()(3)

    class Again(Transform):
        def encodes(self, x: int) -> str:
            return "first"

        def encodes(self, x: int) -> str:  # noqa: F811
            return "second"  # an equal annotation replaces the earlier version, as with `.dispatch`

    assert Again()(1) == "second"


def test_repeated_definitions_mix_with_overloads_and_extension():
    class Mixed(Transform):
        def encodes(self, x: str) -> str:
            return "plain"

        @overload
        def encodes(self, x: int) -> str:  # noqa: F811
            return "overload-int"

        @overload
        def encodes(self, x: float) -> str:
            return "overload-float"

        @dispatch
        def encodes(self, x: int | float) -> str: ...

    @Mixed.encodes.dispatch
    def _(self, x: bytes) -> str:
        return "extension"

    m = Mixed()
    assert [m("s"), m(1), m(1.5), m(b"b")] == ["plain", "overload-int", "overload-float", "extension"]


def test_a_body_ending_with_none_has_no_versions():
    class Off(Transform):
        def encodes(self, x: int) -> str:
            return "on"

        encodes = None  # noqa: F811

    assert Off()(1) == 1
