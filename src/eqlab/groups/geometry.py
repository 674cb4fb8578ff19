"""Affine maps of the plane as plain tuples: the arithmetic behind composing and naming elements.

A map ``g(u) = A u + t`` acts on pixel offsets ``u = (column, row)`` from the grid centre, rows
pointing down, and is stored as ``(a, b, c, d, tx, ty)`` with ``A = [[a, b], [c, d]]``. With this
convention the counter-clockwise rotation by θ (as seen on screen) is ``[[cos θ, sin θ], [-sin θ, cos θ]]``,
and composing ``compose(f, g)`` means "apply g, then f": ``u ↦ f(g(u))``. No tensors, no I/O.
"""

from __future__ import annotations

import math

Affine = tuple[float, float, float, float, float, float]
TOL = 1e-9  # entries this close to an integer are that integer (cos(π/2) ≈ 6e-17 is 0)

IDENTITY: Affine = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)

# The eight signed permutations of the axes: D4, the maps of a square grid onto itself.
D4_MATRICES: dict[str, tuple[int, int, int, int]] = {
    "identity": (1, 0, 0, 1),
    "rot90": (0, 1, -1, 0),
    "rot180": (-1, 0, 0, -1),
    "rot270": (0, -1, 1, 0),
    "hflip": (-1, 0, 0, 1),
    "vflip": (1, 0, 0, -1),
    "transpose": (0, 1, 1, 0),
    "antitranspose": (0, -1, -1, 0),
}


def snap(v: float) -> float:
    """``v`` rounded to the nearest integer when within ``TOL`` of it (and never ``-0.0``)."""
    r = round(v)
    return float(r) + 0.0 if abs(v - r) < TOL else v + 0.0


def fmt(v: float) -> str:
    """A short, re-parseable spelling of a parameter: integers without a point, else 12 digits."""
    v = snap(v)
    return str(int(v)) if v.is_integer() else f"{v:.12g}"


def compose(f: Affine, g: Affine) -> Affine:
    """``f ∘ g``: apply g, then f."""
    a1, b1, c1, d1, x1, y1 = f
    a2, b2, c2, d2, x2, y2 = g
    return (
        a1 * a2 + b1 * c2, a1 * b2 + b1 * d2, c1 * a2 + d1 * c2, c1 * b2 + d1 * d2,
        a1 * x2 + b1 * y2 + x1, c1 * x2 + d1 * y2 + y1,
    )  # fmt: skip


def invert(f: Affine) -> Affine:
    """``f⁻¹``; a singular matrix is a ``ValueError``."""
    a, b, c, d, x, y = f
    det = a * d - b * c
    if abs(det) < 1e-12:
        raise ValueError(f"the affine map {f} is not invertible")
    ia, ib, ic, id_ = d / det, -b / det, -c / det, a / det
    return (ia, ib, ic, id_, -(ia * x + ib * y), -(ic * x + id_ * y))


def snapped(f: Affine) -> Affine:
    """Every entry passed through :func:`snap`."""
    return tuple(snap(v) for v in f)  # type: ignore[return-value]


def d4_name(f: Affine) -> str | None:
    """The name of the signed permutation ``A`` of ``f`` (ignoring t), or None if A is not one."""
    m = tuple(snap(v) for v in f[:4])
    for name, q in D4_MATRICES.items():
        if m == tuple(float(e) for e in q):
            return name
    return None


def is_exact(f: Affine) -> bool:
    """Pixel centres go to pixel centres: A a signed permutation and t integer."""
    return d4_name(f) is not None and all(snap(v).is_integer() for v in f[4:])


def rotation_degrees(f: Affine) -> float | None:
    """The counter-clockwise angle in degrees ``[0, 360)`` if A is a rotation, else None."""
    a, b, c, d = f[:4]
    if abs(a - d) > TOL or abs(b + c) > TOL or abs(a * a + b * b - 1) > TOL:
        return None
    return math.degrees(math.atan2(b, a)) % 360.0


def d4(name: str) -> Affine:
    """The affine map of a named D4 element (t = 0)."""
    a, b, c, d = D4_MATRICES[name]
    return (float(a), float(b), float(c), float(d), 0.0, 0.0)


def rotation(degrees: float) -> Affine:
    """The counter-clockwise rotation, exact (integer entries) at multiples of 90°."""
    if degrees % 90 == 0:
        return d4(("identity", "rot90", "rot180", "rot270")[int(degrees % 360 // 90)])
    r = math.radians(degrees)
    c, s = math.cos(r), math.sin(r)
    return (c, s, -s, c, 0.0, 0.0)
