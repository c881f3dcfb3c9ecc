from collections import Counter

import pandas as pd
import pytest
import torch

from datablock import (
    ColSplitter,
    EndSplitter,
    FileSplitter,
    FuncSplitter,
    GrandparentSplitter,
    IndexSplitter,
    KFoldSplitter,
    MaskSplitter,
    RandomSplitter,
    RandomSubsetSplitter,
    TrainTestSplitter,
)

ITEMS = list(range(50))


def _is_partition(train, valid, n):
    return sorted(train + valid) == list(range(n)) and not set(train) & set(valid)


def test_random_splitter_seeded_and_sized():
    t, v = RandomSplitter(0.2, seed=1)(ITEMS)
    assert len(v) == 10 and _is_partition(t, v, 50)
    assert RandomSplitter(0.2, seed=1)(ITEMS) == (t, v)
    assert RandomSplitter(0.2, seed=2)(ITEMS) != (t, v)
    torch.manual_seed(0)
    a = RandomSplitter(0.2)(ITEMS)
    torch.manual_seed(0)
    assert RandomSplitter(0.2)(ITEMS) == a  # no seed: follows torch's global seed
    with pytest.raises(ValueError, match="fraction"):
        RandomSplitter(1.5)


def test_train_test_splitter_plain_and_stratified():
    t, v = TrainTestSplitter(test_size=0.3, random_state=0)(ITEMS)
    assert len(v) == 15 and _is_partition(t, v, 50)
    t, v = TrainTestSplitter(test_size=5, shuffle=False)(ITEMS)
    assert v == list(range(45, 50))
    labels = ["a"] * 40 + ["b"] * 10
    t, v = TrainTestSplitter(test_size=0.2, random_state=0, stratify=labels)(ITEMS)
    assert Counter(labels[i] for i in v) == {"a": 8, "b": 2}
    assert _is_partition(t, v, 50)
    with pytest.raises(ValueError, match="3 labels for 50 items"):
        TrainTestSplitter(stratify=["a", "b", "c"])(ITEMS)


def test_index_end_func_mask_splitters():
    assert IndexSplitter([1, 3])(range(5)) == ([0, 2, 4], [1, 3])
    with pytest.raises(IndexError, match="out of range for 5 items"):
        IndexSplitter([7])(range(5))
    assert EndSplitter(0.2)(range(10)) == (list(range(8)), [8, 9])
    assert EndSplitter(0.2, valid_last=False)(range(10)) == (list(range(2, 10)), [0, 1])
    assert FuncSplitter(lambda o: o % 2 == 1)(range(5)) == ([0, 2, 4], [1, 3])
    assert MaskSplitter([True, False, True])("abc") == ([1], [0, 2])
    with pytest.raises(ValueError, match="mask has 2 entries for 3 items"):
        MaskSplitter([True, False])("abc")


def test_grandparent_and_file_splitters(tmp_path):
    items = ["d/train/cat/1.png", "d/valid/cat/2.png", "d/train/dog/3.png", "d/test/dog/4.png"]
    assert GrandparentSplitter()(items) == ([0, 2], [1])
    assert GrandparentSplitter(valid_name=["valid", "test"])(items) == ([0, 2], [1, 3])
    (tmp_path / "valid.txt").write_text("1.png\n3.png\n\n")
    assert FileSplitter(tmp_path / "valid.txt")(items) == ([1, 3], [0, 2])


def test_col_splitter():
    df = pd.DataFrame({"x": range(4), "is_valid": [False, True, False, True], "fold": [0, 1, 2, 1]})
    assert ColSplitter()(df) == ([0, 2], [1, 3])
    assert ColSplitter("fold", on=2)(df) == ([0, 1, 3], [2])
    assert ColSplitter("fold", on=[0, 2])(df) == ([1, 3], [0, 2])
    with pytest.raises(KeyError, match="column 'nope' not in DataFrame"):
        ColSplitter("nope")(df)
    with pytest.raises(TypeError, match="expected a pandas DataFrame"):
        ColSplitter()([1, 2])


def test_random_subset_splitter():
    t, v = RandomSubsetSplitter(0.2, 0.1, seed=0)(range(100))
    assert len(t) == 20 and len(v) == 10 and not set(t) & set(v)
    with pytest.raises(ValueError, match="exceeds 1"):
        RandomSubsetSplitter(0.8, 0.5)


@pytest.mark.parametrize("n", [10, 23])
def test_kfold_covers_every_item_exactly_once(n):
    items = list(range(n))
    valids = []
    for fold in range(5):
        t, v = KFoldSplitter(5, fold, seed=3)(items)
        assert _is_partition(t, v, n)
        valids.extend(v)
    assert sorted(valids) == items
    sizes = [len(KFoldSplitter(5, f, seed=3)(items)[1]) for f in range(5)]
    assert max(sizes) - min(sizes) <= 1


def test_kfold_stratified_keeps_proportions():
    labels = ["a"] * 30 + ["b"] * 10
    valids = []
    for fold in range(5):
        _, v = KFoldSplitter(5, fold, stratify=labels, seed=0)(range(40))
        assert Counter(labels[i] for i in v) == {"a": 6, "b": 2}
        valids.extend(v)
    assert sorted(valids) == list(range(40))


def test_kfold_errors():
    with pytest.raises(ValueError, match="fold must be in"):
        KFoldSplitter(3, fold=3)
    with pytest.raises(ValueError, match="at least 2"):
        KFoldSplitter(1)
    with pytest.raises(ValueError, match="2 items cannot make 3 folds"):
        KFoldSplitter(3)([1, 2])


def test_index_splitter_refuses_a_boolean_mask_and_non_integers():
    import numpy as np

    assert IndexSplitter(np.array([3, 1]))(list(range(5))) == ([0, 2, 4], [1, 3])
    assert IndexSplitter(torch.tensor([4]))(list(range(5))) == ([0, 1, 2, 3], [4])
    for mask in ([True, False, True], np.array([True, False, True]), torch.tensor([True, False, True])):
        with pytest.raises(TypeError, match="boolean mask, not indices; use MaskSplitter"):
            IndexSplitter(mask)
    with pytest.raises(TypeError, match=r"integer indices, got 1\.5"):
        IndexSplitter([1.5])


def test_mask_splitter_takes_masks_of_any_kind_and_refuses_indices():
    import numpy as np

    expected = ([1, 3], [0, 2])
    for mask in ([True, False, True, False], np.array([1, 0, 1, 0]), torch.tensor([True, False, True, False])):
        assert MaskSplitter(mask)(list("abcd")) == expected
    assert MaskSplitter(pd.Series([True, False, True, False]))(list("abcd")) == expected
    with pytest.raises(TypeError, match="for a list of indices use IndexSplitter"):
        MaskSplitter([0, 3, 2, 1])
