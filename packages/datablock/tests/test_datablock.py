import pandas as pd
import pytest
import torch

from datablock import (
    CategoryBlock,
    ColReader,
    ColSplitter,
    DataBlock,
    IndexSplitter,
    ItemError,
    MultiCategoryBlock,
    RegressionBlock,
    TransformBlock,
)
from typedtensor import TensorCategory, TensorMultiCategory


def _df():
    return pd.DataFrame(
        {
            "x": [float(i) for i in range(10)],
            "label": ["a", "b"] * 5,
            "tags": ["p q", "q", "", "p", "q p", "p", "q", "p q", "q", "p"],
            "target": [i * 0.5 for i in range(10)],
            "is_valid": [False] * 8 + [True] * 2,
        }
    )


def FloatBlock():
    """A minimal input block: a number → a 1-element float tensor."""
    return TransformBlock(type_tfms=[lambda v: torch.tensor([float(v)])])


def test_category_block_from_dataframe():
    dblock = DataBlock(
        blocks=(FloatBlock, CategoryBlock), get_x=ColReader("x"), get_y=ColReader("label"), splitter=ColSplitter()
    )
    dsets = dblock.datasets(_df())
    assert len(dsets.train) == 8 and len(dsets.valid) == 2 and list(dsets.vocab) == ["a", "b"]
    x, y = dsets.valid[1]
    assert x.tolist() == [9.0] and type(y) is TensorCategory and int(y) == 1
    dls = dblock.dataloaders(_df(), bs=4)
    xb, yb = dls.one_batch()
    assert xb.shape == (4, 1) and type(yb) is TensorCategory and yb.shape == (4,)


def test_multicategory_block_plain_and_encoded():
    dblock = DataBlock(
        blocks=(FloatBlock, MultiCategoryBlock),
        get_x=ColReader("x"),
        get_y=ColReader("tags", label_delim=" "),
        splitter=ColSplitter(),
    )
    _, y = dblock.datasets(_df()).valid[0]
    assert type(y) is TensorMultiCategory and y.tolist() == [0.0, 1.0] and list(y.vocab) == ["p", "q"]  # row 8: "q"
    df = pd.DataFrame({"x": [1.0, 2.0, 3.0], "p": [1, 0, 1], "q": [0, 1, 1]})
    enc = DataBlock(
        blocks=(FloatBlock, MultiCategoryBlock(encoded=True, vocab=["p", "q"])),
        get_x=ColReader("x"),
        get_y=ColReader(["p", "q"]),
        splitter=IndexSplitter([2]),
    )
    assert enc.datasets(df).valid[0][1].tolist() == [1.0, 1.0]
    with pytest.raises(ValueError, match="needs vocab="):
        MultiCategoryBlock(encoded=True)


def test_regression_block():
    dblock = DataBlock(
        blocks=(FloatBlock, RegressionBlock), get_x=ColReader("x"), get_y=ColReader("target"), splitter=ColSplitter()
    )
    dls = dblock.dataloaders(_df(), bs=2)
    assert dls.c == 1
    assert dls.valid.one_batch()[1].tolist() == [4.0, 4.5]


def test_each_datasets_call_learns_its_own_vocab():
    dblock = DataBlock(blocks=(FloatBlock, CategoryBlock), get_x=ColReader("x"), get_y=ColReader("label"))
    other = _df().assign(label=["c", "d"] * 5)
    assert list(dblock.datasets(_df()).vocab) == ["a", "b"]
    assert list(dblock.datasets(other).vocab) == ["c", "d"]


def test_bad_inputs_raise_clear_errors():
    dblock = DataBlock(blocks=(FloatBlock, CategoryBlock), get_items=lambda src: [], get_y=str)
    with pytest.raises(ValueError, match="no items found"):
        dblock.datasets("somewhere")
    all_valid = DataBlock(blocks=(FloatBlock, CategoryBlock), get_y=str, splitter=IndexSplitter(range(3)))
    with pytest.raises(ValueError, match=r"training split is empty \(split sizes \[0, 3\]"):
        all_valid.datasets([1, 2, 3])
    with pytest.raises(ValueError, match="3 getters for 2 blocks"):
        DataBlock(blocks=(FloatBlock, CategoryBlock), getters=[None, None, None])
    # two targets with n_inp left at its default (all blocks but the last): the error says which n_inp fits
    with pytest.raises(ValueError, match=r"get_y 2 for 1 targets.*did you mean n_inp=1\?"):
        DataBlock(blocks=(FloatBlock, CategoryBlock, CategoryBlock), get_x=str, get_y=[str, str])
    with pytest.raises(TypeError, match="block 1 is a int"):
        DataBlock(blocks=(FloatBlock, 3))
    unseen = DataBlock(
        blocks=(FloatBlock, CategoryBlock), get_x=ColReader("x"), get_y=ColReader("label"), splitter=ColSplitter()
    )
    df = _df()
    df.loc[9, "label"] = "zebra"
    dsets = unseen.datasets(df)
    with pytest.raises(ItemError, match=r"(?s)item 1 .*label 'zebra' is not in the vocab"):
        dsets.valid[1]


def test_summary_prints_every_step(capsys):
    dblock = DataBlock(
        blocks=(FloatBlock, CategoryBlock), get_x=ColReader("x"), get_y=ColReader("label"), splitter=ColSplitter()
    )
    lines = []
    batch = dblock.summary(_df(), bs=3, out=lines.append)
    text = "\n".join(lines)
    for expected in [
        "Found 10 items",
        "2 datasets of sizes 8,2",
        "Setting up Pipeline 1: ColReader -> Categorize",
        "applying ColReader gives\n      'a' (str)",
        "TensorCategory of shape (), dtype torch.int64",
        "Building one batch of 3 items",
        "Collating items in a batch",
        "Final batch: (Tensor of shape (3, 1), dtype torch.float32, TensorCategory of shape (3,)",
    ]:
        assert expected in text, expected
    assert batch[1].tolist() == [0, 1, 0]
    assert capsys.readouterr().out == ""  # everything went to `out`


def test_summary_names_failing_getter_with_advice():
    dblock = DataBlock(blocks=(FloatBlock, CategoryBlock), get_x=ColReader("nope"), get_y=ColReader("label"))
    lines = []
    with pytest.raises(ItemError, match="step 'getter ColReader \\(pipeline 0\\)' failed on item"):
        dblock.summary(_df(), out=lines.append)
    text = "\n".join(lines)
    assert "column 'nope' not found" in text and "Advice: the getter receives one raw item (here a Series)" in text


def test_summary_names_collate_failure_with_resize_advice():
    ragged = DataBlock(
        blocks=(TransformBlock(type_tfms=[lambda n: torch.zeros(int(n) + 1)]), CategoryBlock),
        get_x=ColReader("x"),
        get_y=ColReader("label"),
        splitter=ColSplitter(),
    )
    lines = []
    with pytest.raises(ItemError, match="step 'collate' failed"):
        ragged.summary(_df(), bs=2, out=lines.append)
    text = "\n".join(lines)
    assert "different shapes: item 0 is (1,), item 1 is (2,)" in text and "add a resize/crop to item_tfms" in text


def test_show_batch_titles_for_labels_and_numbers():
    dblock = DataBlock(
        blocks=(FloatBlock, RegressionBlock), get_x=ColReader("x"), get_y=ColReader("target"), splitter=ColSplitter()
    )
    dls = dblock.dataloaders(_df(), bs=2)
    from datablock.show import show_samples

    canvases = show_samples(dls.valid.decode_batch(dls.valid.one_batch(), full=False), dls.valid_ds, 1)
    assert [c.title for c in canvases] == ["8\n4", "9\n4.5"]
    assert dls.show_batch().size[0] > 0


def test_a_splitter_returning_boolean_masks_is_read_as_masks():
    import numpy as np

    def mask_splitter(items):
        valid = np.asarray(items["is_valid"])  # numpy booleans
        return ~valid, valid

    dblock = DataBlock(
        blocks=(FloatBlock(), CategoryBlock()), get_x=ColReader("x"), get_y=ColReader("label"), splitter=mask_splitter
    )
    dsets = dblock.datasets(_df())
    assert dsets.splits == [list(range(8)), [8, 9]]

    def empty_train(items):
        return [False] * len(items), [True] * len(items)

    with pytest.raises(ValueError, match="training split is empty"):
        DataBlock(blocks=(FloatBlock(), CategoryBlock()), get_x=ColReader("x"), splitter=empty_train).datasets(_df())
