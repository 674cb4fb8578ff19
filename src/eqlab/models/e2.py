"""The exactly C_N-equivariant twin of :mod:`eqlab.models.rotmnist`, built with ``e2cnn``.

Same kernels, paddings, pools and fields; each field is a regular representation of C_N, stored
as ``N`` contiguous channels, so the tap layout is identical to the IEN/CNN models and the same
group pooling and metrics apply. Used as the reference that the equivariance metric reads ≈ 0
(float noise) for rot90.
"""

from __future__ import annotations

import torch
from torch import nn

from eqlab.models.base import Tap, TappedModel
from eqlab.models.rotmnist import HIDDEN, KERNELS, PADDINGS, POOLS, GroupPoolHead, scaled_fields


class _E2Block(nn.Module):
    """e2cnn layers on plain tensors in and out (so taps stay ordinary tensors)."""

    def __init__(self, in_type, out_type, k: int, p: int, pool: bool) -> None:
        super().__init__()
        from e2cnn import nn as enn

        self.in_type = in_type
        layers = [enn.R2Conv(in_type, out_type, kernel_size=k, padding=p), enn.InnerBatchNorm(out_type)]
        if pool:
            layers.append(enn.PointwiseMaxPool(out_type, 2))
        layers.append(enn.ELU(out_type))
        self.body = enn.SequentialModule(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from e2cnn import nn as enn

        return self.body(enn.GeometricTensor(x, self.in_type)).tensor


class RotMnist6E2(TappedModel):
    def __init__(self, width: float = 1.0, group_size: int = 4, in_channels: int = 1, n_classes: int = 10) -> None:
        super().__init__()
        from e2cnn import gspaces
        from e2cnn import nn as enn

        act = gspaces.Rot2dOnR2(N=group_size)
        fields = scaled_fields(width)
        t_in = enn.FieldType(act, in_channels * [act.trivial_repr])
        blocks = []
        for f, k, p, pool in zip(fields, KERNELS, PADDINGS, POOLS, strict=True):
            t_out = enn.FieldType(act, f * [act.regular_repr])
            blocks.append(_E2Block(t_in, t_out, k, p, pool))
            t_in = t_out
        self.blocks = nn.ModuleList(blocks)
        self.head = GroupPoolHead(group_size, fields[-1], max(16, round(HIDDEN * width)), n_classes)
        self.taps = tuple(Tap(f"conv{i + 1}", f * group_size, group_size) for i, f in enumerate(fields))


def build_rotmnist6_e2(width: float = 1.0, group_size: int = 4, in_channels: int = 1, n_classes: int = 10) -> RotMnist6E2:
    return RotMnist6E2(width, group_size, in_channels, n_classes)
