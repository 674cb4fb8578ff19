"""Plain-convolution building blocks of the ``cnn`` family (the IEN layout: channels = fields × |G|)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    """ResNet basic block: two 3×3 convs with BN, a 1×1 projection shortcut when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, 0, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def conv_bn_act(
    c_in: int, c_out: int, k: int, p: int, pool: bool = False, act: str = "elu", bias: bool = True,
    pool_after_act: bool = False,
) -> list[nn.Module]:
    """Conv → BatchNorm → [2×2 max-pool] → ELU or ReLU (``pool_after_act``: the pool after the
    activation, as in VGG). The same layer order as :func:`eqlab.models.e2cnn.conv_bn_act`."""
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, k, padding=p, bias=bias), nn.BatchNorm2d(c_out)]
    activation = nn.ELU() if act == "elu" else nn.ReLU()
    pooling = [nn.MaxPool2d(2)] if pool else []
    return layers + ([activation, *pooling] if pool_after_act else [*pooling, activation])
