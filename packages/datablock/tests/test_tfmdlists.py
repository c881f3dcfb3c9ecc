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


def _mask_kinds(train, valid):
    import numpy as np
    import torch

    return [
        (train, valid),
        (np.array(train), np.array(valid)),
        (torch.tensor(train), torch.tensor(valid)),
    ]


def test_boolean_masks_are_read_as_masks():
    # masks used to be read as the indices 0 and 1
    items = [("a", "x"), ("b", "y"), ("c", "x"), ("d", "y"), ("e", "x")]
    train, valid = [True, True, False, True, False], [False, False, True, False, True]
    for splits in _mask_kinds(train, valid):
        ds = Datasets(items, [[lambda o: o[0]], [lambda o: o[1], Categorize()]], splits=list(splits))
        assert ds.splits == [[0, 1, 3], [2, 4]]
        assert [x for x, _ in ds.train] == ["a", "b", "d"] and [x for x, _ in ds.valid] == ["c", "e"]
    tl = TfmdLists(list(range(5)), None, splits=[train, [2, 4]])  # a mask and an index list side by side
    assert tl.splits == [[0, 1, 3], [2, 4]]


def test_bad_splits_are_refused_clearly():
    import numpy as np

    with pytest.raises(ValueError, match=r"split 1: a boolean mask needs one entry per item \(3\), got 2"):
        TfmdLists([1, 2, 3], None, splits=[[0], [True, False]])
    with pytest.raises(TypeError, match="split 0: mixes booleans and other values"):
        TfmdLists([1, 2, 3], None, splits=[[True, 2], [0]])
    with pytest.raises(TypeError, match=r"split 0: expected integer indices or a boolean mask, got 0\.5"):
        TfmdLists([1, 2, 3], None, splits=[[0.5], [1]])
    with pytest.raises(TypeError, match="float64 values"):
        TfmdLists([1, 2, 3], None, splits=[np.array([0.0]), [1]])
    with pytest.raises(TypeError, match="split 1: expected a list of indices or a boolean mask"):
        TfmdLists([1, 2, 3], None, splits=[[0], 2])
