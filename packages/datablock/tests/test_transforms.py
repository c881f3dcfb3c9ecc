import numpy as np
import pytest
import torch
from PIL import Image

from datablock import (
    Categorize,
    Category,
    EncodedMultiCategorize,
    IntToFloatTensor,
    MultiCategorize,
    Normalize,
    OneHotEncode,
    RegressionSetup,
    ToTensor,
)
from dispatch_transforms import Pipeline
from typedtensor import TensorCategory, TensorImage, TensorImageBW, TensorMask, TensorMultiCategory


def _plain(t):
    return t.as_subclass(torch.Tensor)


def test_to_tensor_from_pil_and_arrays():
    a = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    t = ToTensor()(Image.fromarray(a))
    assert (
        type(t) is TensorImage and t.shape == (3, 2, 3) and torch.equal(_plain(t), torch.from_numpy(a).permute(2, 0, 1))
    )
    bw = ToTensor()(Image.fromarray(a[..., 0]))
    assert type(bw) is TensorImageBW and bw.shape == (1, 2, 3)
    assert ToTensor()(Image.new("RGBA", (4, 5))).shape == (3, 5, 4)
    assert type(ToTensor()(a)) is TensorImage
    assert ToTensor()("not an image") == "not an image"  # other types pass through


def test_int_to_float_round_trip():
    x = TensorImage(torch.tensor([[[0, 128, 255]]], dtype=torch.uint8))
    tfm = IntToFloatTensor()
    f = tfm(x)
    assert type(f) is TensorImage and f.dtype == torch.float32
    assert torch.allclose(_plain(f), torch.tensor([[[0.0, 128 / 255, 1.0]]]))
    assert torch.equal(_plain(tfm.decode(f)), _plain(x))
    m = tfm(TensorMask(torch.ones(1, 2, 2, dtype=torch.uint8)))
    assert type(m) is TensorMask and m.dtype == torch.long


def test_normalize_matches_hand_computation_and_decodes():
    x = TensorImage(torch.rand(2, 3, 4, 4))
    mean, std = [0.1, 0.2, 0.3], [0.5, 0.25, 2.0]
    n = Normalize.from_stats(mean, std)
    y = n(x)
    expect = (_plain(x) - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    assert type(y) is TensorImage and torch.allclose(_plain(y), expect)
    assert torch.allclose(_plain(n.decode(y)), _plain(x), atol=1e-6)
    assert torch.allclose(_plain(n(x[0])), expect[0])  # a single image normalises per channel too
    assert "mean=[0.1, 0.2, 0.3]" in repr(n)
    with pytest.raises(ValueError, match="std must not contain 0"):
        Normalize([0.0], [0.0])


def test_categorize_learns_vocab_from_training_split_only():
    class Items(list):
        @property
        def train(self):
            return Items(self[:3])

    p = Pipeline([Categorize()])
    p.setup(Items(["dog", "cat", "dog", "bird"]), train_setup=True)
    tfm = p[0]
    assert list(tfm.vocab) == ["cat", "dog"]
    y = p("dog")
    assert type(y) is TensorCategory and int(y) == 1 and list(y.vocab) == ["cat", "dog"]
    assert p.decode(y) == "dog" and isinstance(p.decode(y), Category)
    with pytest.raises(Exception, match=r"label 'bird' is not in the vocab.*add_na=True"):
        p("bird")


@pytest.mark.parametrize("missing", [float("nan"), None])
def test_categorize_names_a_missing_label_as_such(missing):
    c = Categorize()
    c.setup(["b", "a", missing])
    assert list(c.vocab) == ["a", "b"]
    with pytest.raises(Exception, match=r"a target is (nan|None): the labels hold a missing value") as info:
        c(missing)
    assert "training split" not in str(info.value)


def test_categorize_add_na_and_given_vocab():
    c = Categorize(add_na=True)
    c.setup(["b", "a"])
    assert list(c.vocab) == ["#na#", "a", "b"] and int(c("zzz")) == 0
    c = Categorize(vocab=["z", "a"])
    assert int(c("a")) == 1 and c.decode(TensorCategory(torch.tensor([0, 1]))) == ["z", "a"]


def test_multicategorize_one_hot_and_decode():
    m = MultiCategorize()
    m.setup([["b", "a"], ["c"], []])
    y = OneHotEncode()(m(["c", "a"]))
    assert type(y) is TensorMultiCategory and y.tolist() == [1.0, 0.0, 1.0] and list(y.vocab) == ["a", "b", "c"]
    assert m.decode(y) == ["a", "c"]
    assert OneHotEncode(c=4)([0, 3]).tolist() == [1.0, 0.0, 0.0, 1.0]
    with pytest.raises(Exception, match=r"outside \[0, 4\)"):
        OneHotEncode(c=4)([5])
    with pytest.raises(Exception, match="label 'd' is not in the vocab"):
        m(["d"])


def test_encoded_multicategorize():
    e = EncodedMultiCategorize(vocab=["x", "y", "z"])
    t = e([0, 1, 1])
    assert type(t) is TensorMultiCategory and t.tolist() == [0.0, 1.0, 1.0]
    assert e.decode(t) == ["y", "z"]
    with pytest.raises(Exception, match="has 2 values, expected 3"):
        e([1, 0])


def test_regression_setup():
    r = RegressionSetup()
    r.setup([[1.0, 2.0], [3.0, 4.0]])
    assert r.c == 2 and r([1, 2]).dtype == torch.float32
    r1 = RegressionSetup()
    r1.setup([1.5, 2.5])
    assert r1.c == 1 and float(r1(2.5)) == 2.5
    with pytest.raises(Exception, match="not a number"):
        r1("abc")


def test_decodes_work_on_plain_tensors():
    # model outputs are plain tensors: these decodes used to return them unchanged
    m = MultiCategorize()
    m.setup([["b", "a"], ["c"]])
    out = torch.tensor([0.9, 0.2, 0.7])  # probabilities, plain
    one_hot = OneHotEncode().decode(out)
    assert type(one_hot) is TensorMultiCategory and torch.equal(one_hot.as_subclass(torch.Tensor), out)
    assert m.decode(one_hot) == ["a", "c"] and m.decode(out) == ["a", "c"]
    assert m.decode(torch.tensor([[1.0, 0, 0], [0, 1, 1]])) == [["a"], ["b", "c"]]  # a batch: one list per row
    with pytest.raises(Exception, match=r"expected \(\.\.\., 4\) values"):
        OneHotEncode(c=4).decode(out)
    e = EncodedMultiCategorize(vocab=["x", "y", "z"])
    assert e.decode(torch.tensor([0.0, 1.0, 1.0])) == ["y", "z"]
    assert e.decode(torch.tensor([[0.0, 0.0, 0.6], [0.8, 0.0, 0.0]])) == [["z"], ["x"]]
    with pytest.raises(Exception, match=r"one value per class \(3\)"):
        e.decode(torch.tensor([1.0, 0.0]))
    c = Categorize()
    c.setup(["dog", "cat"])
    assert c.decode(torch.tensor(1)) == "dog" and c.decode(torch.tensor([1, 0])) == ["dog", "cat"]
    with pytest.raises(Exception, match="expected class indices"):
        c.decode(torch.tensor([0.2, 0.8]))
