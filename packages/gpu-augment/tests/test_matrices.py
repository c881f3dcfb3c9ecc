import math

import torch

from gpu_augment.matrices import (
    crop_matrix,
    dihedral_matrix,
    flip_matrix,
    homography_from_points,
    identity_matrix,
    perspective_matrix,
    rotation_matrix,
    zoom_matrix,
)


def test_rotation_matrix_quarter_turn_maps_x_to_y():
    m = rotation_matrix(torch.tensor([90.0, 0.0]))
    p = torch.tensor([1.0, 0.0, 1.0])
    assert torch.allclose(m[0] @ p, torch.tensor([0.0, 1.0, 1.0]), atol=1e-6)
    assert torch.allclose(m[1], torch.eye(3))


def test_rotation_on_a_wide_canvas_keeps_pixel_distances():
    h, w = 40, 80
    m = rotation_matrix(torch.tensor([30.0]), (h, w))[0].double()
    # a pixel offset (dx, dy) from the centre is (2 dx / w, 2 dy / h) in normalised units
    p = torch.tensor([2 * 10 / w, 2 * 5 / h, 1.0], dtype=torch.float64)
    q = m @ p
    dx, dy = q[0] * w / 2, q[1] * h / 2
    assert math.isclose(float(dx**2 + dy**2), 10**2 + 5**2, rel_tol=1e-6)


def test_dihedral_gives_the_8_distinct_symmetries_of_the_square():
    ms = dihedral_matrix(torch.arange(8))
    assert len({tuple(m.flatten().tolist()) for m in ms}) == 8
    corners = torch.tensor([[-1.0, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]])
    for m in ms:  # each maps the corner set onto itself
        mapped = {tuple(v) for v in (corners @ m.T)[:, :2].tolist()}
        assert mapped == {tuple(v) for v in corners[:, :2].tolist()}
    assert torch.equal(dihedral_matrix(torch.tensor([0]))[0], torch.eye(3))


def test_flip_is_its_own_inverse():
    m = flip_matrix(torch.tensor([True, False]), torch.tensor([True, True]))
    assert torch.equal(m @ m, identity_matrix(2))
    assert m[0, 0, 0] == -1 and m[1, 0, 0] == 1 and m[0, 1, 1] == -1


def test_zoom_keeps_its_centre_fixed():
    col, row = torch.tensor([0.25]), torch.tensor([0.75])
    m = zoom_matrix(torch.tensor([2.0]), col, row)[0]
    centre = torch.tensor([2 * 0.25 - 1, 2 * 0.75 - 1, 1.0])
    assert torch.allclose(m @ centre, centre, atol=1e-6)


def test_crop_reads_the_window():
    m = crop_matrix(torch.tensor([0.5]), torch.tensor([0.25]), torch.tensor([0.5]), torch.tensor([0.0]))[0]
    # output corners (-1,-1) and (1,1) read the window's corners: x in 0.5..1, y in 0..0.25 of the canvas
    assert torch.allclose(m @ torch.tensor([-1.0, -1, 1]), torch.tensor([0.0, -1, 1]))
    assert torch.allclose(m @ torch.tensor([1.0, 1, 1]), torch.tensor([1.0, -0.5, 1]))


def test_homography_maps_the_four_points():
    g = torch.Generator().manual_seed(0)
    src = torch.rand(5, 4, 2, generator=g) * 2 - 1
    dst = src + 0.1 * torch.rand(5, 4, 2, generator=g)
    h = homography_from_points(src, dst).double()
    hom = torch.cat([src.double(), torch.ones(5, 4, 1, dtype=torch.float64)], -1) @ h.transpose(1, 2)
    assert torch.allclose(hom[..., :2] / hom[..., 2:], dst.double(), atol=1e-5)


def test_perspective_zero_magnitude_is_identity_and_moves_corners():
    assert torch.allclose(perspective_matrix(torch.zeros(2), torch.zeros(2)), identity_matrix(2), atol=1e-6)
    m = perspective_matrix(torch.tensor([0.0]), torch.tensor([0.2]))[0]
    top_left = m @ torch.tensor([-1.0, -1, 1])
    assert torch.allclose(top_left[:2] / top_left[2], torch.tensor([-0.8, -1.0]), atol=1e-5)
