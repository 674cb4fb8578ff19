"""The ANet (AlexNet) analogue and its CNet variant for 32×32 images (family ``anet`` of
:mod:`eqlab.models.lv_nets`).

``ANetSmall``: five convs and three FC layers in AlexNet's order (conv → ReLU → LRN → max-pool after
conv1 and conv2, max-pool after conv5), with AlexNet's way of striding so the feature grids are **not
centred** on the image: conv1 is 5×5 / stride 2 / padding 2 on 32 px (16 px out; the grid's centre sits
0.5 px up-left of the image centre, as AlexNet's 11×11 / 4 / 2 conv1 on 224 px), and the 3×3 / 2
pools without padding move it further (1.5 px at conv2–conv5). Sizes::

    x (B, 3, 32, 32) → conv1 (c1, 16, 16) → pool (7×7) → conv2 (c2, 7, 7) → pool (3×3)
      → conv3, conv4, conv5 (3×3) → pool (1×1) → fc6 → fc7 → fc8 (classes)

Taps (before the ReLU): ``conv1`` … ``conv5``, ``fc6``, ``fc7``. The CNet analogue (arch ``cnet``) is the
same net with the normalisation before the pooling, as the Caffe reference net.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from eqlab.groups import Grid
from eqlab.models.lv_nets import TAPS, TappedStages

ARCHS = ("anet", "cnet")


class LocalResponseNorm(nn.Module):
    """AlexNet's local response normalisation across channels, ``x / (k + α/n Σ_{n nearby channels} x²)^β``,
    as :class:`torch.nn.LocalResponseNorm` computes it (equal to float rounding; a test checks) but summing
    the window as ``n`` shifted slices: about 3× faster on CPU than torch's 3-D average pooling, and the
    nets' tails run it for every scored map. No parameters: state dicts are unchanged."""

    def __init__(self, size: int, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0) -> None:
        super().__init__()
        self.size, self.alpha, self.beta, self.k = size, alpha, beta, k

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = x.shape[1]
        sq = F.pad(x * x, (0, 0, 0, 0, self.size // 2, (self.size - 1) // 2))
        window = sq[:, 0:c].clone()
        for j in range(1, self.size):
            window += sq[:, j : j + c]
        return x / (window * (self.alpha / self.size) + self.k) ** self.beta


@dataclass(frozen=True)
class ANetSpec:
    """Channel widths and the number of classes; ``norm_first`` swaps LRN and pooling (the CNet variant)."""

    widths: tuple[int, int, int, int, int] = (32, 48, 64, 64, 48)
    fc: int = 128
    n_classes: int = 8
    norm_first: bool = False


def _conv_grids() -> dict[str, Grid]:
    """Each conv tap's grid on the 32 px image (conv1 5/2/2; pools 3/2/0; 3×3 convs with padding 1)."""
    c1 = Grid.conv(5, 2, 2)
    pool = Grid.conv(3, 2, 0)
    c2 = c1.then(pool).then(Grid.conv(3, 1, 1))
    c3 = c2.then(pool).then(Grid.conv(3, 1, 1))
    return {"conv1": c1, "conv2": c2, "conv3": c3, "conv4": c3, "conv5": c3}


GRIDS = _conv_grids()


class ANetSmall(TappedStages):
    """The ANet analogue (``norm_first``: the CNet one); block ``i`` ends at tap ``TAPS[i]``."""

    taps = TAPS
    grids = GRIDS

    def __init__(self, spec: ANetSpec) -> None:
        super().__init__()
        self.spec = spec
        c1, c2, c3, c4, c5 = spec.widths

        def post(pool: bool) -> list[nn.Module]:
            act: list[nn.Module] = [nn.ReLU()]
            if not pool:
                return act
            norm, mp = LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2)
            return act + ([norm, mp] if spec.norm_first else [mp, norm])

        # the pieces between taps: stage[i] maps tap i-1's (pre-ReLU) output to tap i's
        self.stages = nn.ModuleList([
            nn.Conv2d(3, c1, 5, 2, 2),
            nn.Sequential(*post(True), nn.Conv2d(c1, c2, 3, 1, 1)),
            nn.Sequential(*post(True), nn.Conv2d(c2, c3, 3, 1, 1)),
            nn.Sequential(*post(False), nn.Conv2d(c3, c4, 3, 1, 1)),
            nn.Sequential(*post(False), nn.Conv2d(c4, c5, 3, 1, 1)),
            nn.Sequential(nn.ReLU(), nn.MaxPool2d(3, 2), nn.Flatten(), nn.Linear(c5, spec.fc)),
            nn.Sequential(nn.ReLU(), nn.Linear(spec.fc, spec.fc)),
            nn.Sequential(nn.ReLU(), nn.Linear(spec.fc, spec.n_classes)),
        ])  # fmt: skip


def tap_grid(tap: str) -> Grid | None:
    """The ANet analogue's grid of ``tap`` on the image (None for FC taps, where P_g = I)."""
    return GRIDS.get(tap)


def build(arch: str, n_classes: int) -> ANetSmall:
    return ANetSmall(ANetSpec(n_classes=n_classes, norm_first=arch == "cnet"))
