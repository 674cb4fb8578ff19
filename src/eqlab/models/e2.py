"""Exactly equivariant twins built with ``e2cnn``: C_N (R4, R8) and D4 (R4R) regular fields.

Same kernels, paddings, pools and fields as the IEN/CNN models; each field is a regular
representation, stored as ``|G|`` contiguous channels, so the tap layout is identical and the same
group pooling and metrics apply (a max over a regular field is invariant to the permutation g acts
by, so the pooled map transforms as a scalar field: φ̂(g·x) = g·φ̂(x)). For exact elements (quarter
turns, the D4 mirrors) the metric must read float noise: the check that metric and actions are right.
"""

from __future__ import annotations

import numpy as np
import torch
from e2cnn import nn as enn
from torch import nn

from eqlab.groups import e2cnn_gspace
from eqlab.models import E2_GROUPS
from eqlab.models.base import Tap, TappedModel
from eqlab.models.rotmnist import HIDDEN, KERNELS, PADDINGS, POOLS, GroupPoolHead, scaled_fields
from eqlab.models.tim import (
    RESNET_BASE,
    RESNET_MULT,
    VGG_BASE,
    VGG_HIDDEN,
    VGG_MULT,
    VGG_POOL_AFTER,
    PoolAvgHead,
    Resize,
    check_input_size,
    tim_fields,
)


class _NumpyCopyCompat:
    """NumPy seen by ``e2cnn.kernels.utils``: ``np.array(v, copy=False)`` (an error in NumPy 2 when a
    copy is needed) becomes ``np.asarray(v)``, which is what it meant under NumPy 1."""

    def __getattr__(self, name: str):
        return getattr(np, name)

    @staticmethod
    def array(obj, *args, copy=True, **kwargs):
        return np.asarray(obj, *args, **kwargs) if copy is False else np.array(obj, *args, copy=copy, **kwargs)


def _numpy2_compat() -> None:
    """e2cnn 0.2.3 predates NumPy 2; two of its idioms fail there, both on the flip groups (D4):
    ``ndarray.tostring()`` in four kernel-basis ``__hash__``es (``tobytes()`` gives the same bytes)
    and ``np.array(x, copy=False)`` in the harmonic samplers. Tests build D4 models and check their
    exact equivariance, so a wrong patch cannot pass silently."""
    from e2cnn.kernels import irreps_basis as ib
    from e2cnn.kernels import utils as ku

    ku.np = _NumpyCopyCompat()

    def _h(obj) -> int:
        gamma = obj.gamma.tobytes() if hasattr(obj.gamma, "tobytes") else obj.gamma
        return hash(obj.in_irrep) + hash(obj.out_irrep) + hash(obj.mu.tobytes()) + hash(gamma)

    for name in ("R2FlipsSolution", "R2ContinuousRotationsSolution", "R2FlipsDiscreteRotationsSolution",
                 "R2FlipsContinuousRotationsSolution"):
        getattr(ib, name).__hash__ = _h


_numpy2_compat()


def gspace(group: str):
    """The e2cnn action of a named group on the plane (``eqlab.groups.e2cnn_gspace``); unknown names
    list the allowed ones."""
    if group not in E2_GROUPS:
        raise ValueError(f"e2cnn models support groups {list(E2_GROUPS)}, not {group!r}")
    return e2cnn_gspace(group)


def _group_of(group: str | None, group_size: int) -> str:
    if group is None:
        return {4: "r4", 8: "r8"}.get(group_size, f"c{group_size}")
    return group


class _E2Sequential(nn.Module):
    """e2cnn layers on plain tensors in and out (so taps stay ordinary tensors)."""

    def __init__(self, in_type, *layers: nn.Module, pre: nn.Module | None = None) -> None:
        super().__init__()
        self.in_type = in_type
        self.pre = pre if pre is not None else nn.Identity()
        self.body = enn.SequentialModule(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(enn.GeometricTensor(self.pre(x), self.in_type)).tensor


def _conv_bn_act(t_in, t_out, k: int, p: int, stride: int = 1, pool: bool = False, act: str = "elu", bias: bool = True):
    layers = [enn.R2Conv(t_in, t_out, kernel_size=k, padding=p, stride=stride, bias=bias), enn.InnerBatchNorm(t_out)]
    if pool:
        layers.append(enn.PointwiseMaxPool(t_out, 2))
    layers.append(enn.ELU(t_out) if act == "elu" else enn.ReLU(t_out))
    return layers


class RotMnist6E2(TappedModel):
    def __init__(
        self, width: float = 1.0, group_size: int = 4, in_channels: int = 1, n_classes: int = 10,
        group: str | None = None,
    ) -> None:
        super().__init__()
        act = gspace(_group_of(group, group_size))
        size = act.regular_repr.size
        fields = scaled_fields(width)
        t_in = enn.FieldType(act, in_channels * [act.trivial_repr])
        blocks = []
        for f, k, p, pool in zip(fields, KERNELS, PADDINGS, POOLS, strict=True):
            t_out = enn.FieldType(act, f * [act.regular_repr])
            blocks.append(_E2Sequential(t_in, *_conv_bn_act(t_in, t_out, k, p, pool=pool)))
            t_in = t_out
        self.blocks = nn.ModuleList(blocks)
        self.head = GroupPoolHead(size, fields[-1], max(16, round(HIDDEN * width)), n_classes)
        self.taps = tuple(Tap(f"conv{i + 1}", f * size, size) for i, f in enumerate(fields))


class _E2BasicBlock(enn.EquivariantModule):
    def __init__(self, t_in, t_out, stride: int) -> None:
        super().__init__()
        self.in_type, self.out_type = t_in, t_out
        self.body = enn.SequentialModule(
            enn.R2Conv(t_in, t_out, 3, padding=1, stride=stride, bias=False), enn.InnerBatchNorm(t_out),
            enn.ReLU(t_out), enn.R2Conv(t_out, t_out, 3, padding=1, bias=False), enn.InnerBatchNorm(t_out))
        self.shortcut = None
        if stride != 1 or t_in != t_out:
            self.shortcut = enn.SequentialModule(enn.R2Conv(t_in, t_out, 1, stride=stride, bias=False),
                                                 enn.InnerBatchNorm(t_out))
        self.relu = enn.ReLU(t_out)

    def forward(self, x):
        skip = x if self.shortcut is None else self.shortcut(x)
        return self.relu(self.body(x) + skip)

    def evaluate_output_shape(self, input_shape):
        return self.body.evaluate_output_shape(input_shape)


class ResNet18E2(TappedModel):
    def __init__(
        self, width: float = 1.0, group: str = "r4", in_channels: int = 3, n_classes: int = 100, input_size: int = 65,
    ) -> None:
        super().__init__()
        check_input_size("resnet18", input_size)
        act = gspace(group)
        size = act.regular_repr.size
        fields = tim_fields(RESNET_BASE, RESNET_MULT, size, width)
        types = [enn.FieldType(act, f * [act.regular_repr]) for f in fields]
        t_img = enn.FieldType(act, in_channels * [act.trivial_repr])
        stages: list[nn.Module] = []
        for i in range(4):
            body = [_E2BasicBlock(types[i], types[i + 1], 1 if i == 0 else 2), _E2BasicBlock(types[i + 1], types[i + 1], 1)]
            if i == 0:
                stem = [enn.R2Conv(t_img, types[0], 3, padding=1, bias=False), enn.InnerBatchNorm(types[0]), enn.ReLU(types[0])]
                stages.append(_E2Sequential(t_img, *stem, *body, pre=Resize(input_size)))
            else:
                stages.append(_E2Sequential(types[i], *body))
        self.blocks = nn.ModuleList(stages)
        self.head = PoolAvgHead(size, fields[-1], n_classes)
        self.taps = tuple(Tap(f"stage{i + 1}", fields[i + 1] * size, size) for i in range(4))


class VGGE2(TappedModel):
    def __init__(
        self, width: float = 1.0, group: str = "r4", in_channels: int = 3, n_classes: int = 100, input_size: int = 64,
    ) -> None:
        super().__init__()
        check_input_size("vgg", input_size)
        act = gspace(group)
        size = act.regular_repr.size
        fields = tim_fields(VGG_BASE, VGG_MULT, size, width)
        t_in = enn.FieldType(act, in_channels * [act.trivial_repr])
        blocks = []
        for i, f in enumerate(fields):
            t_out = enn.FieldType(act, f * [act.regular_repr])
            layers = _conv_bn_act(t_in, t_out, 3, 1, pool=i in VGG_POOL_AFTER, act="relu", bias=False)
            blocks.append(_E2Sequential(t_in, *layers, pre=Resize(input_size) if i == 0 else None))
            t_in = t_out
        self.blocks = nn.ModuleList(blocks)
        self.head = PoolAvgHead(size, fields[-1], n_classes, max(16, round(VGG_HIDDEN * width)))
        self.taps = tuple(Tap(f"conv{i + 1}", f * size, size) for i, f in enumerate(fields))


def build_rotmnist6_e2(
    width: float = 1.0, group_size: int = 4, in_channels: int = 1, n_classes: int = 10, group: str | None = None,
) -> RotMnist6E2:
    return RotMnist6E2(width, group_size, in_channels, n_classes, group)


def build_resnet18_e2(
    width: float = 1.0, group: str = "r4", in_channels: int = 3, n_classes: int = 100, input_size: int = 65,
) -> ResNet18E2:
    return ResNet18E2(width, group, in_channels, n_classes, input_size)


def build_vgg_e2(
    width: float = 1.0, group: str = "r4", in_channels: int = 3, n_classes: int = 100, input_size: int = 64,
) -> VGGE2:
    return VGGE2(width, group, in_channels, n_classes, input_size)
