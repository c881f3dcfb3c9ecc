"""Showing: box labels drawn by their boxes (not the title); tabular-like samples as a DataFrame."""

import numpy as np
import pandas as pd
import torch

from datablock import CategoryBlock, ColReader, DataBlock, DataLoader, TransformBlock
from datablock.show import show_samples
from datablock.vocab import CategoryMap
from typedtensor import TensorBBox, TensorCategory, TensorImage


def _sample():
    img = TensorImage(torch.zeros(3, 24, 32, dtype=torch.uint8))
    boxes = TensorBBox(torch.tensor([[2.0, 2.0, 12.0, 10.0], [14.0, 8.0, 30.0, 22.0]]), canvas_size=(24, 32))
    labels = TensorCategory(torch.tensor([1, 0]), vocab=CategoryMap(["cat", "dog"], sort=False))
    return img, boxes, labels


def test_box_labels_go_to_the_boxes_not_the_title():
    img, boxes, labels = _sample()
    (canvas,) = show_samples([(img, boxes, labels)], dataset=None, n_inp=1)
    expected = boxes.show(ctx=img.show(), labels=["dog", "cat"])
    assert not canvas.title  # nothing left for the title
    assert np.array_equal(canvas.to_array(), expected.to_array())
    plain = boxes.show(ctx=img.show())
    assert not np.array_equal(canvas.to_array(), plain.to_array())  # the labels were drawn


def test_labels_that_do_not_fit_the_boxes_stay_in_the_title():
    img, boxes, _ = _sample()
    one = TensorCategory(torch.tensor([1, 0, 1]), vocab=CategoryMap(["cat", "dog"], sort=False))  # 3 labels, 2 boxes
    (canvas,) = show_samples([(img, boxes, one)], dataset=None, n_inp=1)
    assert canvas.title == "dog; cat; dog"


def test_show_batch_of_boxes_through_a_loader():
    dl = DataLoader([_sample()], bs=1)
    grid = dl.show_batch()
    assert grid.title is None or grid.title == ""


def number(v):
    return torch.tensor([float(v)])


def test_tabular_like_samples_as_a_table():
    df = pd.DataFrame({"x": [float(i) for i in range(6)], "label": list("ababab")})
    dblock = DataBlock(
        blocks=(TransformBlock(type_tfms=[number]), CategoryBlock),
        get_x=ColReader("x"),
        get_y=ColReader("label"),
        splitter=lambda items: ([0, 1, 2, 3], [4, 5]),
    )
    dls = dblock.dataloaders(df, bs=2, shuffle=False)
    table = dls.valid.show_batch(table=True)
    assert isinstance(table, pd.DataFrame)
    assert table.to_dict("list") == {"x": [4.0, 5.0], "y": ["a", "b"]}
    b = dls.valid.one_batch()
    preds = torch.tensor([[0.1, 0.9], [0.8, 0.2]])  # class scores: predicts b, a
    res = dls.show_results(b, preds, table=True)
    assert res.to_dict("list") == {"x": [4.0, 5.0], "y": ["a", "b"], "y_pred": ["b", "a"]}


def test_dict_elements_give_one_column_per_field():
    dl = DataLoader([({"age": 30.0, "height": 1.5}, 1), ({"age": 40.0, "height": 1.25}, 0)], bs=2)
    table = dl.show_batch(table=True)
    assert table.to_dict("list") == {"age": [30.0, 40.0], "height": [1.5, 1.25], "y": [1, 0]}
