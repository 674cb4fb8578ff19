"""Dataset IDs → (protocol config, per-profile sizes, builder). ``make_dataset@<id>`` dispatches here.

Every builder takes ``(config, sizes, raw_root)`` and returns ``(splits, meta)``; ``raw_root`` is
``data/raw``, inside which each dataset reads its own folder (``mnist/``, ``mnist_rotation_new/``,
``tiny-imagenet-200/``, ``kth_tips/``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eqlab.data.blobs import BlobsConfig, BlobSizes, build_blobs
from eqlab.data.rot_mnist import RotMnistConfig, SplitSizes, build_rot_mnist
from eqlab.data.scale_mnist import ScaleMnistConfig, build_scale_mnist
from eqlab.data.store import Split
from eqlab.data.tinyimagenet import TimConfig, TimSizes, build_tim

Builder = Callable[[Any, Any, Path], tuple[dict[str, Split], dict]]


@dataclass(frozen=True)
class DatasetSpec:
    config: type
    sizes: type
    build: Builder
    title: str


DATASETS: dict[str, DatasetSpec] = {
    "rot_mnist": DatasetSpec(RotMnistConfig, SplitSizes,
                             lambda c, s, r: build_rot_mnist(c, s, r / "mnist", r / "mnist_rotation_new"),
                             "Rot-MNIST"),
    "scale_mnist": DatasetSpec(ScaleMnistConfig, SplitSizes, lambda c, s, r: build_scale_mnist(c, s, r / "mnist"),
                               "Scale-MNIST"),
    "rot_tim": DatasetSpec(TimConfig, TimSizes, lambda c, s, r: build_tim("rot_tim", c, s, r), "Rot-TIM"),
    "r2_tim": DatasetSpec(TimConfig, TimSizes, lambda c, s, r: build_tim("r2_tim", c, s, r), "R2-TIM"),
    "blobs": DatasetSpec(BlobsConfig, BlobSizes, build_blobs, "Textured blobs"),
}
