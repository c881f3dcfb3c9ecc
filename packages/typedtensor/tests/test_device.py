"""Device moves keep type and metadata (GPU tests are skipped without CUDA)."""

import pytest
import torch

from typedtensor import TensorBBox, TensorImage, TensorPoint, as_plain
from typedtensor.testing import check_typed_op

pytestmark = pytest.mark.gpu


def test_cuda_round_trip_keeps_type_and_metadata():
    pts = TensorPoint(torch.rand(4, 2), canvas_size=(12, 16))
    on_gpu = check_typed_op(lambda x: x.cuda(), pts)
    assert on_gpu.device.type == "cuda" and on_gpu.canvas_size == (12, 16)
    back = check_typed_op(lambda x: x.to("cuda").mul(2).cpu(), pts)
    assert torch.allclose(as_plain(back), as_plain(pts) * 2)


def test_show_from_cuda_tensors():
    img = TensorImage(torch.rand(3, 8, 8, device="cuda"))
    boxes = TensorBBox(torch.tensor([[1.0, 1.0, 5.0, 5.0]], device="cuda"), canvas_size=(8, 8))
    ctx = boxes.show(ctx=img.show())
    assert ctx.size == (8, 8)


def test_half_on_cuda_keeps_type():
    img = TensorImage(torch.rand(3, 4, 4, device="cuda"))
    assert type(img.half()) is TensorImage
