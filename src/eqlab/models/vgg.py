"""The VGG11-layout VGG of the TinyImageNet experiments (IEN, Tables 2, 4, 9).

``f, M, 2f, M, 4f, 4f, M, 8f, 8f, M, 8f, 8f`` 3×3 convs with BN and ReLU (``f = 36`` for R4, ``25`` for
R8 / R4R at full width; ``width`` scales ``f``), then group pooling, global average pooling, FC 1024 →
BN → ReLU and the classifier; taps = every conv (Table 9 shows conv1, 3, 5, 7). The input is resized
to a multiple of 16 (64 → 32 → 16 → 8 → 4 under the 2×2 pools) so every grid stays centred.

Families: ``cnn`` (:class:`VGG`) and ``e2cnn`` (:class:`VGGE2`, regular fields).
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
from eqlab.models.cnn import conv_bn_act
from eqlab.runs import RunSpec

VGG_BASE, VGG_MULT = 36, (1, 2, 4, 4, 8, 8, 8, 8)
VGG_POOL_AFTER = (0, 1, 3, 5)  # conv indices followed by a 2×2 max-pool (the paper's "M")
VGG_HIDDEN = 1024


def check_input_size(size: int) -> None:
    if size % 16:
        raise ValueError(f"vgg input_size must be a multiple of 16 (four 2×2 pools), got {size}")


class VGG(TappedModel):
    def __init__(
        self, width: float = 1.0, group_size: int = 4, in_channels: int = 3, n_classes: int = 100,
        het: tuple[int, ...] | None = None, input_size: int = 64,
    ) -> None:
        super().__init__()
        check_input_size(input_size)
        fields = ien_fields(VGG_BASE, VGG_MULT, group_size, width)
        layouts, chans = channel_layouts(fields, het, group_size)
        blocks, c_in = [], in_channels
        for i, c in enumerate(chans):
            layers = conv_bn_act(c_in, c, 3, 1, pool=i in VGG_POOL_AFTER, act="relu", bias=False, pool_after_act=True)
            if i == 0:
                layers.insert(0, Resize(input_size))
            blocks.append(nn.Sequential(*layers))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        hidden = max(16, round(VGG_HIDDEN * width))
        self.head = PoolAvgHead(layouts[-1] or group_size, fields[-1], n_classes, hidden)
        self.taps = tuple(Tap(f"conv{i + 1}", c, group_size, lay) for i, (c, lay) in enumerate(zip(chans, layouts, strict=True)))


class VGGE2(TappedModel):
    def __init__(
        self, width: float = 1.0, group: str = "r4", in_channels: int = 3, n_classes: int = 100, input_size: int = 64,
    ) -> None:
        super().__init__()
        from eqlab.models import e2cnn as e2  # imports e2cnn: only when a twin is built

        check_input_size(input_size)
        act = e2.gspace(group)
        size = act.regular_repr.size
        fields = ien_fields(VGG_BASE, VGG_MULT, size, width)
        t_in = e2.trivial_type(act, in_channels)
        blocks = []
        for i, t_out in enumerate(e2.regular_types(act, fields)):
            layers = e2.conv_bn_act(t_in, t_out, 3, 1, pool=i in VGG_POOL_AFTER, act="relu", bias=False)
            blocks.append(e2.E2Sequential(t_in, *layers, pre=Resize(input_size) if i == 0 else None))
            t_in = t_out
        self.blocks = nn.ModuleList(blocks)
        self.head = PoolAvgHead(size, fields[-1], n_classes, max(16, round(VGG_HIDDEN * width)))
        self.taps = tuple(Tap(f"conv{i + 1}", f * size, size, rep=group) for i, f in enumerate(fields))


def model_kwargs(run: RunSpec, width: float, input_size: int) -> dict[str, Any]:
    """The builder arguments params decide: the profile's ``input_size`` (a multiple of 16)."""
    if run.upsample > 1:
        raise ValueError("upsample applies to arch 'rotmnist6' only")
    return {**family_kwargs(run, width), "input_size": input_size}


def build(family: str, **kwargs: Any) -> TappedModel:
    return build_family(VGG, VGGE2, family, **kwargs)
