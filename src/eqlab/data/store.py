"""On-disk dataset format: one directory, plain ``.npy`` arrays and a ``meta.json``.

``<dir>/<split>_images.npy`` uint8 ``(N, C, H, W)``; ``<split>_labels.npy`` int64 ``(N,)``;
``<split>_<name>.npy`` for per-sample factors (``angle`` in radians, ``scale``, ``flip``; NaN when
the source does not say); ``<split>_targets.npy`` uint8 ``(N, 1, H, W)`` for dense targets (boundary
maps); ``meta.json`` with the source used, sizes, class counts and the protocol.
``.npy`` carries no time stamp, so the same params give the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from eqlab.io import atomic_path, dumps_json, read_json


@dataclass(frozen=True)
class SplitSizes:
    """``make_dataset.<profile>.<id>`` for datasets sized by split (train / val / test counts)."""

    train: int
    val: int
    test: int


@dataclass(frozen=True)
class Split:
    images: np.ndarray  # uint8 (N, C, H, W)
    labels: np.ndarray  # int64 (N,)
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    targets: np.ndarray | None = None  # uint8 (N, 1, H, W) dense targets, e.g. boundary maps

    def __post_init__(self) -> None:
        if self.images.dtype != np.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {self.images.shape}")
        if self.targets is not None and (self.targets.dtype != np.uint8 or self.targets.shape[0] != len(self.images)):
            raise ValueError(f"targets must be uint8 with one entry per image, got {self.targets.dtype} {self.targets.shape}")
        n = len(self.images)
        for name, arr in {"labels": self.labels, **self.factors}.items():
            if len(arr) != n:
                raise ValueError(f"{name} has {len(arr)} entries for {n} images")


def save_dataset(path: str | Path, splits: dict[str, Split], meta: dict[str, Any]) -> None:
    """Write all splits and ``meta.json`` atomically as one directory."""
    with atomic_path(path) as tmp:
        tmp.mkdir()
        for name, s in splits.items():
            np.save(tmp / f"{name}_images.npy", np.ascontiguousarray(s.images))
            np.save(tmp / f"{name}_labels.npy", s.labels.astype(np.int64))
            for f, arr in s.factors.items():
                np.save(tmp / f"{name}_{f}.npy", arr.astype(np.float32))
            if s.targets is not None:
                np.save(tmp / f"{name}_targets.npy", np.ascontiguousarray(s.targets))
        full = dict(meta)
        full["splits"] = {
            name: {
                "n": int(len(s.labels)),
                "shape": list(s.images.shape[1:]),
                "class_counts": np.bincount(s.labels, minlength=int(s.labels.max(initial=0)) + 1).tolist(),
                "factors": sorted(s.factors),
                "targets": s.targets is not None,
            }
            for name, s in splits.items()
        }
        (tmp / "meta.json").write_text(dumps_json(full), encoding="utf-8")


def load_meta(path: str | Path) -> dict[str, Any]:
    p = Path(path) / "meta.json"
    if not p.exists():
        raise FileNotFoundError(f"not a dataset directory (no meta.json): {path}")
    return read_json(p)


def load_split(path: str | Path, split: str) -> Split:
    p = Path(path)
    meta = load_meta(p)
    if split not in meta["splits"]:
        raise ValueError(f"dataset {p} has no split {split!r}; splits: {sorted(meta['splits'])}")
    factors = {
        f: np.load(p / f"{split}_{f}.npy", allow_pickle=False) for f in meta["splits"][split]["factors"]
    }
    targets = np.load(p / f"{split}_targets.npy", allow_pickle=False) if meta["splits"][split].get("targets") else None
    return Split(
        np.load(p / f"{split}_images.npy", allow_pickle=False),
        np.load(p / f"{split}_labels.npy", allow_pickle=False),
        factors,
        targets,
    )


def to_float(images):
    """uint8 images (a torch tensor) → float32 in [0, 1]."""
    return images.float().div_(255.0)
