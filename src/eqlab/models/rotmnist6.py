"""The 6-conv Rot-MNIST family (IEN, Table 5), laid out like e2cnn's C4 model (E2SFCNN).

conv(k, pad) → BatchNorm → [2×2 max-pool] → ELU, six times, with fields
24 (9×9, pad 0), 32 (7×7, pad 3) + pool, 36 (7×7), 36 (7×7) + pool, 64 (7×7), 96 (5×5, pad 0);
channels = fields × width × |G| so that every ``group_size`` contiguous channels form one feature
group; then group pooling (max over each group), global max-pool, FC → BN → ELU → FC.

Shapes on 28×28 inputs: 20 → 20 → 10 → 10 → 5 → 5 → 5 → 1 (with ``upsample=2``, the Scale-MNIST
56×56 variant: 48 → 24 → 12 → 8, then the same global max-pool). Every 2×2 pool sees an even size and
every padding is symmetric, so each feature grid is centred on the image grid and a quarter turn of
the image is a quarter turn of every map (the property the equivariance loss relies on).

Families: ``cnn`` (:class:`RotMnist6`, plain convolutions) and ``e2cnn`` (:class:`RotMnist6E2`, the
exactly equivariant twin with the same kernels, paddings, pools and fields).
"""

from __future__ import annotations

from typing import Any

from torch import nn

from eqlab.models.base import GroupPoolHead, Tap, TappedModel, build_family, channel_layouts, family_kwargs
from eqlab.models.cnn import conv_bn_act
from eqlab.runs import RunSpec

FIELDS = (24, 32, 36, 36, 64, 96)
KERNELS = (9, 7, 7, 7, 7, 5)
PADDINGS = (0, 3, 3, 3, 3, 0)
POOLS = (False, True, False, True, False, False)
HIDDEN = 96


def scaled_fields(width: float) -> tuple[int, ...]:
    return tuple(max(1, round(f * width)) for f in FIELDS)


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
            layers = conv_bn_act(c_in, c, k, p, pool=pool)
            if not blocks and upsample > 1:  # Scale-MNIST 56×56: ×2 upsampling at the model input
                layers.insert(0, nn.Upsample(scale_factor=upsample, mode="bilinear", align_corners=False))
            blocks.append(nn.Sequential(*layers))
            c_in = c
        self.blocks = nn.ModuleList(blocks)
        hidden = max(16, round(HIDDEN * width))
        self.head = GroupPoolHead(layouts[-1] or group_size, fields[-1], hidden, n_classes)
        self.taps = tuple(Tap(f"conv{i + 1}", c, group_size, lay) for i, (c, lay) in enumerate(zip(chans, layouts, strict=True)))


class RotMnist6E2(TappedModel):
    """The e2cnn twin: regular fields of ``group`` (r4, r8 or r4r) at the same fields."""

    def __init__(self, width: float = 1.0, group: str = "r4", in_channels: int = 1, n_classes: int = 10) -> None:
        super().__init__()
        from eqlab.models import e2cnn as e2  # imports e2cnn: only when a twin is built

        act = e2.gspace(group)
        size = act.regular_repr.size
        fields = scaled_fields(width)
        t_in = e2.trivial_type(act, in_channels)
        blocks = []
        for t_out, k, p, pool in zip(e2.regular_types(act, fields), KERNELS, PADDINGS, POOLS, strict=True):
            blocks.append(e2.E2Sequential(t_in, *e2.conv_bn_act(t_in, t_out, k, p, pool=pool)))
            t_in = t_out
        self.blocks = nn.ModuleList(blocks)
        self.head = GroupPoolHead(size, fields[-1], max(16, round(HIDDEN * width)), n_classes)
        self.taps = tuple(Tap(f"conv{i + 1}", f * size, size, rep=group) for i, f in enumerate(fields))


def model_kwargs(run: RunSpec, width: float, input_size: int) -> dict[str, Any]:
    """The builder arguments params decide (the data adds ``in_channels`` and ``n_classes``); the net
    takes its dataset's size, ``upsample`` times (family ``cnn``)."""
    del input_size
    kwargs = family_kwargs(run, width)
    if run.upsample > 1:
        if run.family == "e2cnn":
            raise ValueError("upsample applies to family 'cnn' only")
        kwargs["upsample"] = run.upsample
    return kwargs


def build(family: str, **kwargs: Any) -> TappedModel:
    return build_family(RotMnist6, RotMnist6E2, family, **kwargs)
