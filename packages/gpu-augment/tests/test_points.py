import pytest
import torch

from gpu_augment import PointScaler
from typedtensor import TensorImage, TensorPoint


def test_point_scaler_maps_the_canvas_edges_to_minus_one_and_one_and_back():
    img = TensorImage(torch.zeros(2, 3, 20, 40))
    pts = TensorPoint(torch.tensor([[[0.0, 0.0], [40.0, 20.0]], [[20.0, 10.0], [10.0, 15.0]]]), canvas_size=(20, 40))
    out_img, out = PointScaler()((img, pts))
    assert out_img is img and isinstance(out, TensorPoint) and out.canvas_size == (20, 40)
    assert out.tolist() == [[[-1, -1], [1, 1]], [[0, 0], [-0.5, 0.5]]]
    back = PointScaler().decode((img, out))[1]
    assert torch.allclose(back, pts) and back.canvas_size == (20, 40)


def test_point_scaler_decodes_flat_predictions_with_the_image_size():
    img = TensorImage(torch.zeros(1, 3, 10, 30))
    flat = TensorPoint.wrap(torch.tensor([[0.0, 0.0, 1.0, -1.0]]))  # a model's (n, 2k) output, no canvas
    back = PointScaler().decode((img, flat))[1]
    assert back.shape == (1, 2, 2) and back.tolist() == [[[15, 5], [30, 0]]] and back.canvas_size == (10, 30)
    with pytest.raises(Exception, match="no canvas_size and the batch holds no image"):
        PointScaler()((TensorPoint.wrap(torch.zeros(1, 1, 2)),))
    with pytest.raises(Exception, match=r"expected points \(n, k, 2\) or flat"):
        PointScaler().decode((img, TensorPoint.wrap(torch.zeros(1, 3))))
