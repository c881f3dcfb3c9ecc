"""What the data says about the model: `loss_kind` and `c` from blocks, transforms and the config."""

import json

import pandas as pd
import pytest
import torch

from datablock import (
    CategoryBlock,
    ColReader,
    DataBlock,
    DataLoaders,
    Datasets,
    MultiCategoryBlock,
    RegressionBlock,
    TransformBlock,
    check_loss_kind,
)
from datablock.transforms import Categorize, RegressionSetup


def _df():
    return pd.DataFrame(
        {
            "x": [float(i) for i in range(8)],
            "label": list("abcabcab"),
            "tags": ["a b", "b", "c", "a", "b c", "a", "c", "b"],
            "y": [0.5 * i for i in range(8)],
        }
    )


def _dls(target, get_y, **kw):
    # only marked, installed steps (the config is loaded back)
    dblock = DataBlock(
        blocks=(TransformBlock(type_tfms=[RegressionSetup()]), target),
        get_x=ColReader("x"),
        get_y=get_y,
        splitter=lambda items: (list(range(6)), [6, 7]),
        **kw,
    )
    return dblock.dataloaders(_df(), bs=2)


@pytest.mark.parametrize(
    ("target", "get_y", "kind", "c"),
    [
        (CategoryBlock, ColReader("label"), "cross_entropy", 3),
        (MultiCategoryBlock, ColReader("tags", label_delim=" "), "bce", 3),
        (RegressionBlock, ColReader("y"), "mse", 1),
    ],
)
def test_blocks_give_loss_kind_and_c(target, get_y, kind, c):
    dls = _dls(target, get_y)
    assert dls.loss_kind == {"kind": kind, "axis": -1}
    assert dls.c == c
    cfg = json.loads(json.dumps(dls.to_config()))  # plain data
    again = DataLoaders.from_config(cfg)
    assert again.loss_kind == dls.loss_kind and again.c == c


def test_a_block_declares_its_own_kind_and_c_and_they_survive_the_config():
    mask_like = TransformBlock(type_tfms=[RegressionSetup()], loss_kind={"kind": "cross_entropy", "axis": 1}, c=5)
    dls = _dls(mask_like, ColReader("y"))
    assert dls.loss_kind == {"kind": "cross_entropy", "axis": 1} and dls.c == 5
    cfg = dls.to_config()
    assert cfg["loss_kind"] == {"kind": "cross_entropy", "axis": 1} and cfg["c"] == 5
    again = DataLoaders.from_config(json.loads(json.dumps(cfg)))
    assert again.loss_kind == {"kind": "cross_entropy", "axis": 1} and again.c == 5
    assert dls.new(bs=3).loss_kind == dls.loss_kind  # copies keep it


def test_plain_datasets_read_the_kind_from_the_target_transforms():
    ds = Datasets(list("abcab"), [[lambda s: torch.tensor([1.0])], [Categorize()]], splits=[[0, 1, 2], [3, 4]])
    dls = ds.dataloaders(bs=2)
    assert dls.loss_kind == {"kind": "cross_entropy", "axis": -1} and dls.c == 3
    untyped = Datasets(list("abc"), [[lambda s: torch.tensor([1.0])], [lambda s: 1.0]], splits=[[0, 1], [2]])
    assert untyped.dataloaders(bs=1).loss_kind is None  # nothing says: the Learner needs a loss_func


def test_several_targets_leave_the_choice_to_the_user():
    dblock = DataBlock(
        blocks=(TransformBlock(type_tfms=[RegressionSetup()]), CategoryBlock, RegressionBlock),
        getters=[ColReader("x"), ColReader("label"), ColReader("y")],
        n_inp=1,
        splitter=lambda items: (list(range(6)), [6, 7]),
    )
    assert dblock.dataloaders(_df(), bs=2).loss_kind is None


def test_bad_loss_kinds_are_refused():
    assert check_loss_kind("bce") == {"kind": "bce", "axis": -1}
    with pytest.raises(ValueError, match="not one of"):
        check_loss_kind("hinge")
    with pytest.raises(TypeError, match="axis must be an int"):
        check_loss_kind({"kind": "cross_entropy", "axis": "1"})
    with pytest.raises(ValueError, match="unknown key"):
        TransformBlock(loss_kind={"kind": "mse", "weight": 2})
    with pytest.raises(ValueError, match="c must be a positive int"):
        TransformBlock(c=0)
