"""CIFAR-style ResNet18 of the TinyImageNet experiments (IEN, Tables 1, 9).

3×3 stem, no stem max-pool, four stages of two basic blocks; taps = the four stage outputs; a final
group pooling follows the last stage, then global average pooling and the classifier. Fields at full
width: stem and stage 1 ``f``, stages 2–4 ``2f, 4f, 8f`` with ``f = 34`` for R4 and
``round(34·√(4/|G|)) = 24`` for R8 / R4R (the E2CNN widths of IEN Tables 6–7, so IEN, CNN and E2CNN
have equal inference channels); ``width`` scales ``f``. The input is resized to an odd ``input_size``
(65 in the paper: 64 → 65 → 33 → 17 → 9 under the stride-2 convs) so every grid stays centred and a
quarter turn of the image is a quarter turn of every map.

Families: ``cnn`` (:class:`ResNet18`) and ``e2cnn`` (:class:`ResNet18E2`, regular fields).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from eqlab.models.base import (
    PoolAvgHead,
    Resize,
    Tap,
    TappedModel,
    build_family,
    channel_layouts,
    family_kwargs,
    ien_fields,
)
from eqlab.models.cnn import BasicBlock
from eqlab.runs import RunSpec

RESNET_BASE, RESNET_MULT = 34, (1, 1, 2, 4, 8)  # stem, stage 1..4


def check_input_size(size: int) -> None:
    if size % 2 == 0:
        raise ValueError(f"resnet18 input_size must be odd (stride-2 grids stay centred), got {size}")


class ResNet18(TappedModel):
    def __init__(
        self, width: float = 1.0, group_size: int = 4, in_channels: int = 3, n_classes: int = 100,
        het: tuple[int, ...] | None = None, input_size: int = 65,
    ) -> None:
        super().__init__()
        check_input_size(input_size)
        fields = ien_fields(RESNET_BASE, RESNET_MULT, group_size, width)
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


class ResNet18E2(TappedModel):
    def __init__(
        self, width: float = 1.0, group: str = "r4", in_channels: int = 3, n_classes: int = 100, input_size: int = 65,
    ) -> None:
        super().__init__()
        from eqlab.models import e2cnn as e2  # imports e2cnn: only when a twin is built

        check_input_size(input_size)
        act = e2.gspace(group)
        size = act.regular_repr.size
        fields = ien_fields(RESNET_BASE, RESNET_MULT, size, width)
        types = e2.regular_types(act, fields)
        t_img = e2.trivial_type(act, in_channels)
        stages: list[nn.Module] = []
        for i in range(4):
            body = [e2.E2BasicBlock(types[i], types[i + 1], 1 if i == 0 else 2),
                    e2.E2BasicBlock(types[i + 1], types[i + 1], 1)]
            if i == 0:
                from e2cnn import nn as enn

                stem = [enn.R2Conv(t_img, types[0], 3, padding=1, bias=False), enn.InnerBatchNorm(types[0]),
                        enn.ReLU(types[0])]
                stages.append(e2.E2Sequential(t_img, *stem, *body, pre=Resize(input_size)))
            else:
                stages.append(e2.E2Sequential(types[i], *body))
        self.blocks = nn.ModuleList(stages)
        self.head = PoolAvgHead(size, fields[-1], n_classes)
        self.taps = tuple(Tap(f"stage{i + 1}", fields[i + 1] * size, size, rep=group) for i in range(4))


def model_kwargs(run: RunSpec, width: float, input_size: int) -> dict[str, Any]:
    """The builder arguments params decide: the odd input size is the profile's ``input_size + 1``."""
    if run.upsample > 1:
        raise ValueError("upsample applies to arch 'rotmnist6' only")
    return {**family_kwargs(run, width), "input_size": input_size + 1}


def build(family: str, **kwargs: Any) -> TappedModel:
    return build_family(ResNet18, ResNet18E2, family, **kwargs)
