"""Small analogues of Lenc & Vedaldi's ANet (AlexNet) and ResN50 for 32×32 images, with taps for
equivariance maps.

``ANetSmall``: five convs and three FC layers in AlexNet's order (conv → ReLU → LRN → max-pool after
conv1 and conv2, max-pool after conv5), with AlexNet's way of striding so the feature grids are **not
centred** on the image: conv1 is 5×5 / stride 2 / padding 2 on 32 px (16 px out; the grid's centre sits
0.5 px up-left of the image centre, as AlexNet's 11×11 / 4 / 2 conv1 on 224 px), and the 3×3 / 2
pools without padding move it further (1.5 px at conv2–conv5). Sizes::

    x (B, 3, 32, 32) → conv1 (c1, 16, 16) → pool (7×7) → conv2 (c2, 7, 7) → pool (3×3)
      → conv3, conv4, conv5 (3×3) → pool (1×1) → fc6 → fc7 → fc8 (classes)

Taps (the paper's conv features are taken before the ReLU): ``conv1`` … ``conv5``, ``fc6``, ``fc7``.
Each conv tap carries its :class:`~eqlab.groups.Grid` on the image, so P_g for a transform g of the
image is ``grid.transform(g, (32, 32), (h, w))`` (a translation is picked up on these uncentred grids).
``forward_to(tap, x)`` returns the tap's features, ``forward_from(tap, h)`` runs the frozen tail.

``ResNetSmall`` (the ResN50 analogue): a 5×5 / 2 stem with BatchNorm (``conv1``, ANet's conv1 grid), then
four bottleneck blocks (1×1 reduce, 3×3, 1×1 expand, each with BatchNorm; a 1×1 projection shortcut where
the shape changes) at strides 1, 2, 2, 2 (``conv2`` … ``conv5``: 16, 8, 4, 2 px), global average pooling
and one FC layer, as ResNet-50's stages. Taps are the blocks' sums before the ReLU; there are no FC taps.
A stride-2 block's 3×3 / 2 / 1 conv and its 1×1 / 2 shortcut put output pixel i on input pixel 2i, so
the grids stay uncentred (half a stride up-left).

``VggSmall`` (the Vgg16 analogue): five blocks of 3×3 / 1 / 1 convs (2, 2, 3, 3, 3 of them, as VGG-16's 13),
each block followed by a 2×2 / 2 max-pool, then fc6, fc7 and the classifier; taps ``conv1`` … ``conv5`` are
each block's last conv (32, 16, 8, 4, 2 px), before the ReLU. Its grids are centred. The CNet analogue is
``ANetSmall`` with ``norm_first`` (normalisation before pooling, as the Caffe reference net). All nets share
:class:`TappedStages`.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from eqlab.groups import Grid

TAPS = ("conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7")
IMAGE = 32


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


class TappedStages(nn.Module):
    """A net as an ordered list of blocks; block ``i`` maps tap ``taps[i - 1]``'s output to tap ``taps[i]``'s
    (the last block: the last tap to the logits). Subclasses set ``taps``, ``grids`` and ``stages``."""

    taps: tuple[str, ...]
    grids: dict[str, Grid]
    stages: nn.ModuleList

    def tap_index(self, tap: str) -> int:
        if tap not in self.taps:
            raise ValueError(f"unknown tap {tap!r}; taps: {list(self.taps)}")
        return self.taps.index(tap)

    def tap_grid(self, tap: str) -> Grid | None:
        """The tap's grid on the image (None for FC taps, where P_g = I)."""
        self.tap_index(tap)
        return self.grids.get(tap)

    def forward_to(self, tap: str, x: torch.Tensor) -> torch.Tensor:
        """φ(x) at ``tap``: (B, C, H, W) for conv taps, (B, C) for FC taps (pre-ReLU)."""
        h = x
        for stage in self.stages[: self.tap_index(tap) + 1]:
            h = stage(h)
        return h

    def forward_from(self, tap: str, h: torch.Tensor) -> torch.Tensor:
        """ψ(h): the tail after ``tap`` (logits)."""
        for stage in self.stages[self.tap_index(tap) + 1 :]:
            h = stage(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, 3, 32, 32) → (B, n_classes)
        for stage in self.stages:
            x = stage(x)
        return x


class ANetSmall(TappedStages):
    """The ANet analogue; block ``i`` starts at tap ``TAPS[i]``'s input."""

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
            norm, mp = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=2.0), nn.MaxPool2d(3, 2)
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
                layers += ([nn.ReLU()] if k else []) + [nn.Conv2d(c, width, 3, 1, 1)]
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
        for m in self.modules():  # He initialisation: PyTorch's default leaves 16 plain ReLU layers at chance
            if isinstance(m, nn.Conv2d | nn.Linear):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)


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
