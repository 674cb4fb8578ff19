"""The extent of equivariance of group-pooled maps (IEN, Eqs. 6–7) — loss and metric in one place.

For a tap h with contiguous feature groups of size Λ, the pooled map ĥ takes the max over each
group. For a group element g the per-layer discrepancy is

    e_g = MSE( g⁻¹·ĥ(g·x), ĥ(x) )            (purely spatial action, no channel permutation)

computed inside ``g.valid_mask`` (all pixels for exact g). IEN's loss and its reported extent of
equivariance are L_G = Σ_{g∈G} e_g (the identity adds 0). The relative error
Σ_g ‖g⁻¹·ĥ(g·x) − ĥ(x)‖² / Σ_g ‖ĥ(x)‖² does not shrink when activations shrink.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from eqlab.groups import Layout, Transform, acts_on_block, group_pool


def stack_orbit(x: torch.Tensor, elements: Sequence[Transform]) -> torch.Tensor:
    """``[g_0·x; g_1·x; …]`` along the batch axis (g_0 is the identity)."""
    return torch.cat([g.apply(x) for g in elements], dim=0)


def layer_terms(
    h: torch.Tensor, elements: Sequence[Transform], group_size: int | Layout
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For a tap output on a stacked orbit ``(|G|·B, C, H, W)``, per non-identity g:
    summed squared error, summed squared reference and the element count (all shape ``(|G|-1,)``).

    With a heterogeneous layout each block of Λ-channel groups answers only for the elements of its
    own cyclic group (rotations by multiples of 360°/Λ); an element no block answers for counts 0.
    """
    n = len(elements)
    blocks = ((h.shape[1] // group_size, group_size),) if isinstance(group_size, int) else group_size
    full = max(g for _, g in blocks)
    pooled = group_pool(h, group_size)
    pooled = pooled.reshape(n, pooled.shape[0] // n, *pooled.shape[1:])
    hh, ww = pooled.shape[-2:]
    zero = h.new_zeros(())
    sq, rf, cnt = [zero] * (n - 1), [zero] * (n - 1), [zero] * (n - 1)
    start = 0
    for n_groups, gs in blocks:
        part = pooled[:, :, start : start + n_groups]
        start += n_groups
        ref = part[0]
        for i in range(1, n):
            g = elements[i]
            if not acts_on_block(g, gs, full):
                continue
            m = g.valid_mask(hh, ww, device=h.device).to(h.dtype)
            sq[i - 1] = sq[i - 1] + ((g.inverse().apply(part[i]) - ref) ** 2 * m).sum()
            rf[i - 1] = rf[i - 1] + (ref**2 * m).sum()
            cnt[i - 1] = cnt[i - 1] + m.sum() * ref.shape[0] * ref.shape[1]
    return torch.stack(sq), torch.stack(rf), torch.stack(cnt)


def equivariance_loss(
    taps_out: Sequence[torch.Tensor], elements: Sequence[Transform], group_sizes: Sequence[int | Layout]
) -> torch.Tensor:
    """L_G = Σ_layers Σ_g MSE (unweighted; the caller multiplies by β)."""
    total = taps_out[0].new_zeros(())
    for h, gs in zip(taps_out, group_sizes, strict=True):
        sq, _, cnt = layer_terms(h, elements, gs)
        total = total + (sq / cnt.clamp_min(1)).sum()
    return total


@dataclass
class EquivarianceAccumulator:
    """Accumulates per-layer, per-element sums over batches; ``result()`` gives abs and rel."""

    layers: Sequence[str]
    n_elements: int

    def __post_init__(self) -> None:
        k = self.n_elements - 1
        self.sq = {name: torch.zeros(k, dtype=torch.float64) for name in self.layers}
        self.rf = {name: torch.zeros(k, dtype=torch.float64) for name in self.layers}
        self.cnt = {name: torch.zeros(k, dtype=torch.float64) for name in self.layers}

    def add(
        self, taps_out: Sequence[torch.Tensor], elements: Sequence[Transform], group_sizes: Sequence[int | Layout]
    ) -> None:
        for name, h, gs in zip(self.layers, taps_out, group_sizes, strict=True):
            sq, rf, cnt = layer_terms(h.double(), elements, gs)
            self.sq[name] += sq.cpu()
            self.rf[name] += rf.cpu()
            self.cnt[name] += cnt.cpu()

    def result(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in self.layers:
            mse = self.sq[name] / self.cnt[name].clamp_min(1)
            out[name] = {
                "abs": float(mse.sum()),
                "rel": float(self.sq[name].sum() / self.rf[name].sum().clamp_min(1e-300)),
            }
        return out


@torch.no_grad()
def measure_equivariance(
    model, x: torch.Tensor, elements: Sequence[Transform], batch_size: int = 256, progress: str | None = None
) -> dict[str, dict[str, float]]:
    """Per-tap ``{'abs': L_G, 'rel': …}`` of ``model`` (put it in eval mode first) on images ``x``;
    ``progress``: the label of a bar over the batches (stderr), none when ``None``."""
    from tqdm.auto import tqdm

    group_sizes = [t.blocks for t in model.taps]
    acc = EquivarianceAccumulator([t.name for t in model.taps], len(elements))
    device = next(model.parameters()).device
    starts = range(0, len(x), batch_size)
    for i in tqdm(starts, desc=progress, unit="batch", disable=progress is None, leave=False):
        xb = x[i : i + batch_size].to(device)
        _, taps = model.forward_taps(stack_orbit(xb, elements))
        acc.add(taps, elements, group_sizes)
    return acc.result()
