"""The Vgg16 analogue for 32×32 images (family ``vgg`` of :mod:`eqlab.models.lv_nets`).

``VggSmall``: five blocks of 3×3 / 1 / 1 convs (2, 2, 3, 3, 3 of them, as VGG-16's 13), each block followed
by a 2×2 / 2 max-pool, then fc6, fc7 and the classifier; taps ``conv1`` … ``conv5`` are each block's last
conv (32, 16, 8, 4, 2 px) after its BatchNorm, before the ReLU, and ``fc6``, ``fc7``. Its grids are
centred. BatchNorm after every conv (VGG-16-BN's layout) and He initialisation: without them the 16 plain
layers sat at chance for 12 of 20 epochs and ended at 72 % or 59 % error depending only on the number of
CPU threads (summation order).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from eqlab.groups import Grid
from eqlab.models.lv_nets import TAPS, TappedStages

ARCHS = ("vgg",)


@dataclass(frozen=True)
class VggSpec:
    """Per block (conv1 … conv5) its width and number of 3×3 convs; FC width; classes."""

    blocks: tuple[tuple[int, int], ...] = ((16, 2), (24, 2), (32, 3), (48, 3), (48, 3))
    fc: int = 128
    n_classes: int = 8


class VggSmall(TappedStages):
    """The Vgg16 analogue (see the module docstring)."""

    taps = TAPS

    def __init__(self, spec: VggSpec) -> None:
        super().__init__()
        self.spec = spec
        stages: list[nn.Module] = []
        grid, grids, c = Grid(), {}, 3
        for i, (width, n) in enumerate(spec.blocks):
            layers: list[nn.Module] = [] if i == 0 else [nn.ReLU(), nn.MaxPool2d(2, 2)]
            if i:
                grid = grid.then(Grid.conv(2, 2, 0))
            for k in range(n):
                layers += ([nn.ReLU()] if k else []) + [nn.Conv2d(c, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width)]
                c = width
            stages.append(nn.Sequential(*layers))
            grids[TAPS[i]] = grid  # 3×3 / 1 / 1 convs leave the grid where it is
        stages += [
            nn.Sequential(nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(), nn.Linear(c, spec.fc)),
            nn.Sequential(nn.ReLU(), nn.Linear(spec.fc, spec.fc)),
            nn.Sequential(nn.ReLU(), nn.Linear(spec.fc, spec.n_classes)),
        ]
        self.stages = nn.ModuleList(stages)
        self.grids = grids
        for m in self.modules():  # He initialisation (torchvision's VGG does the same)
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)


def build(arch: str, n_classes: int) -> VggSmall:
    return VggSmall(VggSpec(n_classes=n_classes))
