"""wrap, retain_type and cast: re-typing rules, metadata and validation errors."""

import pytest
import torch

from typedtensor import (
    TensorBase,
    TensorBBox,
    TensorCategory,
    TensorImage,
    TensorMask,
    TensorPoint,
    cast,
    retain_type,
    wrap,
)


def test_classmethod_wrap_types_plain_tensor_with_like_metadata_sharing_memory():
    like = TensorPoint(torch.zeros(2, 2), canvas_size=(5, 6))
    plain = torch.ones(4, 2)
    out = TensorPoint.wrap(plain, like=like)
    assert type(out) is TensorPoint and out.canvas_size == (5, 6)
    assert out.data_ptr() == plain.data_ptr()
    assert TensorPoint.wrap(plain, like=like, canvas_size=(7, 8)).canvas_size == (7, 8)


def test_module_wrap_calls_the_type_of_like():
    like = TensorCategory(torch.tensor(1), vocab=["a", "b"])
    out = wrap(torch.tensor([0, 1]), like)
    assert type(out) is TensorCategory and out.vocab == ["a", "b"]


def test_wrap_keeps_a_chosen_semantic_type_and_passes_non_tensors():
    img = TensorImage(torch.zeros(1, 2, 2))
    mask = TensorMask(torch.zeros(2, 2), codes=["bg"])
    assert wrap(mask, img) is mask  # a transform that returns a mask from an image keeps the mask
    pts = TensorPoint(torch.zeros(1, 2), canvas_size=(9, 9))
    newer = TensorPoint(torch.ones(1, 2), canvas_size=(4, 4))
    assert wrap(newer, pts).canvas_size == (4, 4)  # already of the type: its own metadata stays
    assert wrap([1, 2], img) == [1, 2]
    assert wrap(None, img) is None
    base = TensorBase(torch.zeros(2))
    assert type(wrap(base, img)) is TensorImage  # the generic base type is refined


def test_wrap_rejects_unknown_metadata():
    with pytest.raises(TypeError, match="TensorImage got unexpected metadata 'canvas_size'"):
        TensorImage.wrap(torch.zeros(1), canvas_size=(1, 1))


def test_retain_type_elementwise_and_untyped_like():
    img = TensorImage(torch.zeros(1, 2, 2))
    pts = TensorPoint(torch.zeros(1, 2), canvas_size=(2, 2))
    out = retain_type((torch.ones(1, 2, 2), torch.ones(3, 2), 5), (img, pts, 4))
    assert type(out) is tuple
    assert type(out[0]) is TensorImage and type(out[1]) is TensorPoint and out[1].canvas_size == (2, 2)
    assert out[2] == 5
    t = torch.ones(2)
    assert retain_type(t, torch.zeros(2)) is t
    assert retain_type(t, 3) is t


def test_cast_views_memory_keeps_shared_metadata_and_validates():
    boxes = TensorBBox(torch.tensor([[0.0, 0.0, 2.0, 4.0]]), canvas_size=(10, 20))
    pts = cast(boxes.view(2, 2), TensorPoint)
    assert type(pts) is TensorPoint and pts.canvas_size == (10, 20)
    assert pts.data_ptr() == boxes.data_ptr()
    assert cast(pts, TensorPoint, canvas_size=(1, 2)).canvas_size == (1, 2)
    assert type(cast(pts, torch.Tensor)) is torch.Tensor
    img = cast(torch.zeros(3, 2, 2), TensorImage)
    assert type(img) is TensorImage
    with pytest.raises(ValueError, match=r"TensorPoint: expected shape \(\.\.\., 2\) .* got \(1, 4\)"):
        cast(boxes, TensorPoint)
    with pytest.raises(TypeError, match=r"cast: expected a torch\.Tensor, got list"):
        cast([1, 2], TensorPoint)
    with pytest.raises(TypeError, match="cast: expected a tensor type"):
        cast(torch.zeros(2), int)


@pytest.mark.parametrize(
    ("typ", "shape", "expected"),
    [
        (TensorPoint, (3, 3), r"TensorPoint: expected shape \(\.\.\., 2\) of x, y coordinates, got \(3, 3\)"),
        (TensorPoint, (), r"TensorPoint: expected shape \(\.\.\., 2\) of x, y coordinates, got \(\)"),
        (TensorBBox, (2, 2), r"TensorBBox: expected shape \(\.\.\., 4\) of x1, y1, x2, y2, got \(2, 2\)"),
    ],
)
def test_constructor_shape_errors_name_type_expected_and_actual(typ, shape, expected):
    with pytest.raises(ValueError, match=expected):
        typ(torch.zeros(shape))


def test_canvas_size_is_validated_and_normalised():
    assert TensorPoint(torch.zeros(1, 2), canvas_size=[4.0, 5]).canvas_size == (4, 5)
    with pytest.raises(ValueError, match=r"TensorBBox: canvas_size must be \(height, width\), got 7"):
        TensorBBox(torch.zeros(1, 4), canvas_size=7)
    with pytest.raises(ValueError, match="TensorPoint: canvas_size must be non-negative"):
        TensorPoint(torch.zeros(1, 2), canvas_size=(-1, 3))


def test_unknown_metadata_keyword_is_a_type_error():
    with pytest.raises(TypeError, match=r"TensorMask got unexpected metadata 'vocab'; expected one of \('codes',\)"):
        TensorMask(torch.zeros(2, 2), vocab=["a"])


def test_points_outside_the_canvas_are_kept():
    pts = TensorPoint(torch.tensor([[-3.0, 50.0]]), canvas_size=(10, 10))
    moved = pts * 2
    assert torch.equal(moved.as_subclass(torch.Tensor), torch.tensor([[-6.0, 100.0]]))


def test_op_results_are_not_shape_checked():
    pts = TensorPoint(torch.zeros(3, 2), canvas_size=(1, 1))
    flat = pts.flatten()  # (6,) is no longer (..., 2) but stays a TensorPoint: checks are for constructors
    assert type(flat) is TensorPoint and flat.shape == (6,)


def test_cast_to_a_tensor_subclass_that_is_not_typed_is_refused():
    assert type(cast(TensorPoint(torch.zeros(1, 2)), torch.Tensor)) is torch.Tensor  # plain: allowed
    with pytest.raises(TypeError, match=r"cast: Parameter is not a typed tensor type"):
        cast(torch.zeros(2), torch.nn.Parameter)
