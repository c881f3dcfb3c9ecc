"""Images, masks, points and boxes of one sample move together under >= 50 seeded random geometric draws."""

import pytest
import torch

from gpu_augment import AffineCoordTfm, Dihedral, Flip, RandomResizedCropGPU, Rotate, Warp, Zoom, affine_points
from gpu_augment.kernels import inside_canvas
from typedtensor import TensorBBox, TensorImage, TensorMask, TensorPoint

H, W, N = 48, 64, 4
SEEDS = range(60)


def random_pipeline(seed: int, rigid: bool = False) -> AffineCoordTfm:
    """A seeded random mix of rotate, zoom, warp, crop, flip and dihedral (rigid: no rotate/warp)."""
    g = torch.Generator().manual_seed(1000 + seed)
    pick = torch.rand(6, generator=g) < 0.6
    parts = []
    if pick[0] and not rigid:
        parts.append(Rotate(max_deg=45, p=1.0))
    if pick[1]:
        parts.append(Zoom(1.0, 1.4, p=1.0))
    if pick[2] and not rigid:
        parts.append(Warp(0.3, p=1.0))
    if pick[3]:
        parts.append(Flip(p=0.5, vertical=bool(pick[5])))
    if pick[4]:
        parts.append(Dihedral(p=1.0))
    if pick[5]:
        parts.append(RandomResizedCropGPU((40, 56), min_scale=0.5))
    order = torch.randperm(len(parts), generator=g).tolist()
    return AffineCoordTfm([parts[i] for i in order], pad_mode="zeros", generator=torch.Generator().manual_seed(seed))


def painted_dots(seed: int) -> tuple[TensorImage, TensorMask, TensorPoint]:
    """One 3x3 dot per item near the centre, its mask and its centre point."""
    g = torch.Generator().manual_seed(seed)
    cx = torch.randint(W // 2 - 6, W // 2 + 6, (N,), generator=g)
    cy = torch.randint(H // 2 - 6, H // 2 + 6, (N,), generator=g)
    img = torch.zeros(N, 1, H, W)
    for i in range(N):
        img[i, 0, cy[i] - 1 : cy[i] + 2, cx[i] - 1 : cx[i] + 2] = 1
    pts = torch.stack([cx + 0.5, cy + 0.5], -1)[:, None].float()
    return TensorImage(img), TensorMask((img[:, 0] > 0).long()), TensorPoint(pts, canvas_size=(H, W))


def centroid(weights: torch.Tensor) -> torch.Tensor:
    """Pixel-centre centroid (x, y) of a (h, w) weight map."""
    h, w = weights.shape
    ys, xs = torch.meshgrid(torch.arange(h) + 0.5, torch.arange(w) + 0.5, indexing="ij")
    total = weights.sum()
    return torch.stack([(xs * weights).sum() / total, (ys * weights).sum() / total])


@pytest.mark.parametrize("seed", SEEDS)
def test_point_stays_on_painted_dot_and_mask_on_image(seed):
    tfm = random_pipeline(seed)
    img, msk, pts = painted_dots(seed)
    out_img, out_msk, out_pts = tfm((img, msk, pts))
    oh, ow = out_img.shape[-2:]
    assert out_pts.canvas_size == (oh, ow)
    compared = 0
    for i in range(N):
        p = out_pts[i, 0].as_subclass(torch.Tensor)
        if not bool(inside_canvas(p, (oh - 4, ow - 4)) & (p > 4).all()):
            continue  # the dot left the canvas (or touches its edge): nothing to compare
        compared += 1
        dot = out_img[i, 0].as_subclass(torch.Tensor)
        assert (centroid(dot) - p).abs().max() <= 1.0, f"seed {seed} item {i}: dot at {centroid(dot)}, point at {p}"
        labelled = out_msk[i].as_subclass(torch.Tensor) == 1
        assert labelled.any()
        assert (centroid(labelled.float()) - p).abs().max() <= 1.0
        # the mask labels the pixels where the dot is: it covers the bright pixels and only dot pixels
        assert bool((dot[labelled] > 0.2).all())
        assert bool(labelled[dot > 0.8].all())
    assert compared > 0, f"seed {seed}: every dot left the canvas, nothing was checked"


@pytest.mark.parametrize("seed", SEEDS)
def test_box_stays_around_painted_rectangle(seed):
    tfm = random_pipeline(seed)
    g = torch.Generator().manual_seed(seed)
    img = torch.zeros(N, 1, H, W)
    boxes = torch.zeros(N, 1, 4)
    for i in range(N):
        x1, y1 = int(torch.randint(16, 28, (1,), generator=g)), int(torch.randint(12, 20, (1,), generator=g))
        bw, bh = int(torch.randint(6, 16, (1,), generator=g)), int(torch.randint(6, 14, (1,), generator=g))
        img[i, 0, y1 : y1 + bh, x1 : x1 + bw] = 1
        boxes[i, 0] = torch.tensor([x1, y1, x1 + bw, y1 + bh])
    out_img, out_box = tfm((TensorImage(img), TensorBBox(boxes, canvas_size=(H, W))))
    oh, ow = out_img.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(oh) + 0.5, torch.arange(ow) + 0.5, indexing="ij")
    compared = 0
    for i in range(N):
        x1, y1, x2, y2 = out_box[i, 0].tolist()
        bright = out_img[i, 0].as_subclass(torch.Tensor) > 0.5
        if not bright.any():
            assert x2 - x1 <= 2 or y2 - y1 <= 2 or (x1, y1, x2, y2) == (0, 0, 0, 0)
            continue
        compared += 1
        # every bright pixel lies inside the box (1 px of slack for resampling)
        assert xs[bright].min() >= x1 - 1 and xs[bright].max() <= x2 + 1, f"seed {seed} item {i}"
        assert ys[bright].min() >= y1 - 1 and ys[bright].max() <= y2 + 1, f"seed {seed} item {i}"
        assert 0 <= x1 <= x2 <= ow and 0 <= y1 <= y2 <= oh
    assert compared > 0, f"seed {seed}: every rectangle left the canvas, no box was checked"


@pytest.mark.parametrize("seed", SEEDS)
def test_mask_labels_the_image_pixels_they_label(seed):
    tfm = random_pipeline(seed)
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 5, (N, H // 8, W // 8), generator=g).repeat_interleave(8, 1).repeat_interleave(8, 2)
    img = TensorImage(labels[:, None].float() / 4)
    msk = TensorMask(labels)
    out_img, out_msk = tfm((img, msk))
    # sampled the same way (nearest) the image carries exactly the mask's labels
    nearest = AffineCoordTfm([], mode="nearest", pad_mode="zeros")
    same_img = nearest(img, params=tfm.last_params)
    assert torch.equal((same_img.as_subclass(torch.Tensor)[:, 0] * 4).round().long(), out_msk.as_subclass(torch.Tensor))
    # bilinear image and nearest mask agree wherever the image is not on a label boundary
    agree = ((out_img[:, 0] * 4).as_subclass(torch.Tensor) - out_msk.as_subclass(torch.Tensor)).abs() < 0.5
    assert agree.float().mean() > 0.85


@pytest.mark.parametrize("seed", SEEDS)
def test_inverse_draw_round_trips_points(seed):
    tfm = random_pipeline(seed)
    g = torch.Generator().manual_seed(seed)
    pts = TensorPoint(torch.rand(N, 6, 2, generator=g) * torch.tensor([W, H]), canvas_size=(H, W))
    img = TensorImage(torch.zeros(N, 1, H, W))
    _, moved = tfm((img, pts))
    params = tfm.last_params
    back = tfm(moved, params=params.inverse())
    assert back.canvas_size == (H, W)
    inside = inside_canvas(moved.as_subclass(torch.Tensor), params.out_size)
    assert inside.any(), f"seed {seed}: no point stayed on the canvas, nothing was checked"
    diff = (back - pts).as_subclass(torch.Tensor).abs().amax(-1)
    assert bool((diff[inside] < 1e-2).all()), f"seed {seed}: max error {diff[inside].max()}"


@pytest.mark.parametrize("seed", SEEDS)
def test_inverse_draw_round_trips_boxes_without_rotation_or_warp(seed):
    tfm = random_pipeline(seed, rigid=True)
    g = torch.Generator().manual_seed(seed)
    x1 = torch.rand(N, 3, generator=g) * (W - 20)
    y1 = torch.rand(N, 3, generator=g) * (H - 20)
    size = 4 + torch.rand(N, 3, 2, generator=g) * 12
    boxes = torch.stack([x1, y1, x1 + size[..., 0], y1 + size[..., 1]], -1)
    box = TensorBBox(boxes, canvas_size=(H, W))
    moved = tfm((TensorImage(torch.zeros(N, 1, H, W)), box))[1]
    params = tfm.last_params
    back = tfm(moved, params=params.inverse())
    # only boxes that stayed whole on the canvas can come back whole
    corners = torch.cat([boxes[..., :2], boxes[..., 2:]], 1)
    mapped = affine_points(corners, params)
    whole = inside_canvas(mapped, params.out_size).view(N, 2, 3).all(1)
    assert whole.any(), f"seed {seed}: no box stayed whole on the canvas, nothing was checked"
    diff = (back - box).as_subclass(torch.Tensor).abs().amax(-1)
    assert bool((diff[whole] < 1e-2).all()), f"seed {seed}: max error {diff[whole].max()}"
