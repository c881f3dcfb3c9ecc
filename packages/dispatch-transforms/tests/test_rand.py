"""RandTransform: one draw per call on the whole input, replay, p, seeding, split default."""

import random

import pytest

from dispatch_transforms import SKIP, RandTransform, TransformError, default_generator
from dispatch_transforms.testing import check_transform


class Shift(RandTransform):
    """Adds a random offset drawn once per call; decodes by subtracting the last draw."""

    def draw(self, x, generator):
        return {"offset": generator.randint(1, 1000)}

    def encodes(self, x: int):
        return x + self.params["offset"]

    def decodes(self, x: int):
        return x - self.params["offset"]


def test_every_element_of_a_sample_gets_the_same_draw():
    a, b = Shift()((0, 10))
    assert b - a == 10 and 1 <= a <= 1000


def test_draw_sees_the_whole_input():
    seen = []

    class Spy(Shift):
        def draw(self, x, generator):
            seen.append(x)
            return super().draw(x, generator)

    Spy()((1, "a"))
    assert seen == [(1, "a")]


def test_replay_applies_the_same_draw():
    t = Shift()
    first = t(5)
    params = t.last_params
    assert t(5, params=params) == first and t(7, params=params) == first + 2
    assert t.last_params is params and t.params is params


def test_params_are_visible_during_the_call():
    class Echo(RandTransform):
        def draw(self, x, generator):
            return ("drawn", x)

        def encodes(self, x: str):
            return (self.params, x)

    assert Echo()("a") == (("drawn", "a"), "a")


def test_given_generator_makes_draws_reproducible():
    a, b = Shift(generator=random.Random(3)), Shift(generator=random.Random(3))
    assert [a(0) for _ in range(5)] == [b(0) for _ in range(5)]


def test_default_generator_follows_the_global_seed():
    assert default_generator() is random.random.__self__
    t = Shift()
    random.seed(123)
    first = [t(0) for _ in range(5)]
    random.seed(123)
    assert [t(0) for _ in range(5)] == first
    expected = random.Random(123)
    assert first == [expected.randint(1, 1000) for _ in range(5)]  # p=1 consumes no extra draw


def test_p_decides_per_call_and_skips_are_replayable():
    t = Shift(p=0.5, generator=random.Random(0))
    results = [t(0) for _ in range(200)]
    skipped = sum(r == 0 for r in results)
    assert 60 < skipped < 140  # binomial(200, 0.5): far outside is a broken p
    t = Shift(p=0.0)
    assert t(5) == 5 and t.last_params is SKIP
    assert Shift()(5, params=SKIP) == 5
    assert repr(SKIP) == "SKIP"


def test_training_only_by_default():
    t = Shift()
    assert t.split_idx == 0
    assert t(1, split_idx=1) == 1 and t.last_params is None  # no draw happened
    assert t(1, split_idx=0) != 1


def test_invalid_p_is_rejected():
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\], got 1.5"):
        Shift(p=1.5)


def test_draw_returning_none_is_an_error():
    class NoneDraw(RandTransform):
        def draw(self, x, generator):
            return None

    with pytest.raises(TypeError, match=r"NoneDraw.draw returned None"):
        NoneDraw()(1)


def test_draw_errors_name_the_transform():
    class BadDraw(RandTransform):
        def draw(self, x, generator):
            raise KeyError("size")

    with pytest.raises(TransformError, match=r"BadDraw.draw failed on an input of type int"):
        BadDraw()(1)


def test_contract_check_passes_with_replay():
    assert check_transform(Shift(generator=random.Random(1)), 3) > 3


def test_repr_shows_p():
    assert repr(Shift(p=0.25)).startswith("Shift(p=0.25, generator=None):")
