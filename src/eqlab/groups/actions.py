"""Group actions on ``(B, C, H, W)`` tensors: pure functions on the two trailing (spatial) axes.

Every function acts about the centre of the grid, in pixel offsets ``u = (column, row)`` from that
centre with rows pointing down, and implements ``[g·x](u) = x(g⁻¹u)`` (the content moves by g).
Conventions (the same as ``torch.rot90`` on an image shown with row 0 at the top):

* ``rot90(x, k)`` turns the content counter-clockwise by ``k`` quarter turns;
* ``rotate(x, θ)`` turns it counter-clockwise by ``θ`` radians, so ``rotate(x, π/2) ≈ rot90(x, 1)``;
* ``flip(x, 'h')`` mirrors left↔right, ``flip(x, 'v')`` top↔bottom, ``flip(x, 't')`` swaps rows and
  columns (transpose) and ``flip(x, 'a')`` mirrors about the other diagonal (anti-transpose) — with
  the quarter turns these eight exact maps are the dihedral group D4 (the paper's R4R);
* ``rescale(x, s)`` scales the content about the centre by ``s`` inside the same canvas;
* ``translate(x, dx, dy)`` moves the content ``dx`` pixels right and ``dy`` down (sub-pixel allowed);
* ``shear(x, s)`` maps ``(column, row) ↦ (column + s·row, row)``: lower rows move right for ``s > 0``;
* ``shift(x, dx, dy)`` is the exact integer translation: zero-filled slicing, *not* ``torch.roll``
  (a roll wraps content around the border, which is not what the plane's translation does and not
  what the interpolated ``translate`` does: both fill with zeros, so they agree away from the border).

The continuous maps all go through one helper, :func:`affine_warp`, given the *inverse* map
``u ↦ M u + m`` (output pixel offset → sampled input offset) as in lie-deriv's transforms: each
action is a tiny function that builds a 2×2 matrix and a translation. Nothing here does I/O.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F

Interp = Literal["nearest", "bilinear", "bicubic"]
INTERPOLATIONS: tuple[str, ...] = ("nearest", "bilinear", "bicubic")
FLIP_AXES: tuple[str, ...] = ("h", "v", "t", "a")


def rot90(x: torch.Tensor, k: int) -> torch.Tensor:
    """Exact counter-clockwise rotation by ``k`` quarter turns of the last two axes."""
    return torch.rot90(x, k % 4, dims=(-2, -1))


def flip(x: torch.Tensor, axis: Literal["h", "v", "t", "a"]) -> torch.Tensor:
    """Exact mirror: ``'h'`` reverses columns (left↔right), ``'v'`` reverses rows, ``'t'`` is the
    transpose ``x[..., j, i]`` and ``'a'`` the anti-transpose ``x[..., W-1-j, H-1-i]`` (square grids)."""
    if axis == "h":
        return torch.flip(x, dims=(-1,))
    if axis == "v":
        return torch.flip(x, dims=(-2,))
    if axis in ("t", "a"):
        if x.shape[-1] != x.shape[-2]:
            raise ValueError(f"a diagonal mirror needs a square grid, got {tuple(x.shape[-2:])}")
        t = x.transpose(-2, -1)
        return t if axis == "t" else torch.flip(t, dims=(-2, -1))
    raise ValueError(f"flip axis {axis!r}; allowed values: {list(FLIP_AXES)}")


def shift(x: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Exact integer translation: ``[shift(x)](c, r) = x(c - dx, r - dy)``, zero outside the canvas.

    Zero-filled slicing (no ``torch.roll``: nothing wraps around). Bit-exact copies of the values."""
    if int(dx) != dx or int(dy) != dy:
        raise ValueError(f"shift needs integer pixels, got ({dx}, {dy}); use translate for sub-pixel moves")
    dx, dy = int(dx), int(dy)
    h, w = x.shape[-2:]
    out = torch.zeros_like(x)
    if abs(dx) >= w or abs(dy) >= h:
        return out
    out[..., max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = x[
        ..., max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
    ]
    return out


def affine_warp(
    x: torch.Tensor, inv: torch.Tensor, interp: Interp, inv_offset: torch.Tensor | None = None
) -> torch.Tensor:
    """The one warp behind every continuous action, zero fill.

    ``inv`` ``(B, 2, 2)`` and ``inv_offset`` ``(B, 2)`` (zeros when None) give, for each output pixel
    offset ``p`` from the grid centre in (column, row) pixels, the input offset ``inv·p + inv_offset``
    it samples: for ``g·x`` with ``g(u) = A u + t`` that is ``inv = A⁻¹``, ``inv_offset = -A⁻¹ t``.
    """
    if interp not in INTERPOLATIONS:
        raise ValueError(f"interpolation {interp!r}; allowed values: {list(INTERPOLATIONS)}")
    b, _, h, w = x.shape
    # normalised coords n = S^{-1} p with p pixel offsets from the centre, S = diag(w/2, h/2)
    s = torch.tensor([w / 2.0, h / 2.0], dtype=inv.dtype, device=inv.device)
    theta2 = inv * s.view(1, 1, 2) / s.view(1, 2, 1)  # S^{-1} inv S
    if inv_offset is None:
        col = torch.zeros(b, 2, 1, dtype=inv.dtype, device=inv.device)
    else:
        col = (inv_offset.to(inv.dtype) / s.view(1, 2)).view(b, 2, 1)  # S^{-1} inv_offset
    theta = torch.cat([theta2, col], dim=2)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=interp, padding_mode="zeros", align_corners=False)


def per_sample(value: float | torch.Tensor, b: int, device=None) -> torch.Tensor:
    """A scalar or ``b`` per-sample values as a float64 ``(b,)`` tensor."""
    t = torch.as_tensor(value, dtype=torch.float64, device=device)
    if t.ndim == 0:
        t = t.expand(b)
    if t.shape != (b,):
        raise ValueError(f"expected a scalar or {b} per-sample values, got shape {tuple(t.shape)}")
    return t


def rotate(x: torch.Tensor, angle: float | torch.Tensor, interp: Interp = "bilinear") -> torch.Tensor:
    """Rotate counter-clockwise by ``angle`` radians (scalar or one per sample), zero fill."""
    b = x.shape[0]
    a = per_sample(angle, b, x.device)
    c, s = torch.cos(a), torch.sin(a)
    # output offset p samples the input at R^{-1} p, R the counter-clockwise rotation in
    # (column, row) coordinates with rows pointing down: R = [[c, s], [-s, c]].
    inv = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return affine_warp(x, inv, interp)


def rescale(x: torch.Tensor, scale: float | torch.Tensor, interp: Interp = "bicubic") -> torch.Tensor:
    """Scale the content about the centre by ``scale`` (one or per sample) in the same canvas."""
    b = x.shape[0]
    sc = per_sample(scale, b, x.device)
    if bool((sc <= 0).any()):
        raise ValueError("scale factors must be positive")
    eye = torch.eye(2, dtype=torch.float64, device=x.device).expand(b, 2, 2)
    return affine_warp(x, eye / sc.view(b, 1, 1), interp)


def translate(
    x: torch.Tensor, dx: float | torch.Tensor, dy: float | torch.Tensor, interp: Interp = "bilinear"
) -> torch.Tensor:
    """Move the content ``dx`` pixels right and ``dy`` down (scalars or per sample), zero fill."""
    b = x.shape[0]
    off = torch.stack([-per_sample(dx, b, x.device), -per_sample(dy, b, x.device)], -1)
    eye = torch.eye(2, dtype=torch.float64, device=x.device).expand(b, 2, 2)
    return affine_warp(x, eye, interp, off)


def shear(x: torch.Tensor, s: float | torch.Tensor, interp: Interp = "bilinear") -> torch.Tensor:
    """Horizontal shear ``(column, row) ↦ (column + s·row, row)`` about the centre, zero fill."""
    b = x.shape[0]
    sv = per_sample(s, b, x.device)
    one, zero = torch.ones_like(sv), torch.zeros_like(sv)
    inv = torch.stack([torch.stack([one, -sv], -1), torch.stack([zero, one], -1)], -2)
    return affine_warp(x, inv, interp)


def affine(x: torch.Tensor, matrix: torch.Tensor, offset: torch.Tensor, interp: Interp = "bilinear") -> torch.Tensor:
    """``g·x`` for the affine map ``g(u) = matrix·u + offset`` (``(2, 2)`` and ``(2,)``, one for the
    batch), in (column, row) pixel offsets about the centre; zero fill."""
    b = x.shape[0]
    a = matrix.to(torch.float64)
    if bool(torch.det(a).abs() < 1e-12):
        raise ValueError(f"an affine action needs an invertible matrix, got {a.tolist()}")
    inv = torch.linalg.inv(a)
    inv_off = -(inv @ offset.to(torch.float64))
    return affine_warp(x, inv.expand(b, 2, 2), interp, inv_off.expand(b, 2))


def circular_mask(h: int, w: int, device=None) -> torch.Tensor:
    """Boolean ``(h, w)`` mask of pixel centres inside the inscribed disk of the grid."""
    yy = torch.arange(h, device=device, dtype=torch.float64) - (h - 1) / 2
    xx = torch.arange(w, device=device, dtype=torch.float64) - (w - 1) / 2
    r = min(h, w) / 2
    return (yy.view(-1, 1) ** 2 + xx.view(1, -1) ** 2) <= r * r
