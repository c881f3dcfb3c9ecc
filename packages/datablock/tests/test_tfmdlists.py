import pytest

from datablock import Categorize, Datasets, ItemError, SkipItem, TfmdLists
from dispatch_transforms import Transform
from typedtensor import TensorCategory


class Square(Transform):
    def encodes(self, x: int) -> int:
        return x * x

    def decodes(self, x: int) -> int:
        return round(x**0.5)


class MeanShift(Transform):
    """Learns the mean of what it is set up on (the squares of the training items)."""

    def setups(self, items):
        self.mean = sum(items) / len(items)

    def encodes(self, x: int) -> float:
        return x - self.mean


def test_tfmdlists_lazy_setup_on_train_only():
    tl = TfmdLists([1, 2, 3, 10], [Square(), MeanShift()], splits=[[0, 1, 2], [3]])
    assert tl.tfms[1].mean == (1 + 4 + 9) / 3  # setup saw the squares of the training items only
    assert tl[3] == 100 - 14 / 3
    assert len(tl.train) == 3 and list(tl.valid) == [100 - 14 / 3]
    assert tl.decode(4) == 2  # MeanShift has no decodes; Square's runs


def test_tfmdlists_error_names_index_item_and_transform():
    def boom(o):
        raise ValueError("unreadable")

    tl = TfmdLists(["a.png", "b.png"], [boom], do_setup=False)
    with pytest.raises(ItemError, match=r"(?s)item 1 \(.b.png.\).*boom.*unreadable"):
        tl[1]


def test_tfmdlists_passes_skip_item_through():
    def skip(o):
        raise SkipItem("corrupt")

    with pytest.raises(SkipItem, match="corrupt"):
        TfmdLists([1], [skip], do_setup=False)[0]


def test_getters_receive_whole_tuple_items():
    tl = TfmdLists([(1, "a"), (2, "b")], [lambda o: o[1]], do_setup=False)
    assert list(tl) == ["a", "b"]


def test_datasets_tuples_subsets_decode_new():
    items = [("x0", "cat"), ("x1", "dog"), ("x2", "cat"), ("x3", "fish")]
    ds = Datasets(items, [[lambda o: o[0]], [lambda o: o[1], Categorize(add_na=True)]], splits=[[0, 1, 2], [3]])
    x, y = ds[1]
    assert x == "x1" and type(y) is TensorCategory and int(y) == 2
    assert list(ds.vocab) == ["#na#", "cat", "dog"] and ds.n_inp == 1
    assert len(ds.train) == 3 and len(ds.valid) == 1 and int(ds.valid[0][1]) == 0  # 'fish' is unknown
    assert ds.decode(ds[0]) == ("x0", "cat")
    test = ds.new([("t", "dog")], split_idx=1, with_labels=False)
    assert test[0] == ("t",)
    with pytest.raises(ValueError, match="n_inp=3"):
        Datasets(items, [[], []], n_inp=3)


def test_split_indices_are_checked():
    with pytest.raises(IndexError, match="outside the 2 items"):
        TfmdLists([1, 2], None, splits=[[0], [5]])
