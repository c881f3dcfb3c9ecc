import json

import pytest
import torch

from datablock import Categorize, DataLoader, DataLoaders, Datasets, ItemGetter
from dispatch_transforms import Transform
from typedtensor import TensorCategory


class AddNoise(Transform):
    """A training-only item transform: it must not run on validation or test items."""

    split_idx = 0

    def encodes(self, x: torch.Tensor) -> torch.Tensor:
        return x + 1000


def scale_x(x: torch.Tensor) -> torch.Tensor:
    """A batch transform: plain functions in a transform list apply to each element of the batch tuple."""
    return x * 2 if x.is_floating_point() else x


def _dsets(n=12):
    items = [(float(i), "odd" if i % 2 else "even") for i in range(n)]
    splits = [list(range(8)), list(range(8, n))]
    return Datasets(items, [[ItemGetter(0), torch.tensor], [ItemGetter(1), Categorize()]], splits=splits)


def test_from_dsets_train_shuffles_valid_keeps_order():
    torch.manual_seed(0)
    dls = _dsets().dataloaders(bs=4)
    assert dls.train.shuffle and dls.train.drop_last and not dls.valid.shuffle
    assert [b[0].tolist() for b in dls.valid] == [[8.0, 9.0, 10.0, 11.0]]
    assert sorted(v for b in dls.train for v in b[0].tolist()) == [float(i) for i in range(8)]
    assert len(dls.train_ds) == 8 and len(dls.valid_ds) == 4 and dls.n_inp == 1
    assert list(dls.vocab) == ["even", "odd"] and dls.c == 2


def test_split_idx_reaches_item_transforms():
    dls = DataLoaders.from_dsets(_dsets(), bs=4, after_item=[AddNoise()], shuffle_train=False)
    assert dls.train.one_batch()[0].min() >= 1000
    assert dls.valid.one_batch()[0].max() < 1000


def test_test_dl_runs_raw_items_without_training_transforms():
    dls = DataLoaders.from_dsets(_dsets(), bs=4, after_item=[AddNoise()], after_batch=[scale_x])
    tdl = dls.test_dl([(100.0, "odd"), (101.0, "even")])
    (x,) = tdl.one_batch()
    assert x.tolist() == [200.0, 202.0]  # after_batch ran, AddNoise (training only) did not
    x, y = dls.test_dl([(100.0, "odd")], with_labels=True).one_batch()
    assert type(y) is TensorCategory and y.tolist() == [1]


def test_decode_batch_gives_labels():
    dls = _dsets().dataloaders(bs=4, shuffle_train=False)
    items = dls.decode_batch(dls.valid.one_batch(), max_n=2)
    assert [lab for _, lab in items] == ["even", "odd"]


def test_to_device_new_and_one_batch():
    dls = _dsets().dataloaders(bs=2)
    assert dls.to("cpu") is dls and dls.device == torch.device("cpu")
    assert dls.one_batch()[0].shape == (2,)
    dls2 = dls.new(bs=3)
    assert dls2.train.bs == dls2.valid.bs == 3 and dls.train.bs == 2


def test_empty_training_split_and_valid_missing():
    items = [(1.0, "a"), (2.0, "b")]
    ds = Datasets(items, [[ItemGetter(0)], [ItemGetter(1)]], splits=[[], [0, 1]])
    with pytest.raises(ValueError, match="training set is empty"):
        ds.dataloaders(bs=1)
    dls = DataLoaders(DataLoader([1, 2]))
    with pytest.raises(AttributeError, match="no validation loader"):
        _ = dls.valid


def test_bs_larger_than_training_set_with_drop_last():
    with pytest.raises(ValueError, match=r"bs=64 is larger than the dataset \(8 items\) and drop_last=True"):
        _dsets().dataloaders(bs=64)
    assert len(_dsets().dataloaders(bs=64, drop_last=False).train) == 1


def test_config_round_trip_as_json_rebuilds_the_pipeline():
    dls = DataLoaders.from_dsets(_dsets(), bs=4, after_batch=[scale_x])
    cfg = json.loads(json.dumps(dls.to_config()))
    categorize = {"type": "datablock.transforms:Categorize", "args": {"vocab": ["even", "odd"]}}  # defaults left out
    assert cfg["pipelines"][1] == [{"type": "datablock.getters:ItemGetter", "args": {"i": 1}}, categorize]
    again = DataLoaders.from_config(cfg)
    assert list(again.vocab) == ["even", "odd"]
    (x,) = again.test_dl([(5.0, "odd")]).one_batch()
    assert x.tolist() == [10.0]
    x, y = again.test_dl([(5.0, "odd")], with_labels=True).one_batch()
    assert again.decode_batch((x, y))[0][1] == "odd"


def test_config_refuses_lambdas_and_unsafe_types():
    dls = DataLoaders.from_dsets(_dsets(), bs=4, after_batch=[lambda b: b])
    with pytest.raises(TypeError, match="lambda"):
        dls.to_config()
    cfg = DataLoaders.from_dsets(_dsets(), bs=4).to_config()
    cfg["after_batch"] = [{"type": "subprocess:Popen", "args": {"args": ["true"]}}]
    with pytest.raises(TypeError, match=r"neither a dispatch_transforms\.Transform subclass"):
        DataLoaders.from_config(cfg)
