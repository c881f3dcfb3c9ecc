"""TransformError: names the transform, the method, the input type and a truncated repr; chains the cause."""

import pickle

import pytest

from dispatch_transforms import Pipeline, Transform, TransformError


class Fragile(Transform):
    def encodes(self, x: str):
        return int(x)

    def decodes(self, x: int):
        return 1 / x

    def setups(self, items: list):
        raise RuntimeError("no items")


def test_encode_error_names_everything_and_chains():
    with pytest.raises(TransformError) as info:
        Fragile()("not a number")
    err = info.value
    msg = str(err)
    assert msg.startswith("Fragile.encodes failed on an input of type str: 'not a number'")
    assert "ValueError: invalid literal for int()" in msg
    assert isinstance(err.__cause__, ValueError)
    assert (err.transform, err.method, err.input_type) == ("Fragile", "encodes", str)


def test_long_inputs_are_truncated():
    with pytest.raises(TransformError) as info:
        Fragile()("x" * 500)
    first_line = str(info.value).splitlines()[0]
    assert first_line.endswith("...") and len(first_line) < 160


def test_decode_setup_and_tuple_element_errors():
    with pytest.raises(TransformError, match=r"Fragile.decodes failed on an input of type int: 0"):
        Fragile().decode(0)
    with pytest.raises(TransformError, match=r"Fragile.setups failed on an input of type list"):
        Fragile().setup([1])
    with pytest.raises(TransformError, match=r"Fragile.encodes failed on an input of type str: 'b'"):
        Fragile()(("1", "b"))


def test_inner_error_is_not_wrapped_twice_in_a_pipeline():
    with pytest.raises(TransformError) as info:
        Pipeline([Transform(enc=lambda x: x), Fragile()])("z")
    assert str(info.value).count("failed on") == 1


def test_retention_failure_is_reported():
    class Picky(str):
        def __new__(cls, value):
            if not value.startswith("ok"):
                raise ValueError("must start with ok")
            return super().__new__(cls, value)

    class Rename(Transform):
        def encodes(self, x: str):
            return "nope"

    with pytest.raises(TransformError, match=r"Rename.encodes failed on an input of type Picky"):
        Rename()(Picky("ok"))


def test_error_survives_pickling():
    with pytest.raises(TransformError) as info:
        Fragile()("q")
    back = pickle.loads(pickle.dumps(info.value))
    assert str(back) == str(info.value) and back.method == "encodes" and back.input_type is str


def test_broken_repr_does_not_hide_the_error():
    class Ugly:
        def __repr__(self):
            raise RuntimeError("repr broke")

    with pytest.raises(TransformError, match=r"Ugly with a failing repr"):
        Transform(enc=lambda x: 1 / 0)(Ugly())
