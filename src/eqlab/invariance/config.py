"""Params section ``invariance_review``: shared keys at the top and under ``pooling``, ``scattering`` and
``texture``; sizes only under ``invariance_review.<profile>`` (:func:`eqlab.probes.profiled.profiled_config`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from eqlab.probes.profiled import profiled_config

SECTION = "invariance_review"


@dataclass(frozen=True)
class PoolingParams:
    variants: tuple[str, ...] = ("max", "avg", "lp2", "lp3.4", "lp4", "lp_learned", "stochastic", "heterogeneous",
                                 "entropy", "max+gmax")  # fmt: skip
    widths: tuple[int, ...] = (6, 12, 24)
    crop: int = field(default=20, metadata={"min": 8, "max": 28})
    batch: int = field(default=50, metadata={"min": 1})
    lr: float = field(default=0.05, metadata={"min": 0.0})
    p_init: float = field(default=3.0, metadata={"min": 1.01})
    schedule: str = "cosine"  # the learning rate over the run: constant | cosine (to 0)
    evals_per_epoch: int = field(default=5, metadata={"min": 1})  # validation checkpoints per epoch
    target_acc: float = field(default=0.9, metadata={"min": 0.0, "max": 1.0})  # epochs to reach it: the speed


@dataclass(frozen=True)
class ScatteringParams:
    J: int = field(default=3, metadata={"min": 1})
    L: int = field(default=8, metadata={"min": 1})
    size: int = field(default=32, metadata={"min": 28})
    sigma0: float = field(default=0.8, metadata={"min": 0.1})
    xi0: float = field(default=3 * math.pi / 4, metadata={"min": 0.1})
    slant: float = field(default=0.5, metadata={"min": 0.05})
    exclude: int = field(default=9, metadata={"min": 0, "max": 9})
    max_angle: float = field(default=180.0, metadata={"min": 0.0, "max": 180.0})
    C: float = field(default=0.1, metadata={"min": 0.0})
    cnn_widths: tuple[int, ...] = (6, 12, 24)


@dataclass(frozen=True)
class TextureParams:
    size: int = field(default=64, metadata={"min": 16})
    J: int = field(default=4, metadata={"min": 2})
    strokes: int = field(default=80, metadata={"min": 1})
    length: float = field(default=8.0, metadata={"min": 1.0})
    separated: float = field(default=2.0, metadata={"min": 0.0})


@dataclass(frozen=True)
class Sizes:
    seeds: tuple[int, ...]
    n_train: int = field(metadata={"min": 10})
    n_val: int = field(metadata={"min": 10})
    n_test: int = field(metadata={"min": 10})
    epochs: int = field(metadata={"min": 1})
    texture_images: int = field(metadata={"min": 2})
    workers: int = field(metadata={"min": 1})


@dataclass(frozen=True)
class InvarianceConfig:
    seeds: tuple[int, ...]
    n_train: int
    n_val: int
    n_test: int
    epochs: int
    texture_images: int
    workers: int
    split_seed: int = 0
    pooling: PoolingParams = PoolingParams()
    scattering: ScatteringParams = ScatteringParams()
    texture: TextureParams = TextureParams()

    def __post_init__(self) -> None:
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError(f"seeds must be distinct and non-empty, got {list(self.seeds)}")
        if len(self.pooling.widths) != 3 or len(self.scattering.cnn_widths) != 3:
            raise ValueError("pooling.widths and scattering.cnn_widths need three layer widths")
        if self.scattering.size % 2**self.scattering.J or self.texture.size % 2**self.texture.J:
            raise ValueError("scattering.size (texture.size) must be a multiple of 2^J")
        if self.n_train + self.n_val + self.n_test > 4500:
            raise ValueError("n_train + n_val + n_test must leave room in 5,000 digits (4,500 without one class)")


def config_from_params(params: dict[str, Any]) -> InvarianceConfig:
    """The stage's config from params (errors name the key)."""
    return profiled_config(params, SECTION, InvarianceConfig, Sizes)
