"""Group pooling over contiguous channel groups (IEN): the max over a regular field is invariant to
the permutation ρ(g) acts by, so a pooled map transforms by P_g alone: φ̂(g·x) = P_g·φ̂(x)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from eqlab.groups.transforms import Transform


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
