import torch
import torch.nn.functional as F

from gpu_augment import aug_transforms
from gpu_augment.grid import resample, sampling_grid
from gpu_augment.matrices import identity_matrix, rotation_matrix, zoom_matrix
from typedtensor import TensorImage, TensorMask


def test_affine_grid_matches_torch_affine_grid():
    m = rotation_matrix(torch.tensor([20.0, -5.0])) @ zoom_matrix(
        torch.tensor([1.3, 1.0]), torch.rand(2), torch.rand(2)
    )
    ours = sampling_grid(m, (12, 20))
    ref = F.affine_grid(m[:, :2], [2, 1, 12, 20], align_corners=False)
    assert torch.allclose(ours, ref, atol=1e-6)


def test_identity_items_keep_exact_values_and_others_are_resampled():
    x = torch.rand(6, 3, 10, 14)
    m = identity_matrix(6)
    m[1] = rotation_matrix(torch.tensor([30.0]))[0]
    out = resample(x, m)
    assert torch.equal(out[[0, 2, 3, 4, 5]], x[[0, 2, 3, 4, 5]])
    ref = F.grid_sample(
        x[1:2],
        F.affine_grid(m[1:2, :2], [1, 3, 10, 14], align_corners=False),
        align_corners=False,
        padding_mode="reflection",
    )
    assert torch.allclose(out[1:2], ref, atol=1e-6)
    m[:] = rotation_matrix(torch.full((6,), 30.0))
    m[0] = torch.eye(3)  # mostly moving: full-batch path with the identity item copied back
    out = resample(x, m)
    assert torch.equal(out[0], x[0])
    assert torch.allclose(out[1], ref[0], atol=1e-6)


def test_one_grid_sample_per_batch_whatever_the_number_of_transforms(monkeypatch):
    calls = []
    real = F.grid_sample

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "grid_sample", counting)
    tfms = aug_transforms(flip_vert=True, min_zoom=0.9, max_zoom=1.2)  # dihedral, warp, rotate, zoom fused
    affine = tfms[0]
    assert len(affine.tfms) == 4
    torch.manual_seed(0)
    img = TensorImage(torch.rand(8, 3, 16, 16))
    affine(img)
    assert len(calls) == 1
    calls.clear()
    affine((img, TensorMask(torch.zeros(8, 16, 16, dtype=torch.long))))
    assert len(calls) == 2  # one for the image batch, one for the mask batch


def test_projective_grid_matches_a_float64_reference_and_the_cached_base_is_untouched():
    from gpu_augment.matrices import perspective_matrix

    m = perspective_matrix(torch.tensor([0.2, -0.15, 0.0]), torch.tensor([-0.1, 0.05, 0.0]))
    m = m @ rotation_matrix(torch.tensor([12.0, -3.0, 0.0]))
    h, w = 7, 11
    ys, xs = torch.meshgrid(
        (torch.arange(h, dtype=torch.float64) + 0.5) * 2 / h - 1,
        (torch.arange(w, dtype=torch.float64) + 0.5) * 2 / w - 1,
        indexing="ij",
    )
    points = torch.stack([xs, ys, torch.ones_like(xs)], -1).view(-1, 3)
    moved = points @ m.double().transpose(1, 2)
    ref = (moved[..., :2] / moved[..., 2:]).view(3, h, w, 2)
    for _ in range(2):  # the second call reuses the cached base grid
        ours = sampling_grid(m, (h, w))
        assert ours.shape == (3, h, w, 2) and ours.dtype == torch.float32 and ours.is_contiguous()
        assert torch.allclose(ours.double(), ref, atol=1e-6)
