"""The tapped-model contract shared by every architecture."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eqlab.groups import Layout, het_layout


@dataclass(frozen=True)
class Tap:
    """A named layer output whose channels form contiguous feature groups.

    Homogeneous: ``channels = n_groups × group_size``. Heterogeneous (Het-IEN): ``layout`` lists
    blocks ``(n_groups, group_size)`` in channel order and ``group_size`` is the largest size.
    """

    name: str
    channels: int
    group_size: int
    layout: tuple[tuple[int, int], ...] | None = None

    @property
    def blocks(self) -> tuple[tuple[int, int], ...]:
        return self.layout if self.layout is not None else ((self.channels // self.group_size, self.group_size),)

    @property
    def n_groups(self) -> int:
        return sum(n for n, _ in self.blocks)


def channel_layouts(
    fields: tuple[int, ...], het: tuple[int, ...] | None, group_size: int
) -> tuple[list[Layout | None], list[int]]:
    """Per layer: the Het-IEN layout (None without ``het``) and the channel count (fields × |G|, or
    the layout's total)."""
    if het is not None and het[0] != group_size:
        raise ValueError(f"het group sizes {het} must start with the group size {group_size}")
    layouts = [het_layout(f, tuple(het)) if het else None for f in fields]
    chans = [sum(n * g for n, g in lay) if lay else f * group_size for f, lay in zip(fields, layouts, strict=True)]
    return layouts, chans


class TappedModel(nn.Module):
    """``blocks[i]`` maps tap ``i-1``'s output (the image for ``i = 0``) to tap ``i``'s output;
    ``head`` maps the last tap to logits."""

    taps: tuple[Tap, ...]
    blocks: nn.ModuleList
    head: nn.Module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x)

    def forward_taps(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        outs = []
        for block in self.blocks:
            x = block(x)
            outs.append(x)
        return self.head(x), outs

    def forward_from(self, index: int, h: torch.Tensor) -> torch.Tensor:
        """Logits from tap ``index``'s output ``h`` (the frozen tail ψ)."""
        for block in self.blocks[index + 1 :]:
            h = block(h)
        return self.head(h)

    def tap_index(self, name: str) -> int:
        names = [t.name for t in self.taps]
        if name not in names:
            raise ValueError(f"unknown layer {name!r}; this model's taps: {names}")
        return names.index(name)
