"""The one registry of finite groups a model is trained and measured against.

Each :class:`GroupSpec` lists its elements (identity first, in the order the pipeline has always
used), its e2cnn action on the plane and the regular representation of its fields, whose basis is
e2cnn's element order so that ``φ(g·x) = ρ(g)·P_g·φ(x)`` holds for e2cnn's regular fields:

* ``r1`` — the trivial group, ``("trivial", 1)`` (e2cnn's ``TrivialOnR2``);
* ``r2``, ``r4``, ``r8`` — C_N, ``("rot2d", N)``; e2cnn element k is ``rot(360k/N)``.
  In r8 the odd multiples of 45° are interpolated; its exact part is C4 (ρ(rot90) moves 2 channels).
* ``r4r`` — D4 (the paper's "R4R"): quarter turns and the four mirrors, ``("fliprot2d", 4)``;
  e2cnn element ``(f, k)`` is ``rot(90k) ∘ hflip^f``, so the field order is identity, rot90, rot180,
  rot270, hflip, transpose, vflip, antitranspose (the element order stays the historical one).
* ``scale`` — identity and two shrinkings about the centre (IEN's scale variant): not closed under
  composition in a finite canvas, no regular representation, no e2cnn action; the loss compares
  inside the region where both maps carry content.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eqlab.groups.reps import PermutationRep, regular
from eqlab.groups.transforms import Transform, _rot_name, get_transform


@dataclass(frozen=True)
class GroupSpec:
    """A named finite set of transforms with its e2cnn space and regular representation."""

    name: str
    elements: tuple[Transform, ...]
    e2cnn: tuple[str, int] | None = None  # ("trivial", 1), ("rot2d", N) or ("fliprot2d", N)
    regular: PermutationRep | None = None

    @property
    def size(self) -> int:
        return len(self.elements)

    @property
    def exact(self) -> tuple[Transform, ...]:
        """The elements that map pixel centres onto pixel centres (identity first)."""
        return tuple(g for g in self.elements if g.exact)

    @property
    def closed(self) -> bool:
        """Whether every composition of two elements is an element."""
        return all(a @ b in self.elements for a in self.elements for b in self.elements)


def _spec(name: str, names: tuple[str, ...], e2cnn: tuple[str, int] | None, basis: tuple[str, ...] | None) -> GroupSpec:
    rep = regular(tuple(get_transform(n) for n in basis), f"regular {name}") if basis is not None else None
    return GroupSpec(name, tuple(get_transform(n) for n in names), e2cnn, rep)


_C4 = ("identity", "rot90", "rot180", "rot270")
_C8 = tuple(_rot_name(45 * i) for i in range(8))
E2CNN_D4_ORDER = (*_C4, "hflip", "transpose", "vflip", "antitranspose")

GROUP_SPECS: dict[str, GroupSpec] = {
    s.name: s
    for s in (
        _spec("r1", ("identity",), ("trivial", 1), ("identity",)),
        _spec("r2", ("identity", "rot180"), ("rot2d", 2), ("identity", "rot180")),
        _spec("r4", _C4, ("rot2d", 4), _C4),
        _spec("r8", _C8, ("rot2d", 8), _C8),
        _spec("r4r", (*_C4, "hflip", "vflip", "transpose", "antitranspose"), ("fliprot2d", 4), E2CNN_D4_ORDER),
        _spec("scale", ("identity", "scale0.8", "scale0.64"), None, None),
    )
}

# Element names per group, as the pipeline has always read them.
GROUPS: dict[str, tuple[str, ...]] = {n: tuple(g.name for g in s.elements) for n, s in GROUP_SPECS.items()}


def group_spec(group: str) -> GroupSpec:
    """The registry entry of a named group; unknown names list the allowed ones."""
    if group not in GROUP_SPECS:
        raise ValueError(f"unknown group {group!r}; allowed values: {sorted(GROUP_SPECS)}")
    return GROUP_SPECS[group]


def group_elements(group: str) -> tuple[Transform, ...]:
    """The elements of a named finite group, identity first."""
    return group_spec(group).elements


def exact_elements(elements: tuple[Transform, ...]) -> tuple[Transform, ...]:
    """The elements that map pixel centres onto pixel centres (identity first), or all of them when
    only the identity is exact (scale): the set over which an exact model must read zero error."""
    exact = tuple(g for g in elements if g.exact)
    return exact if len(exact) > 1 else elements


def e2cnn_gspace(group: str) -> Any:
    """The e2cnn gspace of a named group (``TrivialOnR2`` / ``Rot2dOnR2(N)`` / ``FlipRot2dOnR2(N)``), imported lazily
    (e2cnn is a heavy import); groups without one list those that have one."""
    spec = group_spec(group)
    if spec.e2cnn is None:
        raise ValueError(
            f"group {group!r} has no e2cnn action; allowed values: "
            f"{sorted(n for n, s in GROUP_SPECS.items() if s.e2cnn)}"
        )
    from e2cnn import gspaces

    from eqlab.e2compat import patch_e2cnn

    patch_e2cnn()  # NumPy 2: needed for the flip groups' kernels

    kind, n = spec.e2cnn
    if kind == "trivial":  # e2cnn's Rot2dOnR2 needs N > 1
        return gspaces.TrivialOnR2()
    return gspaces.Rot2dOnR2(N=n) if kind == "rot2d" else gspaces.FlipRot2dOnR2(N=n)
