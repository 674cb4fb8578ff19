"""Chance references for the extent of equivariance: what "no equivariance" and "invariant" score.

A relative equivariance error means little alone: two models that are not equivariant at all can
still differ in it (one has larger or more input-independent activations). So beside the error

    rel       = Σ_g ‖g⁻¹·ĥ(g·x) − ĥ(x)‖² / Σ_g ‖ĥ(x)‖²

the probe reports, on the same images, taps and elements (masks as in :mod:`eqlab.metrics.equivariance`):

- ``rel_unrelated``: the same quantity with g·x replaced by g·x′, x′ an *unrelated* test image (the
  next image of the batch): the level of a map that carries no information about how x moved, the
  "no equivariance" level;
- ``rel_invariant``: Σ_g ‖g⁻¹·ĥ(x) − ĥ(x)‖² / Σ_g ‖ĥ(x)‖², the error of a model whose maps ignore the
  transformation of the input (ĥ(g·x) = ĥ(x)), the "invariant input" level;
- the same three divided by the *across-image variance* Σ_g Σ_x ‖ĥ(x) − E_x ĥ‖² instead of the energy
  (``rel_var``, ``rel_var_unrelated``, ``rel_var_invariant``): a normalisation that does not reward
  maps whose content does not depend on the input (a large constant part inflates ‖ĥ‖² but not the
  variance). For independent images of one distribution ``rel_var_unrelated`` ≈ 2.

For a heterogeneous (Het-IEN) tap, ``abs`` and ``rel`` follow the training loss: each block of
Λ-channel groups answers only for the rotations of its own cyclic group. ``abs_full`` and ``rel_full``
read the same tap as one C4 layer, every block answering for every element (the "full C4 metric").

A model is more equivariant than chance at a tap only if its error lies clearly below *both*
references (see :func:`eqlab.report.chance`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from eqlab.groups import Layout, Transform, acts_on_block, group_pool
from eqlab.metrics.equivariance import EquivarianceAccumulator, stack_orbit

CHANCE_METRICS = ("rel_unrelated", "rel_invariant", "rel_var", "rel_var_unrelated", "rel_var_invariant")
HET_METRICS = ("abs_full", "rel_full")  # heterogeneous taps only


def _blocks(n_channels: int, group_size: int | Layout) -> tuple[tuple[int, int], ...]:
    return ((n_channels // group_size, group_size),) if isinstance(group_size, int) else tuple(group_size)


def element_masks(
    elements: Sequence[Transform], group_size: int | Layout, n_channels: int, hh: int, ww: int, device=None
) -> torch.Tensor:
    """``(|G|-1, C_pooled, H, W)`` float64 masks: for each non-identity g, its valid pixels on the
    pooled channels of the blocks that answer for g (zero elsewhere: a heterogeneous block of smaller
    groups does not answer for every rotation)."""
    blocks = _blocks(n_channels, group_size)
    full = max(g for _, g in blocks)
    n_pooled = sum(n for n, _ in blocks)
    out = torch.zeros(len(elements) - 1, n_pooled, hh, ww, dtype=torch.float64, device=device)
    for i, g in enumerate(elements[1:]):
        spatial = g.valid_mask(hh, ww, device=device).to(torch.float64)
        start = 0
        for n_groups, gs in blocks:
            if acts_on_block(g, gs, full):
                out[i, start : start + n_groups] = spatial
            start += n_groups
    return out


@dataclass
class ChanceAccumulator:
    """Per tap and non-identity element: the error and both chance errors, the energy, and the
    first two moments of ĥ(x) over images (for the variance normalisation); float64."""

    layers: Sequence[str]
    n_elements: int
    sums: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)
    masks: dict[str, torch.Tensor] = field(default_factory=dict)
    n_images: int = 0

    def add(self, taps_out: Sequence[torch.Tensor], elements: Sequence[Transform],
            group_sizes: Sequence[int | Layout]) -> None:
        """``taps_out``: tap outputs on a stacked orbit ``(|G|·B, C, H, W)`` with B ≥ 2."""
        n = len(elements)
        for name, h, gs in zip(self.layers, taps_out, group_sizes, strict=True):
            pooled = group_pool(h.double(), gs)
            pooled = pooled.reshape(n, pooled.shape[0] // n, *pooled.shape[1:])
            b = pooled.shape[1]
            if b < 2:
                raise ValueError(f"the unrelated-image reference needs batches of ≥ 2 images, got {b}")
            if name not in self.masks:
                self.masks[name] = element_masks(elements, gs, h.shape[1], *pooled.shape[-2:], device=h.device)
                zeros = torch.zeros(n - 1, dtype=torch.float64)
                self.sums[name] = {k: zeros.clone() for k in ("sq", "ref", "unrelated", "invariant")}
                self.sums[name].update(s1=0.0, s2=0.0)
                if len({size for _, size in _blocks(h.shape[1], gs)}) > 1:
                    self.sums[name].update({k: zeros.clone() for k in ("full_sq", "full_ref", "full_cnt")})
            masks, acc = self.masks[name], self.sums[name]
            ref = pooled[0]
            for i, g in enumerate(elements[1:]):
                m = masks[i]
                back = g.inverse().apply(pooled[i + 1])
                acc["sq"][i] += float((((back - ref) ** 2) * m).sum())
                acc["ref"][i] += float(((ref**2) * m).sum())
                acc["unrelated"][i] += float((((back.roll(1, dims=0) - ref) ** 2) * m).sum())
                acc["invariant"][i] += float((((g.inverse().apply(ref) - ref) ** 2) * m).sum())
                if "full_sq" in acc:  # Het-IEN read as one C4 layer: every block answers for every g
                    full = g.valid_mask(*pooled.shape[-2:], device=h.device).to(torch.float64)
                    acc["full_sq"][i] += float((((back - ref) ** 2) * full).sum())
                    acc["full_ref"][i] += float(((ref**2) * full).sum())
                    acc["full_cnt"][i] += float(full.sum()) * ref.shape[0] * ref.shape[1]
            acc["s1"] = acc["s1"] + ref.sum(0)
            acc["s2"] = acc["s2"] + (ref**2).sum(0)
        self.n_images += taps_out[0].shape[0] // n

    def result(self) -> dict[str, dict[str, float]]:
        """Per tap, the values of :data:`CHANCE_METRICS`."""
        out = {}
        for name in self.layers:
            acc, masks, n = self.sums[name], self.masks[name], self.n_images
            var_map = (acc["s2"] - acc["s1"] ** 2 / n).clamp_min(0)  # Σ_x (ĥ − mean)² per channel and pixel
            var = float((masks * var_map).sum())
            energy = float(acc["ref"].sum())
            sq, un, inv = (float(acc[k].sum()) for k in ("sq", "unrelated", "invariant"))
            out[name] = {
                "rel_unrelated": un / max(energy, 1e-300),
                "rel_invariant": inv / max(energy, 1e-300),
                "rel_var": sq / max(var, 1e-300),
                "rel_var_unrelated": un / max(var, 1e-300),
                "rel_var_invariant": inv / max(var, 1e-300),
            }
            if "full_sq" in acc:
                out[name]["abs_full"] = float((acc["full_sq"] / acc["full_cnt"].clamp_min(1)).sum())
                out[name]["rel_full"] = float(acc["full_sq"].sum() / acc["full_ref"].sum().clamp_min(1e-300))
        return out


def batch_starts(n: int, batch_size: int) -> list[tuple[int, int]]:
    """``[(start, stop), …]`` covering ``range(n)`` in batches of ``batch_size``, a trailing single image
    joined to the batch before it (the unrelated reference pairs images within a batch)."""
    if n < 2:
        raise ValueError(f"the chance references need ≥ 2 images, got {n}")
    spans = [(i, min(i + batch_size, n)) for i in range(0, n, batch_size)]
    if len(spans) > 1 and spans[-1][1] - spans[-1][0] == 1:
        spans[-2:] = [(spans[-2][0], n)]
    return spans


@torch.no_grad()
def measure_with_chance(
    model, x: torch.Tensor, elements: Sequence[Transform], batch_size: int = 256, progress: str | None = None
) -> dict[str, dict[str, float]]:
    """Per tap ``{'abs', 'rel', *CHANCE_METRICS}`` of ``model`` (eval mode) on images ``x`` over
    ``elements`` (the identity first), from one forward pass of each orbit batch. ``abs`` and ``rel`` are
    computed exactly as :func:`eqlab.metrics.equivariance.measure_equivariance` computes them."""
    from tqdm.auto import tqdm

    group_sizes = [t.blocks for t in model.taps]
    names = [t.name for t in model.taps]
    extent = EquivarianceAccumulator(names, len(elements))
    chance = ChanceAccumulator(names, len(elements))
    device = next(model.parameters()).device
    for start, stop in tqdm(batch_starts(len(x), batch_size), desc=progress, unit="batch",
                            disable=progress is None, leave=False):
        _, taps = model.forward_taps(stack_orbit(x[start:stop].to(device), elements))
        extent.add(taps, elements, group_sizes)
        chance.add(taps, elements, group_sizes)
    ext, ch = extent.result(), chance.result()
    return {name: {**ext[name], **ch[name]} for name in names}
