"""The public contract check catches ops that drop the type or the metadata."""

import pytest
import torch

from typedtensor import TensorImage, TensorMask, TensorPoint
from typedtensor.testing import assert_same_typed, check_typed_op


def test_check_typed_op_passes_and_returns_the_result():
    x = TensorPoint(torch.ones(2, 2), canvas_size=(3, 3))
    out = check_typed_op(lambda t: t * 2, x)
    assert torch.equal(out.as_subclass(torch.Tensor), torch.full((2, 2), 2.0))


def test_check_typed_op_catches_a_dropped_type():
    x = TensorImage(torch.ones(2))
    with pytest.raises(AssertionError, match="expected type TensorImage, got Tensor"):
        check_typed_op(lambda t: t.as_subclass(torch.Tensor) + 1, x)


def test_check_typed_op_catches_lost_metadata():
    x = TensorPoint(torch.ones(1, 2), canvas_size=(3, 3))
    with pytest.raises(AssertionError, match="expected metadata"):
        check_typed_op(lambda t: TensorPoint(t.as_subclass(torch.Tensor)), x)


def test_check_typed_op_expected_type_and_no_tensor():
    mask = TensorMask(torch.ones(2, 2), codes=["a"])
    img = TensorImage(torch.ones(3, 2, 2))
    check_typed_op(lambda m: img * m, mask, expected_type=TensorImage, round_trip=False)
    with pytest.raises(AssertionError, match="returned no tensor"):
        check_typed_op(lambda m: m.sum().item(), mask)
    with pytest.raises(TypeError, match="x must be a typed tensor"):
        check_typed_op(lambda m: m, torch.ones(1))


def test_assert_same_typed_reports_values():
    a = TensorImage(torch.zeros(2))
    with pytest.raises(AssertionError, match="values differ"):
        assert_same_typed(a + 1, a)
