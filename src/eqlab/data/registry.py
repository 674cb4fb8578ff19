"""Dataset IDs → the module that builds them. ``make_dataset@<id>`` dispatches here.

Each dataset module exposes ``spec(name) -> DatasetSpec``: its protocol config, per-profile sizes and a
builder taking ``(config, sizes, raw_root)`` and returning ``(splits, meta)``; ``raw_root`` is
``data/raw``, inside which each dataset reads its own folder (``mnist/``, ``mnist_rotation_new/``,
``tiny-imagenet-200/``, ``kth_tips/``; :mod:`eqlab.data.layout` says what each must hold, and
``raw_sources`` which of them ``source: auto`` looks for). Modules are imported on use, so a
make_dataset stage depends on its own module only and a new dataset reruns nothing that exists.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eqlab.data.store import Split

Builder = Callable[[Any, Any, Path], tuple[dict[str, Split], dict]]

MODULES: dict[str, str] = {
    "rot_mnist": "eqlab.data.rot_mnist",
    "scale_mnist": "eqlab.data.scale_mnist",
    "rot_tim": "eqlab.data.tinyimagenet",
    "r2_tim": "eqlab.data.tinyimagenet",
    "blobs": "eqlab.data.blobs",
}
DATASETS: tuple[str, ...] = tuple(MODULES)


@dataclass(frozen=True)
class DatasetSpec:
    config: type
    sizes: type
    build: Builder
    title: str
    raw_sources: tuple[str, ...] = ()  # the real sources ``auto`` looks for in data/raw, preferred first


def dataset_spec(name: str) -> DatasetSpec:
    """The spec of dataset ``name``; unknown IDs list the allowed ones."""
    if name not in MODULES:
        raise ValueError(f"unknown dataset {name!r}; allowed values: {sorted(MODULES)}")
    return importlib.import_module(MODULES[name]).spec(name)
