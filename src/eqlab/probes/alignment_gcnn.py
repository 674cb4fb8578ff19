"""The G-CNN check of :mod:`eqlab.probes.alignment` (Jansson et al., claim 4): a C4 group-convolution network
with regular fields is rot90-equivariant, Λ(R f) = ρ(R) R Λ(f), so a purely spatial warp leaves the channel
permutation ρ in place and aligns only together with it."""

from __future__ import annotations

from typing import Any

import torch

from eqlab.groups import regular, rot90
from eqlab.groups.transforms import Transform
from eqlab.probes.alignment import C4, AlignmentConfig, Features, Network, _layer, _row, check_spread, relative

C4_REGULAR = regular(C4, "C4 regular")


def c4_lift(w: torch.Tensor) -> torch.Tensor:
    """Lifting to regular C4 fields: ``(F, C, k, k)`` → ``(4F, C, k, k)``, channel ``4f + r`` = ``R^r w_f``."""
    return torch.stack([rot90(w, r) for r in range(4)], 1).flatten(0, 1)


def c4_group(w: torch.Tensor) -> torch.Tensor:
    """Regular → regular C4 convolution: ``(F, F', 4, k, k)`` → ``(4F, 4F', k, k)`` with block
    ``[(f, r), (f', s)] = R^r w[f, f', (s − r) mod 4]``; then ``Λ(R f) = ρ(R) R Λ(f)``, ρ moving orientation
    channel r to r + 1 (eqlab's regular representation of C4)."""
    f_out, f_in, _, k, _ = w.shape
    out = torch.empty(f_out, 4, f_in, 4, k, k, dtype=w.dtype)
    for r in range(4):
        for s in range(4):
            out[:, r, :, s] = rot90(w[:, :, (s - r) % 4], r)
    return out.reshape(4 * f_out, 4 * f_in, k, k)


def gcnn(cfg: AlignmentConfig, gen: torch.Generator) -> Network:
    """A C4 G-CNN with ``max(1, channels // 4)`` regular fields per layer and random spread-guarded
    filters; biases shared by the four channels of a field (so pointwise σ keeps the equivariance)."""
    fields, k = max(1, cfg.channels // 4), cfg.kernel
    layers = []
    for i in range(cfg.depth):
        base = torch.randn(fields, 1 if i == 0 else fields, *(() if i == 0 else (4,)), k, k, generator=gen,
                           dtype=torch.float64)  # fmt: skip
        check_spread(base.reshape(fields, -1, k, k), cfg.min_spread, f"G-CNN layer {i + 1}")
        w, b = _layer(c4_lift(base) if i == 0 else c4_group(base), cfg.bias_scale, gen)
        layers.append((w, b.view(fields, 4)[:, :1].expand(fields, 4).reshape(-1)))
    return tuple(layers)


def gcnn_rows(ft: Features, h: Transform, c: int) -> list[dict[str, Any]]:
    """The G-CNN under h (a C4 element): ``aligned`` (spatial T_h⁻¹ only), ``aligned+permutation``
    (``ρ(h⁻¹) T_h⁻¹``, the action on regular fields) and ``unaligned``."""
    hi = h.inverse()
    rows = []
    for i, (r, z, m) in enumerate(zip(ft.ref, ft.zero, ft.moved, strict=True), 1):
        for kind, warp, a in (("aligned", hi.name, hi.apply(m)),
                              ("aligned+permutation", f"ρ({hi.name}) ∘ {hi.name}", C4_REGULAR.act(hi.apply(m), hi)),
                              ("unaligned", "identity", m)):  # fmt: skip
            rows.append(_row("gcnn", "gcnn_c4", h.name, kind, warp, 0.0, i, relative(a, r, r, z, c), c))
    return rows
