"""Textured blobs for boundary detection (Jacobsen's thesis, Ch. 4), three levels of difficulty.

A blob is a star-shaped region r(θ) < r₀(1 + Σ_{k=1..4} a_k cos(kθ + φ_k)) with a jittered centre,
r₀ ~ U[0.2, 0.35]·size and a_k ~ U[0, 0.25/k]. The target marks every pixel within
``boundary_width / 2`` of the region's edge (inside or outside), from Euclidean distance transforms.

* level 1 — binary blob vs background (random polarity, contrast 0.5) plus Gaussian noise;
* level 2 — blob and background filled with two *different* textures;
* level 3 — the *same* texture, the blob's copy turned by 30°–90° and scaled by 1.5–2.5×.

In levels 2 and 3 both textures are standardised to the same mean and contrast, so intensity and
gradient magnitude say little about where the edge is. Textures: brick, grass and gravel from
scikit-image plus procedural oriented gratings and anisotropically filtered noise; a KTH-TIPS folder
(``data/raw/kth_tips/<class>/*.png|jpg``) replaces them when present (with ``source: auto`` an empty
or incomplete one is an error, never a silent fall-back: :mod:`eqlab.data.layout`).

Sample ``i`` of level ``l`` in split ``s`` depends only on ``(seed, s, l, i)``: any sample can be
regenerated alone (:func:`blob_sample`), so training may stream fresh samples while val/test are
materialised.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import ndimage

from eqlab.data.layout import IMAGE_SUFFIXES, choose, entries
from eqlab.data.raw import RawDataError
from eqlab.data.store import Split

SPLIT_IDS = {"train": 0, "val": 1, "test": 2}
RAW_SOURCES = ("kth_tips",)  # what ``auto`` looks for in data/raw


@dataclass(frozen=True)
class BlobsConfig:
    """``make_dataset.blobs``."""

    source: Literal["auto", "embedded", "kth_tips"] = "auto"
    size: int = field(default=64, metadata={"min": 16})
    boundary_width: float = field(default=2.0, metadata={"min": 0.5})
    noise: float = field(default=0.1, metadata={"min": 0.0})
    levels: tuple[int, ...] = (1, 2, 3)
    tolerance: int = field(default=2, metadata={"min": 0})
    seed: int = 0


@dataclass(frozen=True)
class BlobSizes:
    """``make_dataset.<profile>.blobs``: samples per level and split."""

    train: int = field(metadata={"min": 1})
    val: int = field(metadata={"min": 1})
    test: int = field(metadata={"min": 1})


def _standardise(t: np.ndarray) -> np.ndarray:
    return (t - t.mean()) / (t.std() + 1e-9)


def procedural_textures(seed: int = 0, n: int = 256) -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng([seed, 99])
    yy, xx = np.mgrid[0:n, 0:n].astype(np.float64)
    out = []
    for k, (freq, theta) in enumerate(((0.08, 0.3), (0.15, 1.2), (0.05, 2.2))):
        g = np.sin(2 * np.pi * freq * (xx * np.cos(theta) + yy * np.sin(theta))) + 0.3 * rng.normal(size=(n, n))
        out.append((f"grating{k}", g))
    for k, sig in enumerate(((1.0, 6.0), (4.0, 0.8))):
        out.append((f"filtered_noise{k}", ndimage.gaussian_filter(rng.normal(size=(n, n)), sigma=sig)))
    return out


def embedded_textures(seed: int = 0) -> list[tuple[str, np.ndarray]]:
    import skimage.data

    bank = [(name, getattr(skimage.data, name)().astype(np.float64)) for name in ("brick", "grass", "gravel")]
    return bank + procedural_textures(seed)


def kth_textures(root: Path) -> list[tuple[str, np.ndarray]]:
    """One grey texture per class folder of a KTH-TIPS tree (its first image, sorted by name)."""
    from PIL import Image, UnidentifiedImageError

    classes = [p for p in entries(root) if p.is_dir()]
    if len(classes) < 2:
        raise RawDataError(f"{root}: expected at least two class folders of texture images")
    bank = []
    for c in classes:
        files = [p for p in entries(c) if p.suffix.lower() in IMAGE_SUFFIXES]
        if not files:
            raise RawDataError(f"{c}: no texture images ({', '.join(IMAGE_SUFFIXES)})")
        try:
            with Image.open(files[0]) as im:
                arr = np.asarray(im.convert("L"), dtype=np.float64)
        except (OSError, UnidentifiedImageError) as e:
            raise RawDataError(f"{files[0]}: not a readable image ({e})") from e
        if min(arr.shape) < 32:
            raise RawDataError(f"{files[0]}: texture too small ({arr.shape[1]}×{arr.shape[0]}), need ≥ 32 px")
        bank.append((c.name, arr))
    return bank


def _patch(tex: np.ndarray, size: int, rng: np.random.Generator, angle: float = 0.0, scale: float = 1.0) -> np.ndarray:
    """A standardised size×size patch of ``tex``, optionally turned by ``angle`` (deg) and zoomed by ``scale``."""
    need = int(np.ceil(size * 1.5 / scale)) + 2
    h, w = tex.shape
    if need > min(h, w):  # small textures (KTH-TIPS): tile first
        reps = int(np.ceil(need / min(h, w))) + 1
        tex = np.tile(tex, (reps, reps))
        h, w = tex.shape
    top, left = int(rng.integers(0, h - need + 1)), int(rng.integers(0, w - need + 1))
    p = tex[top : top + need, left : left + need]
    if scale != 1.0:
        p = ndimage.zoom(p, scale, order=1)
    if angle:
        p = ndimage.rotate(p, angle, reshape=False, order=1, mode="reflect")
    c0 = (p.shape[0] - size) // 2
    return _standardise(p[c0 : c0 + size, c0 : c0 + size])


def blob_mask(size: int, rng: np.random.Generator) -> np.ndarray:
    c = size / 2 + rng.uniform(-size / 8, size / 8, size=2)
    r0 = rng.uniform(0.2, 0.35) * size
    k = np.arange(1, 5)
    a, phi = rng.uniform(0, 0.25 / k), rng.uniform(0, 2 * np.pi, size=4)
    yy, xx = np.mgrid[0:size, 0:size] + 0.5
    theta = np.arctan2(yy - c[0], xx - c[1])
    radius = r0 * (1 + (a[:, None, None] * np.cos(k[:, None, None] * theta + phi[:, None, None])).sum(0))
    return np.hypot(yy - c[0], xx - c[1]) < radius


def boundary(mask: np.ndarray, width: float) -> np.ndarray:
    inside = ndimage.distance_transform_edt(mask)
    outside = ndimage.distance_transform_edt(~mask)
    return (mask & (inside <= width / 2)) | (~mask & (outside <= width / 2))


def blob_sample(cfg: BlobsConfig, textures: list[tuple[str, np.ndarray]], split: str, level: int, i: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Sample ``i`` of ``level`` in ``split`` → (uint8 image, uint8 boundary map), both ``size × size``."""
    rng = np.random.default_rng([cfg.seed, SPLIT_IDS[split], level, i])
    mask = blob_mask(cfg.size, rng)
    if level == 1:
        polarity = rng.choice([-1.0, 1.0])
        img = polarity * (mask - 0.5) * 0.5 + rng.normal(0, cfg.noise, size=mask.shape)
        img = 0.5 + img
    elif level in (2, 3):
        a = int(rng.integers(len(textures)))
        if level == 2:
            b = (a + 1 + int(rng.integers(len(textures) - 1))) % len(textures)
            inner = _patch(textures[a][1], cfg.size, rng)
            outer = _patch(textures[b][1], cfg.size, rng)
        else:
            outer = _patch(textures[a][1], cfg.size, rng)
            inner = _patch(textures[a][1], cfg.size, rng, angle=rng.uniform(30, 90) * rng.choice([-1, 1]),
                           scale=rng.uniform(1.5, 2.5))
        img = 0.5 + 0.15 * np.where(mask, inner, outer)
    else:
        raise ValueError(f"blob level {level}; allowed values: [1, 2, 3]")
    image = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return image, boundary(mask, cfg.boundary_width).astype(np.uint8)


def gradient_magnitude(images: np.ndarray, sigma: float = 1.0) -> np.ndarray:
    """Per-image Gaussian-derivative gradient magnitude, scaled to [0, 1] per image."""
    out = np.empty(images.shape, np.float64)
    for i, im in enumerate(images.astype(np.float64)):
        gm = ndimage.gaussian_gradient_magnitude(im, sigma)
        out[i] = gm / max(gm.max(), 1e-9)
    return out


def boundary_counts(scores: np.ndarray, targets: np.ndarray, tolerance: int, thresholds: np.ndarray
                    ) -> dict[str, np.ndarray]:
    """Per image and threshold, the counts a boundary benchmark needs, each of shape (N, T).

    ``tp_pred``: predicted pixels (score ≥ threshold) with a target pixel within ``tolerance`` (Euclidean);
    ``n_pred``: predicted pixels; ``tp_gt``: target pixels with a predicted pixel within ``tolerance``;
    ``n_gt``: target pixels (the same for every threshold). Tolerance matching without the one-to-one
    assignment of the BSDS benchmark (a documented simplification).
    """
    n, t = len(scores), len(thresholds)
    out = {k: np.zeros((n, t)) for k in ("tp_pred", "n_pred", "tp_gt", "n_gt")}
    for i, (s, tgt) in enumerate(zip(scores, targets.astype(bool), strict=True)):
        near_gt = ndimage.distance_transform_edt(~tgt) <= tolerance if tgt.any() else np.zeros(tgt.shape, bool)
        out["n_gt"][i] = tgt.sum()
        for j, th in enumerate(thresholds):
            pred = s >= th
            out["n_pred"][i, j] = pred.sum()
            out["tp_pred"][i, j] = (pred & near_gt).sum()
            if tgt.any() and pred.any():
                out["tp_gt"][i, j] = (tgt & (ndimage.distance_transform_edt(~pred) <= tolerance)).sum()
    return out


def pr_f(tp_pred, n_pred, tp_gt, n_gt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(precision, recall, F) from summed counts (any matching shapes; 0 where undefined)."""
    tp_pred, n_pred, tp_gt, n_gt = (np.asarray(a, dtype=float) for a in (tp_pred, n_pred, tp_gt, n_gt))
    precision = np.divide(tp_pred, n_pred, out=np.zeros_like(tp_pred), where=n_pred > 0)
    recall = np.divide(tp_gt, n_gt, out=np.zeros_like(tp_gt), where=n_gt > 0)
    f = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(precision),
                  where=(precision + recall) > 0)
    return precision, recall, f


def boundary_f_measure(scores: np.ndarray, targets: np.ndarray, tolerance: int,
                       thresholds: np.ndarray | None = None) -> dict[str, float]:
    """Dataset-wide best-threshold (ODS) boundary F-measure with a pixel tolerance (:func:`boundary_counts`)."""
    thresholds = np.linspace(0.05, 0.95, 19) if thresholds is None else thresholds
    c = boundary_counts(scores, targets, tolerance, thresholds)
    precision, recall, f = pr_f(*(c[k].sum(0) for k in ("tp_pred", "n_pred", "tp_gt", "n_gt")))
    best = int(np.argmax(f))
    return {"f_measure": float(f[best]), "precision": float(precision[best]), "recall": float(recall[best]),
            "threshold": float(thresholds[best])}


def build_blobs(cfg: BlobsConfig, sizes: BlobSizes, raw_root: Path) -> tuple[dict[str, Split], dict]:
    source, kth = choose(raw_root, cfg.source, RAW_SOURCES)
    textures = kth_textures(kth) if kth is not None else embedded_textures(cfg.seed)
    for lev in cfg.levels:
        if lev not in (1, 2, 3):
            raise ValueError(f"params key 'make_dataset.blobs.levels' has {lev}; allowed values: [1, 2, 3]")
    splits = {}
    for split in ("train", "val", "test"):
        n = getattr(sizes, split)
        images, targets, labels = [], [], []
        for lev in cfg.levels:
            for i in range(n):
                im, bd = blob_sample(cfg, textures, split, lev, i)
                images.append(im)
                targets.append(bd)
                labels.append(lev)
        splits[split] = Split(np.stack(images)[:, None], np.array(labels, np.int64),
                              {"level": np.array(labels, np.float32)}, np.stack(targets)[:, None])
    test = splits["test"]
    difficulty = {}
    for lev in cfg.levels:
        sel = test.labels == lev
        difficulty[f"level{lev}"] = boundary_f_measure(gradient_magnitude(test.images[sel, 0]),
                                                       test.targets[sel, 0], cfg.tolerance)
    meta = {
        "dataset": "blobs", "source": source, "source_requested": cfg.source,
        "origin": f"KTH-TIPS at {kth}" if kth is not None else "scikit-image brick/grass/gravel + procedural",
        "textures": [name for name, _ in textures],
        "protocol": {"size": [cfg.size, cfg.size], "levels": list(cfg.levels), "boundary_width": cfg.boundary_width,
                     "noise_level1": cfg.noise, "sample_seed": "numpy default_rng([seed, split, level, i])",
                     "seed": cfg.seed},
        "difficulty": {"metric": f"ODS boundary F-measure of the thresholded gradient magnitude (σ = 1), "
                                 f"tolerance {cfg.tolerance} px, on the test split",
                       "levels": difficulty},
    }
    return splits, meta


def spec(name: str):
    """``blobs`` for the dataset registry."""
    from eqlab.data.registry import DatasetSpec

    return DatasetSpec(BlobsConfig, BlobSizes, build_blobs, "Textured blobs", RAW_SOURCES)
