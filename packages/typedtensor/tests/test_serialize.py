"""Metadata survives copies, pickling, torch.save/load(weights_only=True) and DataLoader workers."""

import copy
import io
import pickle

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

import typedtensor
from typedtensor import TensorBBox, TensorCategory, TensorImage, TensorMask, TensorPoint
from typedtensor.testing import assert_same_typed


def _samples():
    return [
        TensorPoint(torch.tensor([[1.5, 2.5], [3.0, 4.0]]), canvas_size=(10, 12)),
        TensorBBox(torch.tensor([[1.0, 2.0, 5.0, 6.0]]), canvas_size=(8, 9)),
        TensorMask(torch.tensor([[0, 1], [2, 0]]), codes=["bg", "a", "b"]),
        TensorCategory(torch.tensor(2), vocab=["x", "y", "z"]),
        TensorImage(torch.rand(3, 2, 2)),
    ]


@pytest.mark.parametrize("x", _samples(), ids=lambda x: type(x).__name__)
def test_pickle_round_trip(x):
    assert_same_typed(pickle.loads(pickle.dumps(x)), x)


@pytest.mark.parametrize("x", _samples(), ids=lambda x: type(x).__name__)
def test_deepcopy_copies_data_and_metadata(x):
    y = copy.deepcopy(x)
    assert_same_typed(y, x)
    assert y.data_ptr() != x.data_ptr()
    if "codes" in x.meta:
        assert y.codes == x.codes and y.codes is not x.codes


def test_deepcopy_keeps_requires_grad():
    x = TensorImage(torch.ones(2), requires_grad=True)
    y = copy.deepcopy(x)
    assert y.requires_grad and y.is_leaf and type(y) is TensorImage


@pytest.mark.parametrize("x", _samples(), ids=lambda x: type(x).__name__)
def test_torch_save_and_safe_load(x, tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"item": x, "list": [x, x + 1]}, path)
    back = typedtensor.load(path)
    assert_same_typed(back["item"], x)
    assert_same_typed(back["list"][1], x + 1)
    with torch.serialization.safe_globals(typedtensor.safe_globals()):
        assert_same_typed(torch.load(path, weights_only=True)["item"], x)


def test_weights_only_load_refuses_unlisted_types():
    buf = io.BytesIO()
    torch.save(TensorPoint(torch.zeros(1, 2), canvas_size=(1, 1)), buf)
    buf.seek(0)
    with pytest.raises(pickle.UnpicklingError, match="TensorPoint"):
        torch.load(buf, weights_only=True)


class TensorDepth(TensorImage):
    _meta = ("unit",)


def test_safe_globals_lists_user_types_and_load_accepts_them():
    assert {TensorImage, TensorPoint, TensorDepth} <= set(typedtensor.safe_globals())
    x = TensorDepth(torch.ones(1, 2, 2), unit="m")
    buf = io.BytesIO()
    torch.save(x, buf)
    buf.seek(0)
    assert_same_typed(typedtensor.load(buf), x)


class _Points(Dataset):
    def __len__(self):
        return 6

    def __getitem__(self, i):
        pts = TensorPoint(torch.full((3, 2), float(i)), canvas_size=(20 + i, 30))
        img = TensorImage(torch.full((1, 2, 2), i / 10))
        return img, pts, TensorCategory(torch.tensor(i % 3), vocab=["a", "b", "c"])


def _check_batches(batches):
    assert len(batches) == 3
    for k, (img, pts, cat) in enumerate(batches):
        assert type(img) is TensorImage and type(pts) is TensorPoint and type(cat) is TensorCategory
        assert pts.canvas_size == (20 + 2 * k, 30)  # the first item's metadata wins in the collated batch
        assert cat.vocab == ["a", "b", "c"]
        assert torch.equal(pts.as_subclass(torch.Tensor)[:, 0, 0], torch.tensor([2.0 * k, 2.0 * k + 1]))


def test_dataloader_main_process_keeps_types():
    _check_batches(list(DataLoader(_Points(), batch_size=2, num_workers=0)))


@pytest.mark.slow
def test_dataloader_workers_keep_types_and_metadata():
    _check_batches(list(DataLoader(_Points(), batch_size=2, num_workers=2)))
