"""Typed views of the ``train`` params section (the run spec itself is :mod:`eqlab.runs`)."""

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
    # TinyImageNet-family models resize their 64×64 inputs to this (ResNet18: size + 1, odd)
    input_size: int = field(default=64, metadata={"min": 16})
    # per-architecture width instead of ``width`` (keys: architecture IDs; both families share them)
    arch_width: dict[str, float] = field(default_factory=dict)

    def width_of(self, arch: str) -> float:
        return self.arch_width.get(arch, self.width)


@dataclass(frozen=True)
class DistributedConfig:
    """``train.distributed``: data-parallel processes per run (:mod:`eqlab.train.distributed`)."""

    nproc: int = field(default=1, metadata={"min": 1})  # 1: one process, no torchrun
    backend: str = "auto"  # auto (nccl on CUDA, gloo on CPU) | gloo | nccl


@dataclass(frozen=True)
class ComputeConfig:
    """``train.compute``: how the training step computes (:func:`eqlab.train.loop.train`). ``bf16``
    autocasts the forward pass and the losses to bfloat16 (weights, Adam and evaluation stay float32);
    ``channels_last`` stores activations and conv weights NHWC. Both are for GPUs (tensor cores, cuDNN's
    NHWC kernels); both change the rounding, so results match float32 / NCHW within tolerance only."""

    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
