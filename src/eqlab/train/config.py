"""Typed views of the ``train`` params section (the run spec itself is :mod:`eqlab.runs`)."""

from __future__ import annotations

from dataclasses import dataclass, field


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
