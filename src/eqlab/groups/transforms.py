"""Named group elements: a :class:`Transform` g and its action ``[g·x](u) = x(g⁻¹u)`` on images.

Each element is an affine map ``g(u) = A u + t`` of pixel offsets ``u = (column, row)`` from the
grid centre, rows pointing down (:mod:`eqlab.groups.geometry`): ``rot90`` turns counter-clockwise as
``torch.rot90`` does and ``rot<θ>`` by θ degrees the same way. Applied to a feature map on a grid
centred on the image the same call is the spatial part ``P_g`` of the induced action, so the law the
tests check is ``φ(g·x) = ρ(g)·P_g·φ(x)`` (ρ in :mod:`eqlab.groups.reps`; P_g on other grids in
:mod:`eqlab.groups.grid`).

*Exact* elements map pixel centres to pixel centres (A a signed permutation, t integer): they act
by ``rot90``/``flip``/``shift`` and never interpolate, so composing and inverting them is bit-exact.
The others go through the one affine warp. ``a @ b`` (``a.compose(b)``) is "apply b, then a"; its
result gets the canonical name of the element it equals (``rot90 @ rot90`` is ``rot180``,
``hflip @ vflip`` is ``rot180``, ``rot30 @ rot15`` is ``rot45``) and ``get_transform(g.name) == g``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

import torch

from eqlab.groups import geometry as af
from eqlab.groups.actions import FLIP_AXES, Interp, affine, circular_mask, flip, rescale, rot90, rotate, shear, shift
from eqlab.groups.actions import translate as translate_action

TransformKind = Literal["identity", "rotate", "flip", "scale", "translate", "shear", "affine"]
_NUM = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_ROT = re.compile(rf"^rot({_NUM})$")
_SCALE = re.compile(rf"^scale({_NUM})$")
_SHEAR = re.compile(rf"^shear({_NUM})$")
_MOVE = re.compile(rf"^(shift|translate)({_NUM}),({_NUM})$")
_AFFINE = re.compile(rf"^affine{','.join([f'({_NUM})'] * 6)}$")
_FLIPS = {"hflip": 0, "vflip": 1, "transpose": 2, "antitranspose": 3}
TRANSFORM_NAMES = (
    "identity, hflip, vflip, transpose, antitranspose, rot<degrees> (e.g. rot90, rot45, rot22.5), "
    "scale<factor> (e.g. scale0.5), shift<dx>,<dy> (integer pixels right and down, exact, e.g. shift2,-1), "
    "translate<dx>,<dy> (sub-pixel, e.g. translate0.5,0), shear<s> ((column, row) -> (column + s*row, row), "
    "e.g. shear0.2), affine<a>,<b>,<c>,<d>,<tx>,<ty> (u -> [[a, b], [c, d]] u + t)"
)


@dataclass(frozen=True)
class Transform:
    """One named group element g acting on ``(B, C, H, W)`` tensors; compares and hashes by value."""

    name: str
    kind: TransformKind
    param: float = 0.0  # degrees for 'rotate', factor for 'scale', s for 'shear', index into FLIP_AXES for 'flip'
    params: tuple[float, ...] = ()  # (dx, dy) for 'translate', (a, b, c, d, tx, ty) for 'affine'

    @property
    def matrix(self) -> af.Affine:
        """``(a, b, c, d, tx, ty)``: g maps pixel offset u to ``[[a, b], [c, d]] u + (tx, ty)``."""
        if self.kind == "identity":
            return af.IDENTITY
        if self.kind == "flip":
            return af.d4(tuple(_FLIPS)[int(self.param)])
        if self.kind == "rotate":
            return af.rotation(self.param)
        if self.kind == "scale":
            return (self.param, 0.0, 0.0, self.param, 0.0, 0.0)
        if self.kind == "shear":
            return (1.0, self.param, 0.0, 1.0, 0.0, 0.0)
        if self.kind == "translate":
            return (1.0, 0.0, 0.0, 1.0, self.params[0], self.params[1])
        return self.params  # type: ignore[return-value]

    @property
    def exact(self) -> bool:
        """True when g maps pixel centres onto pixel centres (no interpolation)."""
        if self.kind == "rotate":
            return self.param % 90 == 0
        if self.kind in ("identity", "flip"):
            return True
        return self.kind != "scale" and af.is_exact(self.matrix)

    def apply(self, x: torch.Tensor, interp: Interp = "bilinear") -> torch.Tensor:
        """``g·x``; exact elements permute pixels, the others interpolate with ``interp`` (scalings
        use bicubic where ``interp`` is the default bilinear)."""
        if self.kind == "identity":
            return x
        if self.kind == "flip":
            return flip(x, FLIP_AXES[int(self.param)])  # type: ignore[arg-type]
        if self.kind == "rotate":
            if self.exact:
                return rot90(x, int(self.param // 90))
            return rotate(x, math.radians(self.param), interp)
        if self.kind == "scale":
            return rescale(x, self.param, "bicubic" if interp == "bilinear" else interp)
        m = self.matrix
        if self.exact:  # a D4 element, then an integer shift
            y = get_transform(af.d4_name(m) or "identity").apply(x)
            return shift(y, int(af.snap(m[4])), int(af.snap(m[5])))
        if self.kind == "translate":
            return translate_action(x, m[4], m[5], interp)
        if self.kind == "shear":
            return shear(x, self.param, interp)
        a = torch.tensor(m[:4], dtype=torch.float64, device=x.device).view(2, 2)
        return affine(x, a, torch.tensor(m[4:], dtype=torch.float64, device=x.device), interp)

    def inverse(self) -> Transform:
        """g⁻¹ (rotations and scalings named as they always were)."""
        if self.kind == "rotate":
            return get_transform(_rot_name(-self.param))
        if self.kind == "scale":
            return Transform(f"scale{1.0 / self.param:g}", "scale", 1.0 / self.param)
        if self.kind in ("identity", "flip"):
            return self
        return from_affine(af.invert(self.matrix))

    def compose(self, other: Transform) -> Transform:
        """``self ∘ other``: apply ``other``, then ``self``; canonically named."""
        return from_affine(af.compose(self.matrix, other.matrix))

    def __matmul__(self, other: Transform) -> Transform:
        return self.compose(other)

    def valid_mask(self, h: int, w: int, device=None) -> torch.Tensor:
        """Where both x and g·x carry content: all pixels for exact g without translation, the
        inscribed disk for interpolated rotations, the shrunk canvas for scalings; otherwise the
        pixel centres u with both g(u) and g⁻¹(u) inside the hull of the pixel centres."""
        if self.exact and self.matrix[4:] == (0.0, 0.0):
            return torch.ones(h, w, dtype=torch.bool, device=device)
        if self.kind == "rotate":
            return circular_mask(h, w, device)
        yy = torch.arange(h, device=device, dtype=torch.float64) - (h - 1) / 2
        xx = torch.arange(w, device=device, dtype=torch.float64) - (w - 1) / 2
        if self.kind == "scale":
            s = min(self.param, 1.0 / self.param)
            return (yy.abs().view(-1, 1) <= s * h / 2) & (xx.abs().view(1, -1) <= s * w / 2)
        yy, xx = yy.view(-1, 1), xx.view(1, -1)
        out = torch.ones(h, w, dtype=torch.bool, device=device)
        for a, b, c, d, tx, ty in (self.matrix, af.invert(self.matrix)):
            col, row = a * xx + b * yy + tx, c * xx + d * yy + ty
            out &= (col.abs() <= (w - 1) / 2 + af.TOL) & (row.abs() <= (h - 1) / 2 + af.TOL)
        return out


def _rot_name(deg: float) -> str:
    d = af.snap(deg % 360) % 360
    if d.is_integer():
        return "identity" if d == 0 else f"rot{int(d)}"
    return f"rot{af.fmt(d)}"


def _translation(dx: float, dy: float) -> Transform:
    dx, dy = float(af.fmt(dx)), float(af.fmt(dy))
    if dx == 0 and dy == 0:
        return Transform("identity", "identity")
    kind = "shift" if dx.is_integer() and dy.is_integer() else "translate"
    return Transform(f"{kind}{af.fmt(dx)},{af.fmt(dy)}", "translate", 0.0, (dx, dy))


def from_affine(f: af.Affine) -> Transform:
    """The element acting by ``u ↦ A u + t``, with its canonical name (a D4 name, ``rot<θ>``,
    ``scale<s>``, ``shear<s>``, ``shift``/``translate``, else ``affine<a>,<b>,<c>,<d>,<tx>,<ty>``)."""
    a, b, c, d, tx, ty = f = af.snapped(f)
    if tx == 0 and ty == 0:
        if af.d4_name(f) is not None:
            return get_transform(af.d4_name(f))  # type: ignore[arg-type]
        deg = af.rotation_degrees(f)
        if deg is not None:
            return get_transform(_rot_name(deg))
        if b == 0 and c == 0 and abs(a - d) < af.TOL and a > 0:
            return get_transform(f"scale{af.fmt(a)}")
        if a == 1 and d == 1 and c == 0:
            return get_transform(f"shear{af.fmt(b)}")
    elif (a, b, c, d) == (1.0, 0.0, 0.0, 1.0):
        return _translation(tx, ty)
    af.invert(f)  # a singular map is no group element: ValueError
    values = tuple(float(af.fmt(v)) for v in f)
    return Transform("affine" + ",".join(af.fmt(v) for v in values), "affine", 0.0, values)


def get_transform(name: str) -> Transform:
    """Parse a transform name; unknown names list the allowed forms."""
    if name == "identity":
        return Transform("identity", "identity")
    if name in _FLIPS:
        return Transform(name, "flip", float(_FLIPS[name]))
    m = _ROT.match(name)
    if m:
        deg = float(m.group(1))
        if deg.is_integer():  # the historical path: integer degrees, name and param mod 360
            d = int(deg)
            return (
                Transform("identity", "identity") if d % 360 == 0 else Transform(_rot_name(d), "rotate", float(d % 360))
            )
        canonical = _rot_name(deg)
        return get_transform(canonical) if canonical != name else Transform(name, "rotate", float(name[3:]))
    m = _SCALE.match(name)
    if m and float(m.group(1)) > 0:
        return Transform(name, "scale", float(m.group(1)))
    m = _SHEAR.match(name)
    if m:
        s = float(af.fmt(float(m.group(1))))
        return Transform("identity", "identity") if s == 0 else Transform(f"shear{af.fmt(s)}", "shear", s)
    m = _MOVE.match(name)
    if m:
        dx, dy = float(m.group(2)), float(m.group(3))
        if m.group(1) == "shift" and not (dx.is_integer() and dy.is_integer()):
            raise ValueError(f"{name!r}: shift takes integer pixels; use translate<dx>,<dy> for sub-pixel moves")
        return _translation(dx, dy)
    m = _AFFINE.match(name)
    if m:
        return from_affine(tuple(float(v) for v in m.groups()))  # type: ignore[arg-type]
    raise ValueError(f"unknown transform {name!r}; allowed: {TRANSFORM_NAMES}")
