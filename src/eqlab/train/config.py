"""Typed views of the ``train`` params section."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class OptimConfig:
    """``train.optim``: Adam with the paper's one-cycle schedule."""

    batch_size: int = field(default=64, metadata={"min": 1})
    lr_min: float = field(default=1e-5, metadata={"min": 0.0})
    lr_max: float = field(default=5e-3, metadata={"min": 0.0})
    rise: float = field(default=0.25, metadata={"min": 0.0, "max": 1.0})
    weight_decay: float = field(default=1e-7, metadata={"min": 0.0})


@dataclass(frozen=True)
class ProfileConfig:
    """``train.<profile>``: schedule length and model width for the active profile."""

    cycle_epochs: int = field(metadata={"min": 1})
    tail_epochs: int = field(default=0, metadata={"min": 0})
    width: float = field(default=1.0, metadata={"min": 0.01})
    equivariance_images: int = field(default=1000, metadata={"min": 1})
    # TinyImageNet-family models resize their 64×64 inputs to this (ResNet18: size + 1, odd)
    input_size: int = field(default=64, metadata={"min": 16})
    # per-architecture width instead of ``width`` (keys: resnet18, vgg, rotmnist6; e2 twins share them)
    arch_width: dict[str, float] = field(default_factory=dict)

    def width_of(self, arch: str) -> float:
        return self.arch_width.get(arch.removesuffix("_e2"), self.width)


@dataclass(frozen=True)
class RunConfig:
    """``train.models.<run>``: what one short run ID stands for."""

    arch: str
    dataset: str
    group: Literal["r4", "r8", "r4r", "scale"] = "r4"  # see eqlab.groups.GROUPS
    augment: bool = False
    beta: float = field(default=0.0, metadata={"min": 0.0})
    seed: int = 0
    het: tuple[int, ...] = ()  # Het-IEN group sizes, e.g. [4, 2, 1]; empty = one group size
    upsample: int = field(default=1, metadata={"min": 1, "max": 4})  # ×2 at the input: Scale-MNIST 56×56
