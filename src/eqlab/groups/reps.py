"""Channel representations ρ: how g permutes the channels of a feature map.

The action of g on a feature map is ``ρ(g)∘P_g`` — P_g moves pixels (:mod:`eqlab.groups.grid`),
ρ(g) mixes channels at each pixel — and an equivariant φ satisfies ``φ(g·x) = ρ(g)·P_g·φ(x)``.

* :data:`TRIVIAL` — every channel a scalar field, ``ρ(g) = I`` (the law IEN's pooled maps obey).
* :func:`regular` — each field is ``|G|`` contiguous channels indexed by a *basis* of group elements
  ``(b_0, …, b_{n-1})``, and ``ρ(g) e_j = e_k`` with ``b_k = g∘b_j`` (channel j goes to channel k).
  With the basis in e2cnn's element order this is e2cnn's ``regular_representation`` exactly: for
  ``Rot2dOnR2(N)`` element k is ``rot(360k/N)`` counter-clockwise (so ρ(rot90) on C4 moves channel
  j to j+1 mod 4), for ``FlipRot2dOnR2(N)`` (axis π/2) element ``(f, k)`` at index ``f·N + k`` is
  ``rot(360k/N) ∘ hflip^f`` — for D4: identity, rot90, rot180, rot270, hflip, transpose, vflip,
  antitranspose (see :mod:`eqlab.groups.registry`; the tests compare with e2cnn's matrices).
* :func:`permutation` — any given permutation per element with the same convention, e.g. the
  orientation bins of a HOG cell (n unsigned bins over 180°: rot90 moves bin j to j + n/2 mod n).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch

from eqlab.groups.actions import Interp
from eqlab.groups.grid import Grid
from eqlab.groups.transforms import Transform, get_transform


class Rep(Protocol):
    """A representation of group elements on the channel axis of ``(B, C, H, W)`` tensors."""

    def act(self, h: torch.Tensor, g: Transform) -> torch.Tensor: ...


@dataclass(frozen=True)
class TrivialRep:
    """ρ(g) = I: every channel is a scalar field."""

    name: str = "trivial"

    def act(self, h: torch.Tensor, g: Transform) -> torch.Tensor:
        return h


TRIVIAL = TrivialRep()


@dataclass(frozen=True)
class PermutationRep:
    """Fields of ``size`` contiguous channels; ``ρ(g) e_j = e_{perms[i][j]}`` for ``g = elements[i]``."""

    elements: tuple[Transform, ...]
    perms: tuple[tuple[int, ...], ...]
    name: str = "permutation"

    def __post_init__(self) -> None:
        if not self.elements or len(self.elements) != len(self.perms):
            raise ValueError(f"{len(self.elements)} elements but {len(self.perms)} permutations")
        n = len(self.perms[0])
        for g, p in zip(self.elements, self.perms, strict=True):
            if sorted(p) != list(range(n)):
                raise ValueError(f"the permutation for {g.name} is {p}, not a permutation of range({n})")

    @property
    def size(self) -> int:
        return len(self.perms[0])

    def perm(self, g: Transform) -> tuple[int, ...]:
        """Where each channel of a field goes under g."""
        if g not in self.elements:
            raise ValueError(
                f"{self.name} representation has no {g.name!r}; allowed values: {[e.name for e in self.elements]}"
            )
        return self.perms[self.elements.index(g)]

    def matrix(self, g: Transform) -> torch.Tensor:
        """ρ(g) as a ``(size, size)`` float64 permutation matrix (column j has its 1 in row perm[j])."""
        m = torch.zeros(self.size, self.size, dtype=torch.float64)
        m[list(self.perm(g)), list(range(self.size))] = 1.0
        return m

    def act(self, h: torch.Tensor, g: Transform) -> torch.Tensor:
        """``ρ(g)`` on every field of ``h`` (an exact gather of channels)."""
        b, c, *rest = h.shape
        n = self.size
        if c % n:
            raise ValueError(f"{c} channels do not split into {self.name} fields of {n}")
        src = [0] * n
        for j, k in enumerate(self.perm(g)):
            src[k] = j  # output channel k reads input channel j
        idx = torch.tensor(src, device=h.device)
        return h.reshape(b, c // n, n, *rest).index_select(2, idx).reshape(h.shape)


def regular(basis: Sequence[Transform], name: str = "regular") -> PermutationRep:
    """The regular representation on fields indexed by ``basis`` (a group, identity first)."""
    basis = tuple(basis)
    perms = []
    for g in basis:
        p = []
        for b in basis:
            gb = g @ b
            if gb not in basis:
                raise ValueError(f"{g.name} ∘ {b.name} = {gb.name} is not in {[e.name for e in basis]}: not a group")
            p.append(basis.index(gb))
        perms.append(tuple(p))
    return PermutationRep(basis, tuple(perms), name)


def permutation(perms: Mapping[str | Transform, Sequence[int]], name: str = "permutation") -> PermutationRep:
    """A representation given by one permutation per element (names or Transforms)."""
    elements = tuple(get_transform(g) if isinstance(g, str) else g for g in perms)
    return PermutationRep(elements, tuple(tuple(int(i) for i in p) for p in perms.values()), name)


def act_on_features(
    h: torch.Tensor,
    g: Transform,
    rep: Rep = TRIVIAL,
    grid: Grid | None = None,
    image_size: tuple[int, int] | None = None,
    interp: Interp = "bilinear",
    require_exact: bool = False,
) -> torch.Tensor:
    """``ρ(g)·P_g·h``: P_g is g itself when ``grid`` is None (a grid centred on the image), else
    ``grid.transform(g, image_size, h's size)``."""
    spatial = g
    if grid is not None:
        if image_size is None:
            raise ValueError("act_on_features with a grid needs the image_size (h, w) it sits on")
        spatial = grid.transform(g, image_size, tuple(h.shape[-2:]), require_exact)  # type: ignore[arg-type]
    return rep.act(spatial.apply(h, interp), g)
