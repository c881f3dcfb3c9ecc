"""One sampling grid and one `grid_sample` per batch; points and boxes mapped by the same matrices.

See `gpu_augment.matrices` for the coordinate conventions.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F

from gpu_augment.buffers import empty_batch

__all__ = ["sampling_grid", "resample", "is_identity", "map_points", "map_boxes", "to_normalised", "to_pixels"]

PAD_MODES = ("reflection", "border", "zeros")
MODES = ("bilinear", "nearest")


@functools.lru_cache(maxsize=8)
def _pixel_centres(
    height: int, width: int, dtype: torch.dtype, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """The normalised x (w,) and y (h,) coordinates of the output pixel centres; cached, never written to."""
    xs = torch.linspace(-1 + 1 / width, 1 - 1 / width, width, dtype=dtype, device=device)
    ys = torch.linspace(-1 + 1 / height, 1 - 1 / height, height, dtype=dtype, device=device)
    return xs, ys


def _plane(row: torch.Tensor, xs: torch.Tensor, ys: torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
    """(n, h, w) values of `row[:, 0] * x + row[:, 1] * y + row[:, 2]` over the pixel centres.

    Separable: an (n, 1, w) row plus an (n, h, 1) column, one broadcast add per plane. A batched matmul of the
    (h*w, 3) coordinates by (3, 2) matrices gave the same values 8 times slower on the CPU (inner size 3).
    """
    along_x = row[:, 0, None, None] * xs
    along_y = torch.addcmul(row[:, 2, None, None], row[:, 1, None, None], ys[:, None])
    return torch.add(along_x, along_y, out=out)


def is_projective(matrix: torch.Tensor) -> bool:
    """Whether any matrix of the batch has a non-affine last row (needs the perspective divide)."""
    last = matrix[:, 2]
    return bool((last[:, :2] != 0).any() or (last[:, 2] != 1).any())


def sampling_grid(matrix: torch.Tensor, size: tuple[int, int], *, projective: bool | None = None) -> torch.Tensor:
    """The (n, h, w, 2) grid for `grid_sample` from (n, 3, 3) sampling matrices, one separable plane per coordinate.

    Affine batches use the top two rows only; projective ones (a perspective warp) are divided
    by the third coordinate, which is how the warp is applied to the grid's coordinates. Pass
    `projective` when known on the host, so a device batch needs no synchronisation.
    """
    height, width = size
    if projective is None:
        projective = is_projective(matrix)
    xs, ys = _pixel_centres(height, width, matrix.dtype, matrix.device)
    grid = empty_batch(matrix, (matrix.shape[0], height, width, 2))
    if not projective:
        _plane(matrix[:, 0], xs, ys, out=grid[..., 0])
        _plane(matrix[:, 1], xs, ys, out=grid[..., 1])
        return grid
    # the perspective divide: one plane of 1 / z, the x and y planes scaled by it in place
    scale = _plane(matrix[:, 2], xs, ys).reciprocal_()
    for k in range(2):
        _plane(matrix[:, k], xs, ys, out=grid[..., k]).mul_(scale)
    return grid


def is_identity(matrix: torch.Tensor) -> torch.Tensor:
    """(n,) bools: which matrices are exactly the identity (their items need no resampling)."""
    eye = torch.eye(3, dtype=matrix.dtype, device=matrix.device)
    return (matrix == eye).flatten(1).all(1)


# Resample only the non-identity items when at least this fraction of the batch is identity;
# below it, resampling everything and copying the identity items back is cheaper (gather/scatter cost).
_SUBSET_FRACTION = 0.3


def resample(
    x: torch.Tensor,
    matrix: torch.Tensor,
    size: tuple[int, int] | None = None,
    *,
    mode: str = "bilinear",
    pad_mode: str = "reflection",
    identity: torch.Tensor | None = None,
) -> torch.Tensor:
    """Resample a float batch (n, c, h, w) through per-item sampling `matrix` with one `grid_sample`.

    Items whose matrix is the identity (and when `size` is unchanged) are copied, not resampled, so an
    identity draw returns exact input values. `identity` may pass that (n,) mask precomputed on the host.
    The result is a new batch (`gpu_augment.buffers.empty_batch`), written once.
    """
    if mode not in MODES:
        raise ValueError(f"resample: mode must be one of {MODES}, got {mode!r}")
    if pad_mode not in PAD_MODES:
        raise ValueError(f"resample: pad_mode must be one of {PAD_MODES}, got {pad_mode!r}")
    n, _, height, width = x.shape
    size = (height, width) if size is None else (int(size[0]), int(size[1]))
    host = matrix.detach().cpu()  # drawn on the host already: no device synchronisation
    projective = is_projective(host)
    matrix = matrix.to(device=x.device, dtype=x.dtype)
    if size != (height, width):
        return _grid_sample(x, sampling_grid(matrix, size, projective=projective), mode, pad_mode)
    identity = is_identity(host) if identity is None else identity.cpu()
    n_identity = int(identity.sum())
    if n_identity == n:
        return empty_batch(x).copy_(x)
    if n_identity >= _SUBSET_FRACTION * n:
        moving, keep = ((~identity).nonzero().flatten().to(x.device), identity.nonzero().flatten().to(x.device))
        grid = sampling_grid(matrix[moving], size, projective=projective)
        out = empty_batch(x)
        out[moving] = F.grid_sample(x[moving], grid, mode=mode, padding_mode=pad_mode, align_corners=False)
        out[keep] = x[keep]
        return out
    out = _grid_sample(x, sampling_grid(matrix, size, projective=projective), mode, pad_mode)
    if n_identity:
        keep = identity.nonzero().flatten().to(x.device)
        out[keep] = x[keep]
    return out


# On one CPU thread, grid_sample runs on about this many input bytes at a time (at least one item), in channels-last
# layout: an item's colour values then share a cache line and the item stays in the core's cache while its output
# is gathered. Measured on a 64x3x224x224 batch (1 thread): 81 ms item by item against 150 ms in one call, the same
# values (test_grid.py::test_cpu_resampling_item_by_item_equals_one_grid_sample). With more threads every call is
# a parallel region of its own, and on a loaded machine 64 small regions took 3x longer than one big call.
_CHUNK_BYTES = 1 << 20
_CHUNKED_MIN_BYTES = 4 << 20  # smaller batches go in one call (per-call overhead would dominate)


def _grid_sample(x: torch.Tensor, grid: torch.Tensor, mode: str, pad_mode: str) -> torch.Tensor:
    """`F.grid_sample(x, grid, mode, pad_mode, align_corners=False)`: the same values, in a new batch.

    A large batch on a single CPU thread is sampled a few items at a time (see `_CHUNK_BYTES`) into one
    `empty_batch`; otherwise (more threads, small batches, CUDA where cuDNN may be picked) F.grid_sample as it is.
    """
    n, c = x.shape[:2]
    item_bytes = x[:1].numel() * x.element_size()
    if x.device.type != "cpu" or n * item_bytes < _CHUNKED_MIN_BYTES or torch.get_num_threads() > 1:
        return F.grid_sample(x, grid, mode=mode, padding_mode=pad_mode, align_corners=False)
    out = empty_batch(x, (n, c, *grid.shape[1:3]))
    step = max(1, _CHUNK_BYTES // item_bytes)
    for start in range(0, n, step):
        part = slice(start, start + step)
        items = x[part].contiguous(memory_format=torch.channels_last)
        out[part] = F.grid_sample(items, grid[part], mode=mode, padding_mode=pad_mode, align_corners=False)
    return out


def to_normalised(points: torch.Tensor, canvas_size: tuple[int, int]) -> torch.Tensor:
    """Pixel (x, y) coordinates (..., 2) on a canvas (h, w) to normalised -1..1 coordinates."""
    height, width = canvas_size
    scale = points.new_tensor([2 / width, 2 / height])
    return points * scale - 1


def to_pixels(points: torch.Tensor, canvas_size: tuple[int, int]) -> torch.Tensor:
    """Normalised (x, y) coordinates (..., 2) back to pixels on a canvas (h, w)."""
    height, width = canvas_size
    scale = points.new_tensor([width / 2, height / 2])
    return (points + 1) * scale


def map_points(points: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Move normalised points (n, k, 2) the way the content moves under sampling `matrix` (n, 3, 3).

    Content read from input location M @ p appears at p, so a point moves by M's inverse.
    """
    forward = torch.linalg.inv(matrix.double()).to(device=points.device)
    homogeneous = torch.cat([points.double(), torch.ones_like(points[..., :1], dtype=torch.float64)], -1)
    moved = homogeneous @ forward.transpose(1, 2)
    return (moved[..., :2] / moved[..., 2:]).to(points.dtype)


def map_boxes(boxes: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    """Move normalised boxes (n, k, 4) as x1, y1, x2, y2: map the 4 corners, take their bounding box."""
    x1, y1, x2, y2 = boxes.unbind(-1)
    corners = torch.stack(
        [torch.stack([x1, y1], -1), torch.stack([x2, y1], -1), torch.stack([x2, y2], -1), torch.stack([x1, y2], -1)],
        -2,
    )  # (n, k, 4, 2)
    n, k = boxes.shape[:2]
    moved = map_points(corners.reshape(n, k * 4, 2), matrix).view(n, k, 4, 2)
    return torch.cat([moved.amin(-2), moved.amax(-2)], -1)
