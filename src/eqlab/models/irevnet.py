"""i-RevNet (Jacobsen, Smeulders & Oyallon 2018; thesis ch. 6): a network Φ that is invertible up to its
final projection, and a ResNet of the same depth for comparison.

Input layer: the bijective variant is the invertible space-to-depth S (``pixel_unshuffle(2)``: 3×32×32 →
12×16×16), split into (x₀, x̃₀) of 6 channels each; the injective variant then pads each half with zeros to
2·``in_channels`` channels, an injective map whose left inverse drops them. Both halves carry the image: with
the zeros all in x̃₀ (padding before S), the first block's F would see a constant, its BatchNorm running
variances would go to ~0, and in the inverse, which evaluates F on the reconstructed x̃₀ (zero up to
round-off), they would amplify that round-off by ~1/√ε per layer (ε of 38 in float32 after 100 steps). Block j:

    x_{j+1} = S x̃_j,    x̃_{j+1} = S x_j + F_j(x̃_j),

S = space-to-depth in a down-sampling block, the identity otherwise; F_j = BN-ReLU-conv3×3 (stride 2 when
down-sampling), BN-ReLU-conv3×3, BN-ReLU-conv3×3, a bottleneck of width ``channels/4``. Inverse:

    x̃_j = S⁻¹ x_{j+1},    x_j = S⁻¹(x̃_{j+1} − F_j(x̃_j)),

exact up to the round-off of one addition and one subtraction per block (F is never inverted). The
ResNet has the same blocks and widths with y = shortcut(x) + F(x) (shortcut = strided 1×1 conv where the
shape changes) and is not invertible. Both return the features after every block.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def bottleneck(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    mid = max(c_out // 4, 1)
    return nn.Sequential(
        nn.BatchNorm2d(c_in), nn.ReLU(), nn.Conv2d(c_in, mid, 3, stride, 1, bias=False),
        nn.BatchNorm2d(mid), nn.ReLU(), nn.Conv2d(mid, mid, 3, 1, 1, bias=False),
        nn.BatchNorm2d(mid), nn.ReLU(), nn.Conv2d(mid, c_out, 3, 1, 1, bias=False),
    )  # fmt: skip


class RevBlock(nn.Module):
    """(x, x̃) ↦ (S x̃, S x + F(x̃)); ``c`` is the channel count of each half at the input."""

    def __init__(self, c: int, down: bool) -> None:
        super().__init__()
        self.down = down
        c_out = 4 * c if down else c
        self.f = bottleneck(c, c_out, 2 if down else 1)

    def _s(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_unshuffle(x, 2) if self.down else x

    def _s_inv(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(x, 2) if self.down else x

    def forward(self, x: torch.Tensor, xt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self._s(xt), self._s(x) + self.f(xt)

    def inverse(self, y: torch.Tensor, yt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        xt = self._s_inv(y)
        return self._s_inv(yt - self.f(xt)), xt


def stage_plan(n_stages: int, blocks_per_stage: int) -> list[bool]:
    """Down-sampling flags: the first block of every stage after the first down-samples."""
    if n_stages < 1 or blocks_per_stage < 1:
        raise ValueError(f"need ≥ 1 stage and ≥ 1 block per stage, got {n_stages}, {blocks_per_stage}")
    return [s > 0 and b == 0 for s in range(n_stages) for b in range(blocks_per_stage)]


class IRevNet(nn.Module):
    """Φ(x) = the last block's (x_J, x̃_J) concatenated; ``inverse`` maps it back to the image.

    ``injective=False``: 3 channels → S → 12 (bijective, dim Φ = dim x). ``injective=True``: each half then
    zero-padded from 6 to 2·``in_channels`` channels (dim Φ = in_channels/3 · dim x)."""

    def __init__(self, n_stages: int = 3, blocks_per_stage: int = 2, injective: bool = False,
                 in_channels: int = 8, n_classes: int = 8) -> None:  # fmt: skip
        super().__init__()
        if injective and (in_channels <= 3 or in_channels % 2):
            raise ValueError(f"injective i-RevNet needs an even in_channels > 3, got {in_channels}")
        self.injective, self.c0 = injective, in_channels if injective else 3
        c = 4 * self.c0 // 2  # each half after the input S
        blocks = []
        for down in stage_plan(n_stages, blocks_per_stage):
            blocks.append(RevBlock(c, down))
            c = 4 * c if down else c
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(2 * c, n_classes)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = F.pixel_unshuffle(x, 2)
        h = z.shape[1] // 2
        a, b = z[:, :h], z[:, h:]
        if self.injective:  # zero channels after the image's in each half
            pad = (0, 0, 0, 0, 0, 2 * self.c0 - h)
            a, b = F.pad(a, pad), F.pad(b, pad)
        return a, b

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Φ_j(x) = cat(x_j, x̃_j) after every block j = 1..J."""
        a, b = self._split(x)
        out = []
        for blk in self.blocks:
            a, b = blk(a, b)
            out.append(torch.cat([a, b], 1))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # logits from the spatially averaged Φ(x)
        return self.head(self.features(x)[-1].mean((2, 3)))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)[-1]

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """Φ⁻¹: (x_J, x̃_J) → x, block inverses in reverse order, (injective) the pads dropped, then S⁻¹."""
        h = z.shape[1] // 2
        a, b = z[:, :h], z[:, h:]
        for blk in reversed(self.blocks):
            a, b = blk.inverse(a, b)
        h = 4 * 3 // 2  # the image's channels in each half
        return F.pixel_shuffle(torch.cat([a[:, :h], b[:, :h]], 1), 2)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.f = bottleneck(c_in, c_out, stride)
        self.short = nn.Identity() if stride == 1 and c_in == c_out else nn.Conv2d(c_in, c_out, 1, stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.short(x) + self.f(x)


class ResNet(nn.Module):
    """The non-invertible comparison: same input S, same number of blocks, same widths (2c channels per
    block output, ×4 at every down-sampling), y = shortcut(x) + F(x)."""

    def __init__(self, n_stages: int = 3, blocks_per_stage: int = 2, n_classes: int = 8) -> None:
        super().__init__()
        c = 12
        blocks = []
        for down in stage_plan(n_stages, blocks_per_stage):
            c_out = 4 * c if down else c
            blocks.append(ResBlock(c, c_out, 2 if down else 1))
            c = c_out
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(c, n_classes)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        z = F.pixel_unshuffle(x, 2)
        out = []
        for blk in self.blocks:
            z = blk(z)
            out.append(z)
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)[-1].mean((2, 3)))
