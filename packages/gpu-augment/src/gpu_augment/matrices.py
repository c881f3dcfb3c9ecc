"""Batched 3x3 sampling matrices in normalised coordinates.

Conventions (used by every module of the package):

- Normalised coordinates follow `grid_sample(..., align_corners=False)`: the canvas spans -1..1 on
  each axis, so a pixel coordinate `x` (pixel centres at i + 0.5, canvas 0..w) is `2 * x / w - 1`.
- A *sampling matrix* `M` maps an output location to the input location it reads from (homogeneous,
  3x3, possibly projective). Applying transforms T1 then T2 samples through `M1 @ M2`.
- Points and boxes move the other way: they are mapped by `inverse(M)`.

All builders take per-item parameter tensors of shape (n,) and return (n, 3, 3).
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "identity_matrix",
    "flip_matrix",
    "dihedral_matrix",
    "rotation_matrix",
    "zoom_matrix",
    "crop_matrix",
    "perspective_matrix",
    "homography_from_points",
]


def identity_matrix(n: int, dtype: torch.dtype = torch.float32, device: torch.device | str = "cpu") -> torch.Tensor:
    """Return `n` identity matrices, the neutral element of composition."""
    return torch.eye(3, dtype=dtype, device=device).expand(n, 3, 3).clone()


def flip_matrix(flip_x: torch.Tensor, flip_y: torch.Tensor | None = None) -> torch.Tensor:
    """Mirror left-right where `flip_x` is true (and top-bottom where `flip_y` is); (n,) bools."""
    out = identity_matrix(flip_x.shape[0], device=flip_x.device)
    out[:, 0, 0] = 1 - 2 * flip_x.float()
    if flip_y is not None:
        out[:, 1, 1] = 1 - 2 * flip_y.float()
    return out


def dihedral_matrix(k: torch.Tensor) -> torch.Tensor:
    """One of the 8 symmetries of the square per item, `k` in 0..7.

    Bit 0 flips x, bit 1 flips y, bit 2 transposes (swaps x and y) after the flips. On a non-square
    canvas the transpose stretches the content to the canvas, as fastai's `Dihedral` does.
    """
    if k.numel() and (int(k.min()) < 0 or int(k.max()) > 7):
        raise ValueError(f"dihedral_matrix: k must be in 0..7, got values {k.unique().tolist()}")
    flips = flip_matrix(k & 1 == 1, k & 2 == 2)
    swap = (k & 4 == 4).float()
    transpose = identity_matrix(k.shape[0], device=k.device)
    transpose[:, 0, 0] = transpose[:, 1, 1] = 1 - swap
    transpose[:, 0, 1] = transpose[:, 1, 0] = swap
    return flips @ transpose


def rotation_matrix(degrees: torch.Tensor, canvas_size: tuple[int, int] | None = None) -> torch.Tensor:
    """Rotate by `degrees` (shape (n,)) about the centre, counter-clockwise in x-right/y-up terms.

    With `canvas_size` (h, w) the rotation is done in pixel units, so a non-square image turns
    without shearing; without it, in normalised units (square canvas).
    """
    theta = degrees.double() * (math.pi / 180)
    cos, sin = torch.cos(theta), torch.sin(theta)
    out = torch.zeros(degrees.shape[0], 3, 3, dtype=torch.float64, device=degrees.device)
    aspect = 1.0 if canvas_size is None else canvas_size[0] / canvas_size[1]  # h / w
    # D^-1 R D with D = diag(w, h): pixel-space rotation expressed in normalised coordinates.
    out[:, 0, 0], out[:, 0, 1] = cos, -sin * aspect
    out[:, 1, 0], out[:, 1, 1] = sin / aspect, cos
    out[:, 2, 2] = 1
    return out.to(degrees.dtype if degrees.is_floating_point() else torch.float32)


def zoom_matrix(scale: torch.Tensor, col_pct: torch.Tensor, row_pct: torch.Tensor) -> torch.Tensor:
    """Zoom in by `scale` (>= 1 magnifies) centred at (`col_pct`, `row_pct`) in 0..1 of the canvas."""
    inv = 1 / scale
    out = identity_matrix(scale.shape[0], dtype=scale.dtype, device=scale.device)
    out[:, 0, 0] = out[:, 1, 1] = inv
    out[:, 0, 2] = (1 - inv) * (2 * col_pct - 1)
    out[:, 1, 2] = (1 - inv) * (2 * row_pct - 1)
    return out


def crop_matrix(width: torch.Tensor, height: torch.Tensor, left: torch.Tensor, top: torch.Tensor) -> torch.Tensor:
    """Read the window (`left`, `top`, `width`, `height`), in fractions 0..1 of the canvas, onto the output."""
    out = identity_matrix(width.shape[0], dtype=width.dtype, device=width.device)
    out[:, 0, 0], out[:, 1, 1] = width, height
    out[:, 0, 2] = 2 * left + width - 1
    out[:, 1, 2] = 2 * top + height - 1
    return out


_CORNERS = ((-1.0, -1.0), (1.0, -1.0), (1.0, 1.0), (-1.0, 1.0))


def homography_from_points(src: torch.Tensor, dst: torch.Tensor) -> torch.Tensor:
    """Projective matrices mapping the 4 points `src` to `dst`, both (n, 4, 2); solved in float64."""
    n = src.shape[0]
    s, d = src.double(), dst.double()
    x, y, u, v = s[..., 0], s[..., 1], d[..., 0], d[..., 1]
    one, zero = torch.ones_like(x), torch.zeros_like(x)
    rows_u = torch.stack([x, y, one, zero, zero, zero, -u * x, -u * y], -1)
    rows_v = torch.stack([zero, zero, zero, x, y, one, -v * x, -v * y], -1)
    a = torch.cat([rows_u, rows_v], 1)  # (n, 8, 8)
    b = torch.cat([u, v], 1)  # (n, 8)
    h = torch.linalg.solve(a, b)
    return torch.cat([h, torch.ones(n, 1, dtype=h.dtype, device=h.device)], 1).view(n, 3, 3).to(src.dtype)


def perspective_matrix(magnitude_x: torch.Tensor, magnitude_y: torch.Tensor) -> torch.Tensor:
    """Keystone warp: `magnitude_y` narrows the top edge and widens the bottom (negative: the reverse),
    `magnitude_x` does the same to the left and right edges. Zero magnitudes give the identity."""
    corners = torch.tensor(_CORNERS, dtype=magnitude_x.dtype, device=magnitude_x.device)
    cx, cy = corners[:, 0], corners[:, 1]
    mx, my = magnitude_x[:, None], magnitude_y[:, None]
    dst = torch.stack([cx * (1 + my * cy), cy * (1 + mx * cx)], -1)
    return homography_from_points(corners.expand_as(dst), dst)
