import pytest
import torch
import torch.nn.functional as F

from gpu_augment import aug_transforms
from gpu_augment import grid as grid_module
from gpu_augment.grid import resample, sampling_grid
from gpu_augment.matrices import identity_matrix, perspective_matrix, rotation_matrix, zoom_matrix
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


def _grid_sampler_calls(f) -> int:
    """How many times aten's grid sampler kernel runs in `f()`."""
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        f()
    return sum(e.count for e in prof.key_averages() if e.key == "aten::grid_sampler_2d")


def test_one_grid_sample_per_batch_whatever_the_number_of_transforms():
    tfms = aug_transforms(flip_vert=True, min_zoom=0.9, max_zoom=1.2)  # dihedral, warp, rotate, zoom fused
    affine = tfms[0]
    assert len(affine.tfms) == 4
    torch.manual_seed(0)
    img = TensorImage(torch.rand(8, 3, 16, 16))
    assert _grid_sampler_calls(lambda: affine(img)) == 1
    mask = TensorMask(torch.zeros(8, 16, 16, dtype=torch.long))
    assert _grid_sampler_calls(lambda: affine((img, mask))) == 2  # one for the image batch, one for the mask batch


MODES = [("bilinear", "reflection"), ("bilinear", "zeros"), ("nearest", "border")]


@pytest.fixture
def threads(request):
    """Run the test with torch on `request.param` CPU threads (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.mark.parametrize("threads", [1, 2], indirect=True)
@pytest.mark.parametrize(("mode", "pad_mode"), MODES)
def test_cpu_resampling_item_by_item_equals_one_grid_sample(mode, pad_mode, threads):
    # a batch above `_CHUNKED_MIN_BYTES`, so on one thread the item-by-item, channels-last CPU path runs for real
    n, size = 8, 256  # 8 x 3 x 256 x 256 floats: 6.3 MB, 0.8 MB per item
    assert n * 3 * size * size * 4 >= grid_module._CHUNKED_MIN_BYTES
    g = torch.Generator().manual_seed(0)
    x = torch.rand(n, 3, size, size, generator=g)
    zoom = zoom_matrix(torch.linspace(0.8, 1.3, n), torch.rand(n, generator=g), torch.rand(n, generator=g))
    m = rotation_matrix(torch.linspace(-25, 25, n)) @ zoom
    m = m @ perspective_matrix(torch.linspace(-0.2, 0.2, n), torch.linspace(0.1, -0.1, n))
    m[3] = torch.eye(3)  # one identity item: copied back exactly
    grid = sampling_grid(m, (size, size))
    ref = F.grid_sample(x, grid, mode=mode, padding_mode=pad_mode, align_corners=False)
    ref[3] = x[3]
    out = resample(x, m, mode=mode, pad_mode=pad_mode)
    assert out.is_contiguous() and out.shape == x.shape
    assert torch.equal(out, ref)  # the same kernel on the same values: bit for bit
    calls = _grid_sampler_calls(lambda: resample(x, m, mode=mode, pad_mode=pad_mode))
    assert calls == (n if threads == 1 else 1)  # item by item on one thread, one call on more
    resized = resample(x, m, (100, 140), mode=mode, pad_mode=pad_mode)  # a new size: every item resampled
    ref = F.grid_sample(x, sampling_grid(m, (100, 140)), mode=mode, padding_mode=pad_mode, align_corners=False)
    assert torch.equal(resized, ref)


def test_projective_grid_matches_a_float64_reference_and_the_cached_base_is_untouched():
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
