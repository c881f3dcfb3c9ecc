import pytest
import torch

from gpu_augment import RandomErasing
from gpu_augment.testing import check_kernel
from typedtensor import TensorImage, TensorMask


def test_erasing_fills_the_drawn_rectangles_only():
    x = TensorImage(torch.full((8, 3, 40, 50), 7.0))
    tfm = RandomErasing(p=1.0, sl=0.1, sh=0.2, max_count=1, generator=torch.Generator().manual_seed(0))
    out = tfm(x).as_subclass(torch.Tensor)
    erased = (out != 7.0).all(1)  # noise never hits 7.0 exactly
    params = tfm.last_params
    for i in range(8):
        x1, y1, x2, y2 = (params.boxes[i, 0] * torch.tensor([50, 40, 50, 40])).round().long().tolist()
        expected = torch.zeros(40, 50, dtype=torch.bool)
        expected[y1:y2, x1:x2] = True
        assert torch.equal(erased[i], expected)
        assert 0.05 * 2000 <= expected.sum() <= 0.25 * 2000


def test_erasing_probability_masks_and_replay():
    x = TensorImage(torch.rand(50, 1, 10, 10))
    m = TensorMask(torch.zeros(50, 10, 10, dtype=torch.long))
    tfm = RandomErasing(p=0.5, sh=0.3, max_count=3, generator=torch.Generator().manual_seed(1))
    out, out_m = tfm((x, m))
    changed = (out != x).flatten(1).any(1)
    assert 10 < int(changed.sum()) < 40
    assert out_m is m
    again = tfm(x, params=tfm.last_params)
    assert torch.equal(again, out)


def test_erasing_contract_and_errors():
    check_kernel(RandomErasing(p=0.7, max_count=2), TensorImage(torch.rand(5, 3, 12, 12)), compare_devices=False)
    with pytest.raises(ValueError, match="sl"):
        RandomErasing(sl=0.5, sh=0.1)
    with pytest.raises(ValueError, match="max_count"):
        RandomErasing(max_count=0)
