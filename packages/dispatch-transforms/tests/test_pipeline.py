"""Pipeline: ordering, staged setup, reverse decode, show, add, indexing, split_idx, errors."""

from types import SimpleNamespace

import pytest

from dispatch_transforms import Pipeline, RandTransform, Transform


class Square(Transform):
    def encodes(self, x: int | float):
        return x * x


class Normalize(Transform):
    """Subtract the mean learned at setup; add it back on decode."""

    order = 10

    def setups(self, items):
        values = list(items)
        self.mean = sum(values) / len(values)

    def encodes(self, x: int | float):
        return x - self.mean

    def decodes(self, x: int | float):
        return x + self.mean


class Record(Transform):
    """Appends its name to a shared log whenever it encodes, decodes or sets up."""

    def __init__(self, tag: str, log: list, order: int = 0):
        super().__init__(order=order)
        self.tag, self.log = tag, log

    def setups(self, items):
        self.log.append(f"setup {self.tag}")

    def encodes(self, x: str):
        self.log.append(f"enc {self.tag}")
        return x + self.tag

    def decodes(self, x: str):
        self.log.append(f"dec {self.tag}")
        return x.removesuffix(self.tag)


def test_setup_learns_on_the_output_of_the_previous_transforms_only():
    pipe = Pipeline([Normalize(), Square()])  # sorted: Square (order 0) then Normalize (order 10)
    pipe.setup([1, 2, 3])
    assert pipe[1].mean == pytest.approx((1 + 4 + 9) / 3)  # the mean of the squares
    assert pipe(2) == pytest.approx(4 - 14 / 3)


def test_setup_order_and_call_order_follow_order_then_position():
    log: list[str] = []
    pipe = Pipeline([Record("c", log, order=2), Record("a", log), Record("b", log)])
    assert [t.tag for t in pipe] == ["a", "b", "c"]
    pipe.setup(["x"])
    assert log == ["setup a", "setup b", "setup c"]
    log.clear()
    assert pipe("x") == "xabc" and log == ["enc a", "enc b", "enc c"]
    log.clear()
    assert pipe.decode("xabc") == "x" and log == ["dec c", "dec b", "dec a"]


def test_setup_view_keeps_train_and_valid_subsets():
    class TrainMean(Normalize):
        train_setup = True

    pipe = Pipeline([Square(), TrainMean()])
    pipe.setup(SimpleNamespace(train=[1, 3], valid=[1000]), train_setup=True)
    assert pipe[1].mean == pytest.approx(5.0)  # mean of [1, 9]


def test_decode_round_trip_and_partial_decode():
    pipe = Pipeline([Normalize(), Transform(enc=lambda x: x * 10, dec=lambda x: x / 10)])
    pipe.setup([1.0, 2.0, 3.0])
    for x in (1.0, 2.5, -4.0):
        assert pipe.decode(pipe(x)) == pytest.approx(x)


class Shown(str):
    """A string that can show itself into a context (a list standing in for a canvas)."""

    def show(self, ctx=None, **kwargs):
        ctx = [] if ctx is None else ctx
        ctx.append(f"shown {self}{kwargs.get('suffix', '')}")
        return ctx


def test_show_decodes_only_until_the_object_can_show_itself():
    to_shown = Transform(enc=lambda x: str(x), dec=lambda x: Shown(x))
    to_int = Transform(enc=lambda x: int(x), dec=lambda x: str(x))
    never = Transform(dec=lambda x: pytest.fail("decoded past a showable object"))
    pipe = Pipeline([never, to_shown, to_int])
    assert pipe.show(7, suffix="!") == ["shown 7!"]
    pair_pipe = Pipeline([never, Transform(dec=lambda x: Shown(x))])
    assert pair_pipe.show(("a", "b"), ctx=["start"]) == ["start", "shown a", "shown b"]


def test_show_without_a_showable_result_says_so():
    with pytest.raises(TypeError, match=r"no `show` method"):
        Pipeline([Square()]).show(3)


def test_plain_callables_and_classes_are_wrapped():
    pipe = Pipeline([lambda x: x + 1, Square])
    assert isinstance(pipe[0], Transform) and isinstance(pipe[1], Square)
    assert pipe(2) == 9
    assert pipe((1, 2)) == (4, 9)  # wrapped functions map over tuples like any Transform


def test_add_sets_up_on_the_current_pipeline_output():
    pipe = Pipeline([Square()])
    pipe.add(Normalize(), items=[1, 2, 3])
    assert len(pipe) == 2 and pipe[1].mean == pytest.approx(14 / 3)


def test_indexing_slicing_len_and_repr():
    pipe = Pipeline([Square(), Normalize(), Transform(enc=str)])
    assert len(pipe) == 3 and pipe[-1].name == "Normalize"
    sub = pipe[:2]
    assert isinstance(sub, Pipeline) and [t.name for t in sub] == ["Square", "str"]
    assert repr(pipe) == "Pipeline: Square -> str -> Normalize"
    assert repr(Pipeline()) == "Pipeline: (empty)" and Pipeline()(5) == 5


def test_nested_pipelines_are_flattened():
    inner = Pipeline([Square()])
    pipe = Pipeline([inner, lambda x: x + 1])
    assert len(pipe) == 2 and pipe(3) == 10
    assert len(Pipeline(inner)) == 1


def test_split_idx_is_passed_to_every_transform():
    class Jitter(RandTransform):
        def encodes(self, x: int):
            return x + 100

    assert Pipeline([Jitter()], split_idx=0)(1) == 101
    assert Pipeline([Jitter()], split_idx=1)(1) == 1


def test_non_callable_items_are_rejected_with_their_position():
    with pytest.raises(TypeError, match=r"item 1 \(3\) is not callable"):
        Pipeline([Square(), 3])


def test_setup_view_is_a_sequence_for_dispatch():
    from collections.abc import Sequence

    class SeqOnly(Transform):
        def setups(self, items: Sequence):
            self.first = items[0]
            self.n = len(items)

    pipe = Pipeline([Square(), SeqOnly()])
    pipe.setup([3, 4])
    assert (pipe[1].first, pipe[1].n) == (9, 2)
