import json

import pytest
import torch

from datablock import Categorize, ConfigError, DataLoader, DataLoaders, Datasets, ItemGetter
from dispatch_transforms import Transform
from typedtensor import TensorCategory, TensorMask


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


STEPS_MODULE = """
import torch

from datablock import DataLoader, config_safe


@config_safe
def to_float(x):
    return torch.tensor(float(x))


@config_safe
def scale_x(x):
    return x * 2 if x.is_floating_point() else x


class PaddedLoader(DataLoader):
    def __init__(self, dataset, pad_value=0, **kwargs):
        super().__init__(dataset, **kwargs)
        self.pad_value = pad_value
"""


@pytest.fixture
def steps(install_module):
    return install_module("tiers_test_dl_steps", STEPS_MODULE)


def _marked_dsets(steps, n=12):
    items = [(float(i), "odd" if i % 2 else "even") for i in range(n)]
    splits = [list(range(8)), list(range(8, n))]
    return Datasets(items, [[ItemGetter(0), steps.to_float], [ItemGetter(1), Categorize()]], splits=splits)


def test_config_round_trip_as_json_rebuilds_the_pipeline(steps):
    dls = DataLoaders.from_dsets(_marked_dsets(steps), bs=4, after_batch=[steps.scale_x])
    cfg = json.loads(json.dumps(dls.to_config()))
    categorize = {"type": "datablock.transforms:Categorize", "args": {"vocab": ["even", "odd"]}}  # defaults left out
    assert cfg["pipelines"][1] == [{"type": "datablock.getters:ItemGetter", "args": {"i": 1}}, categorize]
    assert cfg["dl_type"] is None and cfg["dl_kwargs"] == {"bs": 4}
    with pytest.raises(ConfigError, match=r"tiers_test_dl_steps:to_float.*not in the allow-list"):
        DataLoaders.from_config(cfg)
    again = DataLoaders.from_config(cfg, allow=("tiers_test_dl_steps",))
    assert list(again.vocab) == ["even", "odd"] and again.train.bs == 4
    (x,) = again.test_dl([(5.0, "odd")]).one_batch()
    assert x.tolist() == [10.0]
    x, y = again.test_dl([(5.0, "odd")], with_labels=True).one_batch()
    assert again.decode_batch((x, y))[0][1] == "odd"


def test_config_keeps_the_loader_class_and_its_arguments(steps):
    dls = DataLoaders.from_dsets(_marked_dsets(steps), bs=4, dl_type=steps.PaddedLoader, pad_value=-1)
    cfg = json.loads(json.dumps(dls.to_config()))
    assert cfg["dl_type"] == "tiers_test_dl_steps:PaddedLoader" and cfg["dl_kwargs"] == {"bs": 4, "pad_value": -1}
    again = DataLoaders.from_config(cfg, allow=("tiers_test_dl_steps",))
    assert all(type(dl) is steps.PaddedLoader and dl.pad_value == -1 and dl.bs == 4 for dl in again)
    cfg["dl_type"] = "datablock.parallel:ProcessPoolExecutor"
    with pytest.raises(ConfigError, match="never followed"):
        DataLoaders.from_config(cfg)
    cfg["dl_type"] = "datablock.transforms:Categorize"
    with pytest.raises(ValueError, match="not a datablock DataLoader class"):
        DataLoaders.from_config(cfg)


def test_config_refuses_lambdas_unmarked_and_unsafe_names(steps):
    dls = DataLoaders.from_dsets(_marked_dsets(steps), bs=4, after_batch=[lambda b: b])
    with pytest.raises(TypeError, match="lambda"):
        dls.to_config()
    with pytest.raises(TypeError, match="not marked safe"):
        DataLoaders.from_dsets(_marked_dsets(steps), bs=4, after_batch=[scale_x]).to_config()
    cfg = DataLoaders.from_dsets(_marked_dsets(steps), bs=4).to_config()
    for bad in ({"type": "subprocess:Popen", "args": {"args": ["true"]}}, {"function": "builtins:eval"}):
        cfg["after_batch"] = [bad]
        with pytest.raises(ConfigError, match="not in the allow-list"):
            DataLoaders.from_config(cfg, allow=("tiers_test_dl_steps",))


def test_an_unwritable_label_function_is_left_out_of_the_export_and_refused_when_labelling(steps):
    """A lambda `get_y` (as `from_name_func` users write) is not needed to predict: the export names it, loads,
    predicts and decodes; labelling items with the loaded pipelines is refused, naming the function."""
    items = [(float(i), "odd" if i % 2 else "even") for i in range(12)]
    splits = [range(8), range(8, 12)]
    ds = Datasets(items, [[ItemGetter(0), steps.to_float], [lambda o: o[1], Categorize()]], splits=splits)
    dls = DataLoaders.from_dsets(ds, bs=4)
    with pytest.warns(UserWarning, match=r"label function '.*<lambda>' is not written"):
        cfg = json.loads(json.dumps(dls.to_config()))
    again = DataLoaders.from_config(cfg, allow=("tiers_test_dl_steps",))
    (x,) = again.test_dl([(5.0, "odd")]).one_batch()
    assert x.tolist() == [5.0]
    assert again.decode_batch((x, torch.tensor([1])))[0][1] == "odd"  # decoding passes through the stand-in
    with pytest.raises(RuntimeError, match=r"label function '.*<lambda>' was not exported"):
        again.test_dl([(5.0, "odd")], with_labels=True).one_batch()
    # an input pipeline's lambda is still refused: inference runs it
    ds = Datasets(items, [[lambda o: torch.tensor(o[0])], [ItemGetter(1), Categorize()]], splits=splits)
    with pytest.raises(TypeError, match="lambda"):
        DataLoaders.from_dsets(ds, bs=4).to_config()


def test_training_only_steps_are_not_exported(steps):
    dls = DataLoaders.from_dsets(_marked_dsets(steps), bs=4, after_item=[AddNoise()])
    assert dls.to_config()["after_item"] == []  # AddNoise is split_idx 0 (and unmarked: it is never written)


def test_decode_batch_types_plain_predictions_as_the_target():
    """Model outputs are plain tensors: decoding types them from the target pipeline (here `Categorize`)."""
    dls = _dsets().dataloaders(bs=4, shuffle_train=False)
    (x,) = dls.test_dl([(1.0, "odd"), (2.0, "even"), (3.0, "odd")]).one_batch()
    preds = torch.tensor([1, 0, 0])  # a bare index, as the loss's decodes gives it
    assert [lab for _, lab in dls.decode_batch((x, preds))] == ["odd", "even", "even"]
    typed = dls.retype_targets(preds)
    assert type(typed) is TensorCategory and typed.tolist() == [1, 0, 0]
    assert type(dls.retype_targets((preds,))[0]) is TensorCategory


def test_decode_batch_types_multi_category_and_leaves_regression_plain():
    from datablock import MultiCategoryBlock, RegressionBlock
    from datablock.show import pipeline_type
    from typedtensor import TensorMultiCategory

    items = [(float(i), ["a", "b"][: 1 + i % 2], float(i) / 2) for i in range(8)]
    multi = MultiCategoryBlock().type_tfms
    ds = Datasets(items, [[ItemGetter(0), torch.tensor], [ItemGetter(1), *multi]], splits=[range(6), range(6, 8)])
    dls = ds.dataloaders(bs=2, shuffle_train=False)
    (x,) = dls.test_dl([(1.0, ["a"])]).one_batch()
    decoded = dls.decode_batch((x, torch.tensor([[True, True]])))
    assert decoded[0][1] == ["a", "b"] and type(dls.retype_targets(torch.ones(1, 2))) is TensorMultiCategory
    reg = Datasets(items, [[ItemGetter(0), torch.tensor], [ItemGetter(2), *RegressionBlock().type_tfms]])
    assert pipeline_type(reg.tls[1].tfms) is None
    assert type(reg.dataloaders(bs=2).retype_targets(torch.ones(2))) is torch.Tensor


class MaskOf(Transform):
    """A target type transform for the test: an (h, w) array of classes → `TensorMask`."""

    def encodes(self, x: list) -> TensorMask:
        return TensorMask(torch.tensor(x))

    def decodes(self, x: TensorMask) -> TensorMask:
        return x


def test_show_results_draws_mask_predictions_beside_the_targets():
    from datablock.show import show_samples
    from typedtensor import TensorImage

    g = torch.Generator().manual_seed(0)
    imgs = [TensorImage(torch.rand(3, 6, 6, generator=g)) for _ in range(4)]
    masks = [(torch.arange(36).reshape(6, 6) % (2 + i % 2) == 0).long().tolist() for i in range(4)]
    items = list(zip(imgs, masks, strict=True))
    ds = Datasets(items, [[ItemGetter(0)], [ItemGetter(1), MaskOf()]], splits=[[0, 1], [2, 3]])
    dls = ds.dataloaders(bs=2, shuffle_train=False)
    x, y = dls.valid.one_batch()
    assert type(y) is TensorMask
    scores = torch.nn.functional.one_hot(y.as_subclass(torch.Tensor), 2).permute(0, 3, 1, 2).float()  # perfect
    wrong = scores.flip(1)  # every pixel the other class
    picture = dls.show_results((x, y), scores)
    assert picture.size[0] > 6
    right = dls.valid.decode_batch((x, y))
    preds_ok = [(p,) for _, p in dls.valid.decode_batch((x, y.as_subclass(torch.Tensor)))]
    canvases = show_samples(right, dls.valid_ds, 1, preds=preds_ok)
    assert len(canvases) == 4 and canvases[1].title == "prediction"
    assert canvases[0].image.tobytes() == canvases[1].image.tobytes()  # same mask drawn: same pixels
    bad = [(p,) for _, p in dls.valid.decode_batch((x, wrong.argmax(1)))]
    assert canvases[0].image.tobytes() != show_samples(right, dls.valid_ds, 1, preds=bad)[1].image.tobytes()
    with pytest.raises(ValueError, match="axis 1 or on the last axis"):
        dls.show_results((x, y), torch.rand(2, 6, 6, 6))  # (n, 6, 6, 6) for (n, 6, 6): classes on axis 1 or 3
