"""Building blocks of the ``e2cnn`` family: exactly equivariant twins built with ``e2cnn``.

Each field is a regular representation of C_N (R4, R8) or D4 (R4R), stored as ``|G|`` contiguous
channels, so the twins' taps have the same layout as the plain nets and the same group pooling and
metrics apply (a max over a regular field is invariant to the permutation g acts by, so the pooled
map transforms as a scalar field: φ̂(g·x) = g·φ̂(x)). For exact elements (quarter turns, the D4
mirrors) the measured error must read float noise: the check that metric and actions are right.

Importing this module imports ``e2cnn`` (a few seconds); the architecture modules import it only
when an e2cnn twin is built, so plain runs never pay for it.
"""

from __future__ import annotations

import torch
from e2cnn import nn as enn
from torch import nn

from eqlab.e2compat import patch_e2cnn
from eqlab.groups import e2cnn_gspace
from eqlab.runs import E2CNN_GROUPS

patch_e2cnn()


def gspace(group: str):
    """The e2cnn action of a named group on the plane (:func:`eqlab.groups.e2cnn_gspace`); groups the
    twins are not built for list the allowed ones."""
    if group not in E2CNN_GROUPS:
        raise ValueError(f"e2cnn models support groups {list(E2CNN_GROUPS)}, not {group!r}")
    return e2cnn_gspace(group)


def regular_types(act, fields: tuple[int, ...]) -> list:
    """One field type of ``f`` regular fields per layer."""
    return [enn.FieldType(act, f * [act.regular_repr]) for f in fields]


def trivial_type(act, channels: int):
    return enn.FieldType(act, channels * [act.trivial_repr])


class E2Sequential(nn.Module):
    """e2cnn layers on plain tensors in and out (so taps stay ordinary tensors)."""

    def __init__(self, in_type, *layers: nn.Module, pre: nn.Module | None = None) -> None:
        super().__init__()
        self.in_type = in_type
        self.pre = pre if pre is not None else nn.Identity()
        self.body = enn.SequentialModule(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(enn.GeometricTensor(self.pre(x), self.in_type)).tensor


def conv_bn_act(t_in, t_out, k: int, p: int, stride: int = 1, pool: bool = False, act: str = "elu", bias: bool = True):
    """R2Conv → InnerBatchNorm → [2×2 pointwise max-pool] → ELU or ReLU."""
    layers = [enn.R2Conv(t_in, t_out, kernel_size=k, padding=p, stride=stride, bias=bias), enn.InnerBatchNorm(t_out)]
    if pool:
        layers.append(enn.PointwiseMaxPool(t_out, 2))
    layers.append(enn.ELU(t_out) if act == "elu" else enn.ReLU(t_out))
    return layers


class E2BasicBlock(enn.EquivariantModule):
    """The ResNet basic block on regular fields."""

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
