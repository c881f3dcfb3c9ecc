import numpy as np
import pytest
import torch

from datablock import CollateError, collate, decollate
from typedtensor import TensorCategory, TensorImage, TensorPoint


def test_collate_keeps_types_metadata_and_tuples():
    samples = [
        (TensorImage(torch.full((3, 2, 2), float(i))), TensorPoint(torch.ones(1, 2) * i, canvas_size=(2, 2)), i, "s")
        for i in range(3)
    ]
    x, p, y, s = collate(samples)
    assert type(x) is TensorImage and x.shape == (3, 3, 2, 2)
    assert torch.equal(x[:, 0, 0, 0].as_subclass(torch.Tensor), torch.tensor([0.0, 1.0, 2.0]))
    assert type(p) is TensorPoint and p.canvas_size == (2, 2)
    assert torch.equal(y, torch.tensor([0, 1, 2])) and s == ["s", "s", "s"]
    assert isinstance(collate(samples), tuple)
    back = decollate((x, p, y, s))
    assert len(back) == 3 and type(back[1][0]) is TensorImage and back[2][1].canvas_size == (2, 2)
    assert torch.equal(back[2][0].as_subclass(torch.Tensor), samples[2][0].as_subclass(torch.Tensor))
    assert back[1][3] == "s" and int(back[1][2]) == 1


def test_collate_numbers_arrays_dicts():
    assert torch.equal(collate([1.5, 2.5]), torch.tensor([1.5, 2.5]))
    assert collate([np.zeros(2), np.ones(2)]).shape == (2, 2)
    d = collate([{"a": torch.zeros(1), "b": 1}, {"a": torch.ones(1), "b": 2}])
    assert d["a"].shape == (2, 1) and d["b"].tolist() == [1, 2]
    assert decollate(d, max_n=1) == [{"a": torch.zeros(1), "b": torch.tensor(1)}]


def test_collate_errors_give_advice():
    with pytest.raises(CollateError, match=r"item 0 is \(3, 4\), item 1 is \(3, 5\).*resize"):
        collate([torch.zeros(3, 4), torch.zeros(3, 5)])
    from PIL import Image

    with pytest.raises(CollateError, match=r"PIL images.*ToTensor"):
        collate([Image.new("RGB", (2, 2))] * 2)
    with pytest.raises(CollateError, match="different lengths"):
        collate([(1, 2), (1,)])


def test_typed_category_vocab_survives_collate():
    v = ["a", "b"]
    b = collate([TensorCategory(torch.tensor(1), vocab=v), TensorCategory(torch.tensor(0), vocab=v)])
    assert type(b) is TensorCategory and b.vocab == v
