"""A small digit CNN with an alignment inserted at depth 0, 1 or 2: the extension to Jansson et al. (PAPERS.md 003)
that classifies rotated and scaled digits with an *oracle* alignment (the known inverse warp applied to the
feature maps) or a *learned* spatial transformer (Jaderberg et al. 2015) at the chosen depth.

Blocks: 3×3 conv → ReLU → 2×2 max-pool, three times, then global average pool and a linear head. Depth d
means "the maps entering block d" (0 = the image). Warps use normalised coordinates (``affine_grid`` with
``align_corners=False``), so the same 2×3 matrix acts on the image and on every pooled map. Nothing here is
registered in :data:`eqlab.models.ARCHS`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

ALIGNS = ("none", "oracle", "stn")


def similarity(angle: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(N, 2, 3) sampling matrices of ``grid_sample`` that turn an image by ``angle`` (radians, counter-clockwise
    on screen) and scale it by ``scale`` about its centre: output(p) = input(R(−angle) p / scale)."""
    c, s = torch.cos(angle) / scale, torch.sin(angle) / scale
    z = torch.zeros_like(c)
    return torch.stack([torch.stack([c, -s, z], -1), torch.stack([s, c, z], -1)], 1)


def inverse_similarity(angle: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """The sampling matrices that undo :func:`similarity` (turn back by ``angle``, scale by 1 / ``scale``)."""
    return similarity(-angle, 1.0 / scale)


def warp(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


class Localisation(nn.Module):
    """The spatial transformer's localisation net: conv → ReLU → 4×4 average pool → MLP → 2×3 affine matrix,
    initialised to the identity (zero last layer), as in Jaderberg et al."""

    def __init__(self, c_in: int, hidden: int = 8) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, hidden, 3, padding=1)
        self.fc1 = nn.Linear(hidden * 16, 32)
        self.fc2 = nn.Linear(32, 6)
        nn.init.zeros_(self.fc2.weight)
        with torch.no_grad():
            self.fc2.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = F.adaptive_avg_pool2d(F.relu(self.conv(x)), 4).flatten(1)
        return self.fc2(F.relu(self.fc1(z))).view(-1, 2, 3)


class AlignNet(nn.Module):
    """(N, 1, H, W) → logits. ``align``: ``none``, ``oracle`` (forward needs the oracle sampling matrices) or
    ``stn`` (a learned :class:`Localisation` at ``depth``)."""

    def __init__(self, channels: Sequence[int] = (8, 16, 16), n_classes: int = 10, align: str = "none",
                 depth: int = 0) -> None:  # fmt: skip
        super().__init__()
        if align not in ALIGNS:
            raise ValueError(f"alignment {align!r}; allowed values: {list(ALIGNS)}")
        if not 0 <= depth < len(channels):
            raise ValueError(f"alignment depth {depth} must lie in 0..{len(channels) - 1}")
        ins = [1, *channels[:-1]]
        self.convs = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(ins, channels, strict=True))
        self.head = nn.Linear(channels[-1], n_classes)
        self.align, self.depth = align, depth
        self.loc = Localisation(ins[depth]) if align == "stn" else None

    def forward(self, x: torch.Tensor, oracle: torch.Tensor | None = None) -> torch.Tensor:
        for d, conv in enumerate(self.convs):
            if d == self.depth and self.align == "oracle":
                if oracle is None:
                    raise ValueError("an oracle alignment needs the inverse sampling matrices")
                x = warp(x, oracle)
            elif d == self.depth and self.loc is not None:
                x = warp(x, self.loc(x))
            x = F.max_pool2d(F.relu(conv(x)), 2)
        return self.head(x.mean(dim=(2, 3)))

