"""The TinyImageNet family (IEN, Tables 1, 2, 4, 9): CIFAR-style ResNet18 and the VGG11-layout VGG.

Channels are ``fields × |G|`` so that every ``group_size`` contiguous channels form one feature
group (the IEN layout); a final group pooling follows the last conv, then global average pooling
and the head. Fields at full width (the E2CNN widths of IEN Tables 6–7, so that IEN, CNN and E2CNN
have equal inference channels):

* ResNet18: stem and stage 1 ``f``, stages 2–4 ``2f, 4f, 8f`` with ``f = 34`` for R4 and
  ``round(34·√(4/|G|)) = 24`` for R8 / R4R; 3×3 stem, no stem max-pool; taps = the four stage outputs.
* VGG: ``f, M, 2f, M, 4f, 4f, M, 8f, 8f, M, 8f, 8f`` with ``f = 36`` (R4) / ``25`` (R8, R4R), then
  FC 1024 and the classifier; taps = every conv (Table 9 shows conv1, 3, 5, 7).

``width`` scales ``f``. Grid alignment (so a quarter turn of the image is a quarter turn of every
map): the ResNet resizes its input to an odd ``input_size`` (65 in the paper: 64 → 65 → 33 → 17 → 9
under the stride-2 convs), the VGG to a multiple of 16 (64 → 32 → 16 → 8 → 4 under the 2×2 pools).
The resize (bilinear, no antialias) is separable and symmetric about the centre, so it commutes with
quarter turns and mirrors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from eqlab.groups import Layout, group_pool
from eqlab.models.base import Tap, TappedModel, channel_layouts

RESNET_BASE, RESNET_MULT = 34, (1, 1, 2, 4, 8)  # stem, stage 1..4
VGG_BASE, VGG_MULT = 36, (1, 2, 4, 4, 8, 8, 8, 8)
VGG_POOL_AFTER = (0, 1, 3, 5)  # conv indices followed by a 2×2 max-pool (the paper's "M")
VGG_HIDDEN = 1024


def tim_fields(base: int, mult: tuple[int, ...], group_size: int, width: float) -> tuple[int, ...]:
    """Fields per layer: ``base`` is the R4 value; larger groups get ``base·√(4/|G|)`` fields."""
    f = base * math.sqrt(4 / group_size)
    return tuple(max(1, round(round(f) * width * m)) for m in mult)


def check_input_size(arch: str, size: int) -> None:
    if arch == "resnet18" and size % 2 == 0:
        raise ValueError(f"resnet18 input_size must be odd (stride-2 grids stay centred), got {size}")
    if arch == "vgg" and size % 16:
        raise ValueError(f"vgg input_size must be a multiple of 16 (four 2×2 pools), got {size}")


class Resize(nn.Module):
    """Bilinear resize to ``size × size`` (identity when the input already has that size)."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == self.size and x.shape[-2] == self.size:
            return x
        return F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=False)


class PoolAvgHead(nn.Module):
    """Group pooling → global average pool → ``hidden`` layers (FC → BN → ReLU) → classifier."""

    def __init__(self, group_size: int | Layout, fields: int, n_classes: int, hidden: int | None = None) -> None:
        super().__init__()
        self.group_size = group_size
        layers: list[nn.Module] = []
        if hidden:
            layers += [nn.Linear(fields, hidden), nn.BatchNorm1d(hidden), nn.ReLU()]
            fields = hidden
        layers.append(nn.Linear(fields, n_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.mlp(group_pool(h, self.group_size).mean(dim=(-2, -1)))


class BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class ResNet18(TappedModel):
    def __init__(
        self, width: float = 1.0, group_size: int = 4, in_channels: int = 3, n_classes: int = 100,
        het: tuple[int, ...] | None = None, input_size: int = 65,
    ) -> None:
        super().__init__()
        check_input_size("resnet18", input_size)
        fields = tim_fields(RESNET_BASE, RESNET_MULT, group_size, width)
        layouts, chans = channel_layouts(fields, het, group_size)
        stem = nn.Sequential(Resize(input_size), nn.Conv2d(in_channels, chans[0], 3, 1, 1, bias=False),
                             nn.BatchNorm2d(chans[0]), nn.ReLU())
        stages: list[nn.Module] = []
        for i in range(4):
            stride = 1 if i == 0 else 2
            stage = nn.Sequential(BasicBlock(chans[i], chans[i + 1], stride), BasicBlock(chans[i + 1], chans[i + 1], 1))
            stages.append(nn.Sequential(stem, stage) if i == 0 else stage)
        self.blocks = nn.ModuleList(stages)
        self.head = PoolAvgHead(layouts[-1] or group_size, fields[-1], n_classes)
        self.taps = tuple(Tap(f"stage{i + 1}", chans[i + 1], group_size, layouts[i + 1]) for i in range(4))


class VGG(TappedModel):
    def __init__(
        self, width: float = 1.0, group_size: int = 4, in_channels: int = 3, n_classes: int = 100,
        het: tuple[int, ...] | None = None, input_size: int = 64,
    ) -> None:
        super().__init__()
        check_input_size("vgg", input_size)
        fields = tim_fields(VGG_BASE, VGG_MULT, group_size, width)
        layouts, chans = channel_layouts(fields, het, group_size)
        blocks, c_in = [], in_channels
        for i, c in enumerate(chans):
            layers: list[nn.Module] = [nn.Conv2d(c_in, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
            if i == 0:
                layers.insert(0, Resize(input_size))
            if i in VGG_POOL_AFTER:
                layers.append(nn.MaxPool2d(2))
            blocks.append(nn.Sequential(*layers))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        hidden = max(16, round(VGG_HIDDEN * width))
        self.head = PoolAvgHead(layouts[-1] or group_size, fields[-1], n_classes, hidden)
        self.taps = tuple(Tap(f"conv{i + 1}", c, group_size, lay) for i, (c, lay) in enumerate(zip(chans, layouts, strict=True)))


def build_resnet18(
    width: float = 1.0, group_size: int = 4, in_channels: int = 3, n_classes: int = 100,
    het: list[int] | tuple[int, ...] | None = None, input_size: int = 65,
) -> ResNet18:
    return ResNet18(width, group_size, in_channels, n_classes, tuple(het) if het else None, input_size)


def build_vgg(
    width: float = 1.0, group_size: int = 4, in_channels: int = 3, n_classes: int = 100,
    het: list[int] | tuple[int, ...] | None = None, input_size: int = 64,
) -> VGG:
    return VGG(width, group_size, in_channels, n_classes, tuple(het) if het else None, input_size)
