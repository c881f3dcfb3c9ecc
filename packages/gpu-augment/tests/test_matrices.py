import torch

from gpu_augment import rotation_matrix


def test_rotation_matrix_quarter_turn_maps_x_to_y():
    m = rotation_matrix(torch.tensor([90.0, 0.0]))
    p = torch.tensor([1.0, 0.0, 1.0])
    assert torch.allclose(m[0] @ p, torch.tensor([0.0, 1.0, 1.0]), atol=1e-6)
    assert torch.allclose(m[1], torch.eye(3))
