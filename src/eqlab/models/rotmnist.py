"""The 6-conv Rot-MNIST family (IEN, Table 5), laid out like e2cnn's C4 model (E2SFCNN).

conv(k, pad) → BatchNorm → [2×2 max-pool] → ELU, six times, with fields
24 (9×9, pad 0), 32 (7×7, pad 3) + pool, 36 (7×7), 36 (7×7) + pool, 64 (7×7), 96 (5×5, pad 0);
channels = fields × width × |G| so that every ``group_size`` contiguous channels form one feature
group; then group pooling (max over each group), global max-pool, FC → BN → ELU → FC.

Shapes on 28×28 inputs: 20 → 20 → 10 → 10 → 5 → 5 → 5 → 1 (with ``upsample=2``, the Scale-MNIST
56×56 variant: 48 → 24 → 12 → 8, then the same global max-pool). Every 2×2 pool sees an even size and
every padding is symmetric, so each feature grid is centred on the image grid and a quarter turn of
the image is a quarter turn of every map (the property the equivariance loss relies on).
"""

from __future__ import annotations

import torch
from torch import nn

from eqlab.groups import Layout, group_pool
from eqlab.models.base import Tap, TappedModel, channel_layouts

FIELDS = (24, 32, 36, 36, 64, 96)
KERNELS = (9, 7, 7, 7, 7, 5)
PADDINGS = (0, 3, 3, 3, 3, 0)
POOLS = (False, True, False, True, False, False)
HIDDEN = 96


def scaled_fields(width: float) -> tuple[int, ...]:
    return tuple(max(1, round(f * width)) for f in FIELDS)


class GroupPoolHead(nn.Module):
    """Group pooling → global max-pool → FC → BN → ELU → FC."""

    def __init__(self, group_size: int | Layout, fields: int, hidden: int, n_classes: int) -> None:
        super().__init__()
        self.group_size = group_size
        self.fc1 = nn.Linear(fields, hidden)
        self.bn = nn.BatchNorm1d(hidden)
        self.fc2 = nn.Linear(hidden, n_classes)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        z = group_pool(h, self.group_size).amax(dim=(-2, -1))  # (B, fields)
        return self.fc2(nn.functional.elu(self.bn(self.fc1(z))))


class RotMnist6(TappedModel):
    """``het`` (Het-IEN) lists decreasing group sizes, e.g. ``(4, 2, 1)``: half of each layer's
    fields get groups of 4 channels, a quarter groups of 2, the rest single channels."""

    def __init__(
        self, width: float = 1.0, group_size: int = 4, in_channels: int = 1, n_classes: int = 10,
        het: tuple[int, ...] | None = None, upsample: int = 1,
    ) -> None:
        super().__init__()
        fields = scaled_fields(width)
        layouts, chans = channel_layouts(fields, het, group_size)
        blocks, c_in = [], in_channels
        for c, k, p, pool in zip(chans, KERNELS, PADDINGS, POOLS, strict=True):
            layers: list[nn.Module] = [nn.Conv2d(c_in, c, k, padding=p), nn.BatchNorm2d(c)]
            if not blocks and upsample > 1:  # Scale-MNIST 56×56: ×2 upsampling at the model input
                layers.insert(0, nn.Upsample(scale_factor=upsample, mode="bilinear", align_corners=False))
            if pool:
                layers.append(nn.MaxPool2d(2))
            layers.append(nn.ELU())
            blocks.append(nn.Sequential(*layers))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        hidden = max(16, round(HIDDEN * width))
        self.head = GroupPoolHead(layouts[-1] or group_size, fields[-1], hidden, n_classes)
        self.taps = tuple(Tap(f"conv{i + 1}", c, group_size, lay) for i, (c, lay) in enumerate(zip(chans, layouts, strict=True)))


def build_rotmnist6(
    width: float = 1.0, group_size: int = 4, in_channels: int = 1, n_classes: int = 10,
    het: list[int] | tuple[int, ...] | None = None, upsample: int = 1,
) -> RotMnist6:
    return RotMnist6(width, group_size, in_channels, n_classes, tuple(het) if het else None, upsample)
