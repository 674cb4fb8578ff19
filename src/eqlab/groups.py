"""Group actions on images and feature maps: one implementation for both.

Every function takes a ``(B, C, H, W)`` tensor and acts on the two trailing (spatial) axes about
the centre of the grid. Conventions (the same as ``torch.rot90`` on an image shown with row 0 at
the top):

* ``rot90(x, k)`` turns the content counter-clockwise by ``k`` quarter turns;
* ``rotate(x, θ)`` turns it counter-clockwise by ``θ`` radians, so ``rotate(x, π/2) ≈ rot90(x, 1)``;
* ``flip(x, 'h')`` mirrors left↔right, ``flip(x, 'v')`` top↔bottom, ``flip(x, 't')`` swaps rows and
  columns (transpose) and ``flip(x, 'a')`` mirrors about the other diagonal (anti-transpose) — with
  the quarter turns these eight exact maps are the dihedral group D4 (the paper's R4R);
* ``rescale(x, s)`` scales the content about the centre by ``s`` inside the same canvas.

A :class:`Transform` names one element g; ``g.apply(x)`` computes ``g·x`` with
``[g·x](u) = x(g⁻¹u)``. Applied to a feature map whose grid is centred on the image grid
(symmetric padding, even sizes at 2×2 pools) the same call is the spatial part ``P_g`` of the
induced action on features — the law checked by the tests is ``φ(g·x) = g·φ(x)`` for an
equivariant φ with a channel-wise (trivial) representation.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

Interp = Literal["nearest", "bilinear", "bicubic"]
INTERPOLATIONS: tuple[str, ...] = ("nearest", "bilinear", "bicubic")


def rot90(x: torch.Tensor, k: int) -> torch.Tensor:
    """Exact counter-clockwise rotation by ``k`` quarter turns of the last two axes."""
    return torch.rot90(x, k % 4, dims=(-2, -1))


FLIP_AXES: tuple[str, ...] = ("h", "v", "t", "a")


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


def _affine(
    x: torch.Tensor, inv: torch.Tensor, interp: Interp
) -> torch.Tensor:  # inv: (B, 2, 2) maps output pixel offsets to input pixel offsets
    if interp not in INTERPOLATIONS:
        raise ValueError(f"interpolation {interp!r}; allowed values: {list(INTERPOLATIONS)}")
    b, _, h, w = x.shape
    # normalised coords n = S^{-1} p with p pixel offsets from the centre, S = diag(w/2, h/2)
    s = torch.tensor([w / 2.0, h / 2.0], dtype=inv.dtype, device=inv.device)
    theta2 = inv * s.view(1, 1, 2) / s.view(1, 2, 1)  # S^{-1} inv S
    theta = torch.cat([theta2, torch.zeros(b, 2, 1, dtype=inv.dtype, device=inv.device)], dim=2)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode=interp, padding_mode="zeros", align_corners=False)


def _per_sample(value: float | torch.Tensor, b: int, dtype: torch.dtype, device) -> torch.Tensor:
    t = torch.as_tensor(value, dtype=torch.float64, device=device)
    if t.ndim == 0:
        t = t.expand(b)
    if t.shape != (b,):
        raise ValueError(f"expected a scalar or {b} per-sample values, got shape {tuple(t.shape)}")
    return t


def rotate(
    x: torch.Tensor, angle: float | torch.Tensor, interp: Interp = "bilinear"
) -> torch.Tensor:
    """Rotate counter-clockwise by ``angle`` radians (scalar or one per sample), zero fill."""
    b = x.shape[0]
    a = _per_sample(angle, b, x.dtype, x.device)
    c, s = torch.cos(a), torch.sin(a)
    # output offset p samples the input at R^{-1} p, R the counter-clockwise rotation in
    # (column, row) coordinates with rows pointing down: R = [[c, s], [-s, c]].
    inv = torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)
    return _affine(x, inv, interp)


def rescale(x: torch.Tensor, scale: float | torch.Tensor, interp: Interp = "bicubic") -> torch.Tensor:
    """Scale the content about the centre by ``scale`` (one or per sample) in the same canvas."""
    b = x.shape[0]
    sc = _per_sample(scale, b, x.dtype, x.device)
    if bool((sc <= 0).any()):
        raise ValueError("scale factors must be positive")
    eye = torch.eye(2, dtype=torch.float64, device=x.device).expand(b, 2, 2)
    return _affine(x, eye / sc.view(b, 1, 1), interp)


def circular_mask(h: int, w: int, device=None) -> torch.Tensor:
    """Boolean ``(h, w)`` mask of pixel centres inside the inscribed disk of the grid."""
    yy = torch.arange(h, device=device, dtype=torch.float64) - (h - 1) / 2
    xx = torch.arange(w, device=device, dtype=torch.float64) - (w - 1) / 2
    r = min(h, w) / 2
    return (yy.view(-1, 1) ** 2 + xx.view(1, -1) ** 2) <= r * r


Layout = tuple[tuple[int, int], ...]  # contiguous blocks of (n_groups, group_size) channels


def group_pool(h: torch.Tensor, group_size: int | Layout) -> torch.Tensor:
    """Max over each feature group of channels: ``(B, Σ n·Λ, H, W) → (B, Σ n, H, W)``.

    ``group_size`` is one Λ for every group, or a layout of blocks ``((n_1, Λ_1), (n_2, Λ_2), …)``
    for heterogeneous groups (Het-IEN), each block pooled over its own size.
    """
    b, c, *rest = h.shape
    if isinstance(group_size, int):
        if c % group_size:
            raise ValueError(f"{c} channels do not split into groups of {group_size}")
        return h.reshape(b, c // group_size, group_size, *rest).amax(dim=2)
    if sum(n * g for n, g in group_size) != c:
        raise ValueError(f"layout {group_size} covers {sum(n * g for n, g in group_size)} channels, not {c}")
    parts, start = [], 0
    for n, g in group_size:
        parts.append(h[:, start : start + n * g].reshape(b, n, g, *rest).amax(dim=2))
        start += n * g
    return torch.cat(parts, dim=1)


def het_layout(fields: int, sizes: tuple[int, ...]) -> Layout:
    """Het-IEN groups: half the ``fields`` at the largest size, a quarter at the next, …, the last
    size taking the rest (R4-2-1 → 69 % of R4's channels, R8-4-2-1 → 67 %, R8-4-2 → 69 %)."""
    if list(sizes) != sorted(sizes, reverse=True) or any(a % b for a, b in zip(sizes, sizes[1:])):
        raise ValueError(f"group sizes {sizes} must decrease, each dividing the one before")
    counts, left = [], fields
    for i, _ in enumerate(sizes):
        n = left if i == len(sizes) - 1 else max(1, round(fields / 2 ** (i + 1)))
        n = min(n, left)
        counts.append(n)
        left -= n
    return tuple((n, g) for n, g in zip(counts, sizes, strict=True) if n > 0)


def acts_on_block(g: Transform, group_size: int, full_size: int) -> bool:
    """Whether the equivariance of a block of ``group_size``-channel groups is asked for element g:
    all of G for full-size groups; rotations by multiples of 360°/Λ for smaller cyclic groups."""
    if group_size == full_size or g.kind == "identity":
        return True
    return g.kind == "rotate" and g.param % (360 / group_size) == 0


TransformKind = Literal["identity", "rotate", "flip", "scale"]
_ROT = re.compile(r"^rot(-?\d+)$")
_SCALE = re.compile(r"^scale(\d+(?:\.\d+)?)$")
_FLIPS = {"hflip": 0, "vflip": 1, "transpose": 2, "antitranspose": 3}
TRANSFORM_NAMES = ("identity, hflip, vflip, transpose, antitranspose, rot<degrees> (e.g. rot90, rot45), "
                   "scale<factor> (e.g. scale0.5)")


@dataclass(frozen=True)
class Transform:
    """One named group element g acting on ``(B, C, H, W)`` tensors."""

    name: str
    kind: TransformKind
    param: float = 0.0  # degrees for 'rotate', factor for 'scale', index into FLIP_AXES for 'flip'

    @property
    def exact(self) -> bool:
        """True when g maps pixel centres onto pixel centres (no interpolation)."""
        if self.kind == "rotate":
            return self.param % 90 == 0
        return self.kind in ("identity", "flip")

    def apply(self, x: torch.Tensor, interp: Interp = "bilinear") -> torch.Tensor:
        if self.kind == "identity":
            return x
        if self.kind == "flip":
            return flip(x, FLIP_AXES[int(self.param)])  # type: ignore[arg-type]
        if self.kind == "rotate":
            if self.exact:
                return rot90(x, int(self.param // 90))
            return rotate(x, math.radians(self.param), interp)
        return rescale(x, self.param, "bicubic" if interp == "bilinear" else interp)

    def inverse(self) -> Transform:
        if self.kind == "rotate":
            return get_transform(_rot_name(-self.param))
        if self.kind == "scale":
            return Transform(f"scale{1.0 / self.param:g}", "scale", 1.0 / self.param)
        return self

    def valid_mask(self, h: int, w: int, device=None) -> torch.Tensor:
        """Where both x and g·x carry content: all pixels for exact g, the inscribed disk for
        interpolated rotations, the shrunk canvas for scalings."""
        if self.exact:
            return torch.ones(h, w, dtype=torch.bool, device=device)
        if self.kind == "rotate":
            return circular_mask(h, w, device)
        s = min(self.param, 1.0 / self.param)
        yy = (torch.arange(h, device=device, dtype=torch.float64) - (h - 1) / 2).abs()
        xx = (torch.arange(w, device=device, dtype=torch.float64) - (w - 1) / 2).abs()
        return (yy.view(-1, 1) <= s * h / 2) & (xx.view(1, -1) <= s * w / 2)


def _rot_name(deg: float) -> str:
    d = int(round(deg)) % 360
    return "identity" if d == 0 else f"rot{d}"


def get_transform(name: str) -> Transform:
    """Parse a transform name; unknown names list the allowed forms."""
    if name == "identity":
        return Transform("identity", "identity")
    if name in _FLIPS:
        return Transform(name, "flip", float(_FLIPS[name]))
    m = _ROT.match(name)
    if m:
        deg = int(m.group(1))
        if deg % 360 == 0:
            return Transform("identity", "identity")
        return Transform(_rot_name(deg), "rotate", float(deg % 360))
    m = _SCALE.match(name)
    if m and float(m.group(1)) > 0:
        return Transform(name, "scale", float(m.group(1)))
    raise ValueError(f"unknown transform {name!r}; allowed: {TRANSFORM_NAMES}")


# Finite sets of transforms a model is trained against. r4 = C4, r8 = C8 (odd multiples of 45° are
# interpolated), r4r = D4 (the paper's "R4R": quarter turns and the four mirrors), scale = a discrete
# set of shrinkings about the centre (IEN's scale variant; not closed under composition in a finite
# canvas, so the loss compares inside the region where both maps carry content).
GROUPS: dict[str, tuple[str, ...]] = {
    "r1": ("identity",),
    "r2": ("identity", "rot180"),
    "r4": ("identity", "rot90", "rot180", "rot270"),
    "r8": tuple(_rot_name(45 * i) for i in range(8)),
    "r4r": ("identity", "rot90", "rot180", "rot270", "hflip", "vflip", "transpose", "antitranspose"),
    "scale": ("identity", "scale0.8", "scale0.64"),
}


def exact_elements(elements: tuple[Transform, ...]) -> tuple[Transform, ...]:
    """The elements that map pixel centres onto pixel centres (identity first), or all of them when
    only the identity is exact (scale): the set over which an exact model must read zero error."""
    exact = tuple(g for g in elements if g.exact)
    return exact if len(exact) > 1 else elements


def group_elements(group: str) -> tuple[Transform, ...]:
    """The elements of a named finite group, identity first."""
    if group not in GROUPS:
        raise ValueError(f"unknown group {group!r}; allowed values: {sorted(GROUPS)}")
    return tuple(get_transform(n) for n in GROUPS[group])
