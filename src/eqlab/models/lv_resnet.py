"""The ResN50 analogue for 32×32 images (family ``resnet`` of :mod:`eqlab.models.lv_nets`).

``ResNetSmall``: a 5×5 / 2 stem with BatchNorm (``conv1``, ANet's conv1 grid), then four bottleneck blocks
(1×1 reduce, 3×3, 1×1 expand, each with BatchNorm; a 1×1 projection shortcut where the shape changes) at
strides 1, 2, 2, 2 (``conv2`` … ``conv5``: 16, 8, 4, 2 px), global average pooling and one FC layer, as
ResNet-50's stages. Taps are the blocks' sums before the ReLU; there are no FC taps. A stride-2 block's
3×3 / 2 / 1 conv and its 1×1 / 2 shortcut put output pixel i on input pixel 2i, so the grids stay
uncentred (half a stride up-left).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eqlab.groups import Grid
from eqlab.models.lv_nets import TappedStages

ARCHS = ("resnet",)

RESNET_TAPS = ("conv1", "conv2", "conv3", "conv4", "conv5")


@dataclass(frozen=True)
class ResNetSpec:
    """Stem width, per bottleneck block (conv2 … conv5) its inner and output widths and stride; classes."""

    stem: int = 32
    blocks: tuple[tuple[int, int, int], ...] = ((16, 48, 1), (24, 64, 2), (32, 96, 2), (32, 96, 2))
    n_classes: int = 8


class Bottleneck(nn.Module):
    """1×1 → 3×3 (stride) → 1×1 with BatchNorm, plus the shortcut (a 1×1 projection where the shape changes);
    returns the sum before the ReLU."""

    def __init__(self, c_in: int, c_mid: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(c_in, c_mid, 1, bias=False), nn.BatchNorm2d(c_mid), nn.ReLU(),
            nn.Conv2d(c_mid, c_mid, 3, stride, 1, bias=False), nn.BatchNorm2d(c_mid), nn.ReLU(),
            nn.Conv2d(c_mid, c_out, 1, bias=False), nn.BatchNorm2d(c_out),
        )  # fmt: skip
        same = stride == 1 and c_in == c_out
        self.shortcut = nn.Identity() if same else nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False),
                                                                  nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x) + self.shortcut(x)


def _resnet_grids(spec: ResNetSpec) -> dict[str, Grid]:
    grid, out = Grid.conv(5, 2, 2), {}
    out["conv1"] = grid
    for tap, (_, _, stride) in zip(RESNET_TAPS[1:], spec.blocks, strict=True):
        grid = grid.then(Grid.conv(3, stride, 1))  # the 1×1 / stride shortcut samples the same pixels
        out[tap] = grid
    return out


class ResNetSmall(TappedStages):
    """The ResN50 analogue (see the module docstring)."""

    taps = RESNET_TAPS

    def __init__(self, spec: ResNetSpec) -> None:
        super().__init__()
        self.spec = spec
        self.grids = _resnet_grids(spec)
        stages: list[nn.Module] = [nn.Sequential(nn.Conv2d(3, spec.stem, 5, 2, 2, bias=False), nn.BatchNorm2d(spec.stem))]
        c = spec.stem
        for c_mid, c_out, stride in spec.blocks:
            stages.append(nn.Sequential(nn.ReLU(), Bottleneck(c, c_mid, c_out, stride)))
            c = c_out
        stages.append(nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, spec.n_classes)))
        self.stages = nn.ModuleList(stages)


def build(arch: str, n_classes: int) -> ResNetSmall:
    return ResNetSmall(ResNetSpec(n_classes=n_classes))
