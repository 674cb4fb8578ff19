"""Scale-MNIST (the SESN protocol, IEN Table 8): each digit shrunk about the centre by s ~ U[0.3, 1].

Protocol: MNIST train and test pooled (or the embedded digits), a class-stratified draw of
train / val / test by seed (one *realisation* per seed; the paper uses seeds 0–5). Each digit is
resized to ``n = round(28·s)`` pixels with antialiased bicubic interpolation (as PIL's bicubic
resize does) and pasted at the centre of a zero 28×28 canvas. ``scale`` stores the effective
factor n/28, ``scale_drawn`` the drawn s. The 56×56 variant is ×2 upsampling at the model input, not
a different dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from eqlab.data import raw
from eqlab.data.layout import choose
from eqlab.data.store import Split, SplitSizes


@dataclass(frozen=True)
class ScaleMnistConfig:
    source: Literal["auto", "embedded", "mnist_idx"] = "auto"
    scale_min: float = field(default=0.3, metadata={"min": 0.05, "max": 1.0})
    scale_max: float = field(default=1.0, metadata={"min": 0.05, "max": 1.0})
    seed: int = 0


RAW_SOURCES = ("mnist_idx",)  # what ``auto`` looks for in data/raw


def stratified_split(labels: np.ndarray, sizes: SplitSizes, seed: int) -> dict[str, np.ndarray]:
    """Disjoint index sets whose class proportions match the pool's (largest-remainder rounding)."""
    total = sizes.train + sizes.val + sizes.test
    if total > len(labels):
        raise ValueError(f"the source holds {len(labels)} digits; train+val+test asks for {total}")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    per_class = {c: rng.permutation(np.flatnonzero(labels == c)) for c in classes}
    taken = dict.fromkeys(classes, 0)
    out = {}
    for name, n in (("train", sizes.train), ("val", sizes.val), ("test", sizes.test)):
        want = n * counts / counts.sum()
        k = np.floor(want).astype(int)
        k[np.argsort(-(want - k), kind="stable")[: n - k.sum()]] += 1
        idx = [per_class[c][taken[c] : taken[c] + kc] for c, kc in zip(classes, k, strict=True)]
        for c, kc in zip(classes, k, strict=True):
            taken[c] += kc
        out[name] = rng.permutation(np.concatenate(idx))
    return out


def shrink_digits(images: np.ndarray, scales: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 ``(N, 28, 28)`` → uint8 ``(N, 1, 28, 28)`` shrunk and centred, plus the effective scales."""
    n_img, h, w = images.shape
    out = np.zeros((n_img, 1, h, w), np.uint8)
    eff = np.empty(n_img, np.float64)
    for i in range(n_img):
        size = max(1, int(round(h * scales[i])))
        x = torch.from_numpy(images[i].astype(np.float32)).view(1, 1, h, w)
        y = F.interpolate(x, size=(size, size), mode="bicubic", antialias=True, align_corners=False)
        top = (h - size) // 2
        out[i, 0, top : top + size, top : top + size] = y.clamp(0, 255).round().to(torch.uint8).numpy()[0, 0]
        eff[i] = size / h
    return out, eff


def build_scale_mnist(cfg: ScaleMnistConfig, sizes: SplitSizes, raw_root: Path) -> tuple[dict[str, Split], dict]:
    if cfg.scale_min > cfg.scale_max:
        raise ValueError("make_dataset.scale_mnist: scale_min must not exceed scale_max")
    source, folder = choose(raw_root, cfg.source, RAW_SOURCES)
    pool = raw.digit_pool(source, folder)
    parts = stratified_split(pool.labels, sizes, cfg.seed)
    rng = np.random.default_rng([cfg.seed, 1])
    splits = {}
    for name, idx in parts.items():
        s = rng.uniform(cfg.scale_min, cfg.scale_max, size=len(idx))
        images, eff = shrink_digits(pool.images[idx], s)
        splits[name] = Split(images, pool.labels[idx], {"scale": eff, "scale_drawn": s})
    meta = {
        "dataset": "scale_mnist", "source": source, "source_requested": cfg.source, "origin": pool.origin,
        "protocol": {"canvas": [28, 28], "scale": f"s ~ U[{cfg.scale_min}, {cfg.scale_max}], about the centre",
                     "interpolation": "bicubic with antialiasing, integer target size round(28·s)",
                     "split": "class-stratified draw from the pooled digits", "realisation_seed": cfg.seed,
                     "variant_56": "×2 upsampling at the model input"},
    }
    return splits, meta


def spec(name: str):
    """``scale_mnist`` for the dataset registry."""
    from eqlab.data.registry import DatasetSpec

    return DatasetSpec(ScaleMnistConfig, SplitSizes, build_scale_mnist, "Scale-MNIST", RAW_SOURCES)
