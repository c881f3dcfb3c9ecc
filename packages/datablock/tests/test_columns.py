"""Deterministic targets kept as columns: the same samples and batches as computing them per item."""

import pytest
import torch

from datablock import Categorize, DataLoader, Datasets, ItemError, MultiCategorize, OneHotEncode, SkipItem
from datablock._fetch import batch_columns
from dispatch_transforms import RandTransform, Transform
from typedtensor import TensorCategory, TensorMultiCategory

ITEMS = [f"{'cat' if i % 3 else 'dog'}_{i}" for i in range(20)]
SPLITS = [list(range(14)), list(range(14, 20))]


def label(s: str) -> str:
    return s.split("_")[0]


def number(s: str) -> torch.Tensor:
    return torch.tensor([float(s.split("_")[1])])


def _dsets(cache: bool, y_tfms=None, items=ITEMS):
    y = [label, Categorize()] if y_tfms is None else y_tfms
    return Datasets(items, [[number], y], splits=SPLITS, cache_targets=cache)


def _same(a, b):
    assert type(a) is type(b)
    assert torch.equal(a.as_subclass(torch.Tensor), b.as_subclass(torch.Tensor))
    assert getattr(a, "vocab", None) == getattr(b, "vocab", None)


def test_cached_targets_equal_per_item_targets_in_every_split():
    cached, plain = _dsets(True), _dsets(False)
    assert sorted(cached.columns()) == [1] and plain.columns() == {}
    for sub in ("train", "valid"):
        c, p = getattr(cached, sub), getattr(plain, sub)
        assert sorted(c.columns()) == [1] and len(c) == len(p)
        for i in range(len(c)):
            _same(c[i][1], p[i][1])
            assert isinstance(c[i][1], TensorCategory) and c[i][1].vocab is c.vocab
    assert cached.decode(cached.valid[0]) == plain.decode(plain.valid[0])


def test_editing_an_item_in_place_keeps_the_cached_value():
    ds = _dsets(True).train
    before = int(ds[1][1])
    ds[1][1].add_(5)
    assert int(ds[1][1]) == before


def test_loader_batches_with_columns_equal_batches_without():
    def batches(cache, after_item=None):
        ds = _dsets(cache).train
        g = torch.Generator().manual_seed(3)
        return list(DataLoader(ds, bs=4, shuffle=True, generator=g, after_item=after_item))

    for (xa, ya), (xb, yb) in zip(batches(True), batches(False), strict=True):
        assert torch.equal(xa, xb)
        _same(ya, yb)
    assert len(batch_columns(_dsets(True).train, None)) == 1


class Shift(Transform):
    """An item transform that edits category targets: they must then be built per item."""

    def encodes(self, x: TensorCategory) -> TensorCategory:
        return x + 1


class Noise(RandTransform):
    def encodes(self, x: TensorCategory) -> TensorCategory:
        return x


def test_item_transform_touching_targets_turns_the_column_off_for_the_loader():
    ds = _dsets(True).train
    assert batch_columns(ds, Shift()) == {}
    (_, y), *_ = DataLoader(ds, bs=len(ds), after_item=Shift())
    assert y.tolist() == [int(ds[i][1]) + 1 for i in range(len(ds))]


def test_random_or_split_only_target_steps_are_not_cached():
    assert _dsets(True, [label, Categorize(), Noise()]).columns() == {}
    assert _dsets(True, [label, Categorize(), Transform(enc=lambda x: x, split_idx=0)]).columns() == {}


def test_one_hot_targets_are_cached_as_rows():
    items = [f"{'a b' if i % 2 else 'b'}_{i}" for i in range(20)]
    ds = _dsets(True, [lambda s: s.split("_")[0].split(), MultiCategorize(), OneHotEncode()], items=items)
    col = ds.columns()[1]
    assert isinstance(col.proto, TensorMultiCategory) and tuple(col.data.shape) == (20, 2)
    assert ds[1][1].tolist() == [1.0, 1.0] and ds[0][1].tolist() == [0.0, 1.0]


def test_failing_label_is_reported_per_item_as_before():
    items = [*ITEMS, "nolabel"]

    def strict_label(s: str) -> str:
        if "_" not in s:
            raise ValueError("no label")
        return s.split("_")[0]

    ds = Datasets(items, [[lambda s: 0], [strict_label, Categorize()]], splits=[list(range(20)), [20]])
    assert ds.columns() == {}
    with pytest.raises(ItemError, match=r"item 20 \('nolabel'\)"):
        ds[20]


def test_skipped_items_leave_their_column_rows_out():
    def pixels(s: str) -> torch.Tensor:
        if s.endswith("_4"):
            raise SkipItem("corrupt")
        return number(s)

    ds = Datasets(ITEMS, [[pixels], [label, Categorize()]], splits=SPLITS).train
    with pytest.warns(UserWarning, match="skipped 1 item"):
        (x, y), *_ = DataLoader(ds, bs=8)
    kept = [0, 1, 2, 3, 5, 6, 7]
    assert x.flatten().tolist() == kept
    assert [ds.vocab[int(i)] for i in y] == [label(ITEMS[i]) for i in kept]


@pytest.mark.slow
def test_columns_through_workers_keep_types_and_vocab():
    ds = _dsets(True).train
    g = torch.Generator().manual_seed(5)
    zero = list(DataLoader(ds, bs=4, shuffle=True, generator=g))
    g.manual_seed(5)
    two = list(DataLoader(ds, bs=4, shuffle=True, generator=g, num_workers=2))
    for (xa, ya), (xb, yb) in zip(zero, two, strict=True):
        assert torch.equal(xa, xb)
        _same(ya, yb)
        assert yb.vocab is not None and list(yb.vocab) == list(ds.vocab)
