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
    """Each version returns a label naming the version that ran (-> None: no retention)."""

    @overload
    def encodes(self, x: Animal) -> None:
        return "animal"

    @overload
    def encodes(self, x: Dog) -> None:
        return "dog"

    @overload
    def encodes(self, x: int | float) -> None:
        return "number"

    @overload
    def encodes(self, x: (str, bytes)) -> None:  # a tuple of types means "any of them", as in fastai
        return "text"

    @dispatch
    def encodes(self, x: Animal | int | float | str | bytes) -> None: ...


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
        def encodes(self, x) -> None:
            return [x]

    assert Wrap()(1) == [1] and Wrap()("a") == ["a"]


def test_any_annotation_means_every_type():
    class Wrap(Transform):
        def encodes(self, x: Any) -> None:
            return [x]

    assert Wrap()(None) == [None]


def test_subclass_methods_take_precedence_then_inherit():
    class Base(Transform):
        def encodes(self, x: int) -> None:
            return "base-int"

        def decodes(self, x: int) -> None:
            return "base-dec"

    class Child(Base):
        def encodes(self, x: str) -> None:
            return "child-str"

    class Override(Base):
        def encodes(self, x: object) -> None:
            return "override-any"

    assert Child()(1) == "base-int" and Child()("s") == "child-str"
    assert Child().decode(1) == "base-dec"
    assert Override()(1) == "override-any"  # a subclass's own methods win, even less specific ones
    assert Base()("s") == "s"  # the child's registration does not leak upwards


def test_ambiguous_union_overlap_names_the_candidates():
    class Amb(Transform):
        @overload
        def encodes(self, x: int | str) -> None:
            return 1

        @overload
        def encodes(self, x: int | float) -> None:
            return 2

        @dispatch
        def encodes(self, x: int | str | float) -> None: ...

    assert Amb()("s") == 1 and Amb()(1.5) == 2
    with pytest.raises(AmbiguousDispatchError, match=r"int \| str.*int \| float|int \| float.*int \| str"):
        Amb()(3)


def test_forward_reference_annotations_resolve_lazily():
    t = LateTransform()
    assert t(Later()) == "later"


class LateTransform(Transform):
    def encodes(self, x: "Later") -> None:
        return "later"


class Later:
    pass


def test_bad_annotation_is_reported_with_the_method():
    class Bad(Transform):
        def encodes(self, x: "list[int]") -> None:
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
