"""Rot-TIM and R2-TIM: TinyImageNet rotated once per image (IEN, Tables 1, 2, 4, 9).

Real data: the standard TinyImageNet folder under ``data/raw/tiny-imagenet-200/``::

    wnids.txt
    train/<wnid>/images/*.JPEG          (500 per class, 64×64)
    val/images/*.JPEG + val/val_annotations.txt   (file, wnid, bbox; 50 per class)

A tree unpacked one level too deep (``tiny-imagenet-200/tiny-imagenet-200/…``) is read where it
is; with ``source: auto`` a partial tree is an error, never a silent fall-back
(:mod:`eqlab.data.layout`). ``wnids.txt`` and ``val_annotations.txt`` must be UTF-8 (or ASCII).

``n_classes`` wnids are chosen by seed. Train images are split into ``train`` and a held-out
``val`` (the paper tuned on its test set; we keep them apart); TinyImageNet's own val images form
``test``, two rotated copies each. Every image is rotated once by θ ~ U[0, 2π) (bilinear, about
the centre) and then masked to the inscribed disk, so corners carry no orientation cue. R2-TIM
first flips each image horizontally and vertically, each with probability ``flip_prob``.

Embedded default (nothing of TinyImageNet in ``data/raw``): *not TinyImageNet*. One class per
photograph or texture that ships inside scikit-image / scikit-learn; samples are random crops
(64–160 px, resized to 64×64 with antialiasing), train/val crops from the top 65 % of each picture,
test crops from the bottom 35 % (no shared pixels). Each crop is reduced to luminance, standardised,
then given a random contrast, brightness and colour tint, so neither colour nor mean intensity
identifies the class: texture and structure do. The same rotation / flip / mask protocol follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from eqlab.data.layout import choose, is_junk, utf8_text
from eqlab.data.raw import RawDataError
from eqlab.data.store import Split
from eqlab.groups import circular_mask, rotate

RAW_SOURCES = ("tinyimagenet",)  # what ``auto`` looks for in data/raw
EMBEDDED_CLASSES = (
    "astronaut", "camera", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry",
    "moon", "coins", "clock", "cell", "brick", "grass", "gravel", "sklearn:china.jpg", "sklearn:flower.jpg",
)


@dataclass(frozen=True)
class TimConfig:
    """``make_dataset.rot_tim`` / ``make_dataset.r2_tim``."""

    source: Literal["auto", "embedded", "tinyimagenet"] = "auto"
    flip_prob: float = field(default=0.0, metadata={"min": 0.0, "max": 1.0})
    test_copies: int = field(default=2, metadata={"min": 1})
    seed: int = 0


@dataclass(frozen=True)
class TimSizes:
    """``make_dataset.<profile>.rot_tim``: per-class counts."""

    n_classes: int = field(metadata={"min": 2})
    train_per_class: int = field(metadata={"min": 1})
    val_per_class: int = field(metadata={"min": 1})
    test_per_class: int = field(metadata={"min": 1})


def _read_jpeg(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            arr = np.asarray(im.convert("RGB"))
    except (OSError, UnidentifiedImageError) as e:
        raise RawDataError(f"{path}: not a readable image ({e})") from e
    if arr.shape != (64, 64, 3):
        raise RawDataError(f"{path}: expected a 64×64 image, got {arr.shape[1]}×{arr.shape[0]}")
    return arr.transpose(2, 0, 1)


def read_tinyimagenet(root: Path, sizes: TimSizes, seed: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    """Images (uint8 ``(N, 3, 64, 64)``) and labels for train / val / test of ``n_classes`` seeded wnids."""
    wnids_file = root / "wnids.txt"
    if not wnids_file.exists():
        raise RawDataError(f"missing TinyImageNet file: expected {wnids_file}")
    wnids = sorted(w.strip() for w in utf8_text(wnids_file).split() if w.strip())
    if len(wnids) < sizes.n_classes:
        raise RawDataError(f"{wnids_file}: lists {len(wnids)} classes, params ask for {sizes.n_classes}")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(wnids, size=sizes.n_classes, replace=False).tolist())
    out: dict[str, list] = {"train": [], "val": [], "test": []}
    need = sizes.train_per_class + sizes.val_per_class
    for label, w in enumerate(chosen):
        folder = root / "train" / w / "images"
        files = sorted(f for f in folder.glob("*.JPEG") if not is_junk(f.name)) if folder.is_dir() else []
        if len(files) < need:
            raise RawDataError(f"{folder}: expected at least {need} .JPEG files, found {len(files)}")
        files = [files[i] for i in rng.permutation(len(files))[:need]]
        for i, f in enumerate(files):
            out["train" if i < sizes.train_per_class else "val"].append((_read_jpeg(f), label))
    ann = root / "val" / "val_annotations.txt"
    if not ann.exists():
        raise RawDataError(f"missing TinyImageNet file: expected {ann}")
    by_class: dict[str, list[str]] = {}
    for n, line in enumerate(utf8_text(ann).splitlines(), 1):
        parts = line.split("\t")
        if len(parts) < 2:
            raise RawDataError(f"{ann}: line {n} is not '<file>\\t<wnid>\\t…'")
        by_class.setdefault(parts[1], []).append(parts[0])
    for label, w in enumerate(chosen):
        names = sorted(by_class.get(w, []))
        if len(names) < sizes.test_per_class:
            raise RawDataError(f"{ann}: class {w} has {len(names)} val images, params ask for {sizes.test_per_class}")
        for name in names[: sizes.test_per_class]:
            out["test"].append((_read_jpeg(root / "val" / "images" / name), label))
    arrays = {k: (np.stack([a for a, _ in v]), np.array([lab for _, lab in v], np.int64)) for k, v in out.items()}
    return arrays, chosen


def _embedded_picture(name: str) -> np.ndarray:
    """Luminance in [0, 1], long side at most 512 px."""
    if name.startswith("sklearn:"):
        from sklearn.datasets import load_sample_image

        img = load_sample_image(name.split(":", 1)[1])
    else:
        import skimage.data

        img = getattr(skimage.data, name)()
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    img = img / max(img.max(), 1e-9)
    t = torch.from_numpy(img).view(1, 1, *img.shape)
    scale = 512 / max(img.shape)
    if scale < 1:
        t = F.interpolate(t, scale_factor=scale, mode="bilinear", antialias=True, align_corners=False)
    return t[0, 0].numpy()


def _crops(pic: np.ndarray, n: int, rows: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """``n`` random square crops inside the row band, resized to 64×64, photometrically randomised."""
    h, w = pic.shape
    r0, r1 = int(rows[0] * h), int(rows[1] * h)
    out = np.empty((n, 3, 64, 64), np.uint8)
    for i in range(n):
        size = int(rng.integers(64, min(160, r1 - r0, w) + 1))
        top, left = int(rng.integers(r0, r1 - size + 1)), int(rng.integers(0, w - size + 1))
        crop = torch.from_numpy(pic[top : top + size, left : left + size].copy()).view(1, 1, size, size)
        y = F.interpolate(crop, size=(64, 64), mode="bilinear", antialias=True, align_corners=False)[0, 0].numpy()
        z = (y - y.mean()) / (y.std() + 1e-6)
        lum = 128 + rng.uniform(25, 55) * z + rng.uniform(-30, 30)
        tint = rng.uniform(0.6, 1.4, size=3)
        tint /= tint.mean()
        out[i] = np.clip(lum[None] * tint[:, None, None], 0, 255).round().astype(np.uint8)
    return out


def embedded_tim(sizes: TimSizes, seed: int) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], list[str]]:
    if sizes.n_classes > len(EMBEDDED_CLASSES):
        raise ValueError(f"the embedded stand-in has {len(EMBEDDED_CLASSES)} classes; params ask for {sizes.n_classes}")
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(EMBEDDED_CLASSES, size=sizes.n_classes, replace=False).tolist())
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    labels: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for label, name in enumerate(chosen):
        pic = _embedded_picture(name)
        for split, n, band in (("train", sizes.train_per_class, (0.0, 0.65)), ("val", sizes.val_per_class, (0.0, 0.65)),
                               ("test", sizes.test_per_class, (0.65, 1.0))):
            parts[split].append(_crops(pic, n, band, rng))
            labels[split].append(np.full(n, label, np.int64))
    return {k: (np.concatenate(parts[k]), np.concatenate(labels[k])) for k in parts}, chosen


def rotate_and_mask(images: np.ndarray, angles: np.ndarray, hflip: np.ndarray, vflip: np.ndarray) -> np.ndarray:
    """Flip (where asked), rotate counter-clockwise by ``angles`` (bilinear), zero outside the disk."""
    x = torch.from_numpy(images.astype(np.float64))
    x = torch.where(torch.from_numpy(hflip).view(-1, 1, 1, 1), x.flip(-1), x)
    x = torch.where(torch.from_numpy(vflip).view(-1, 1, 1, 1), x.flip(-2), x)
    out = torch.cat([rotate(x[i : i + 256], torch.from_numpy(angles[i : i + 256])) for i in range(0, len(x), 256)])
    out = out * circular_mask(*images.shape[-2:])
    return out.clamp(0, 255).round().to(torch.uint8).numpy()


def colour_baseline(train: Split, test: Split) -> dict[str, float]:
    """Test accuracy of a logistic regression on per-channel mean and std inside the disk: how far
    colour and brightness alone go (the stand-in is built so that this stays near chance)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    m = circular_mask(*train.images.shape[-2:]).numpy()

    def feats(s: Split) -> np.ndarray:
        px = s.images[..., m].astype(np.float64)
        return np.concatenate([px.mean(-1), px.std(-1)], axis=1)

    scaler = StandardScaler().fit(feats(train))
    clf = LogisticRegression(max_iter=2000).fit(scaler.transform(feats(train)), train.labels)
    acc = float((clf.predict(scaler.transform(feats(test))) == test.labels).mean())
    return {"accuracy": acc, "chance": 1.0 / len(np.unique(train.labels))}


def build_tim(name: str, cfg: TimConfig, sizes: TimSizes, raw_root: Path) -> tuple[dict[str, Split], dict]:
    source, root = choose(raw_root, cfg.source, RAW_SOURCES)
    if root is not None:
        arrays, classes = read_tinyimagenet(root, sizes, cfg.seed)
        origin = f"TinyImageNet at {root}"
    else:
        arrays, classes = embedded_tim(sizes, cfg.seed)
        origin = "embedded stand-in (scikit-image / scikit-learn pictures) — NOT TinyImageNet"
    rng = np.random.default_rng([cfg.seed, 2])
    splits = {}
    for split, (images, labels) in arrays.items():
        copies = cfg.test_copies if split == "test" else 1
        images, labels = np.repeat(images, copies, axis=0), np.repeat(labels, copies)
        n = len(labels)
        angles = rng.uniform(0, 2 * np.pi, size=n)
        hflip, vflip = rng.random(n) < cfg.flip_prob, rng.random(n) < cfg.flip_prob
        splits[split] = Split(rotate_and_mask(images, angles, hflip, vflip), labels,
                              {"angle": angles, "hflip": hflip.astype(np.float32), "vflip": vflip.astype(np.float32)})
    meta = {
        "dataset": name, "source": source, "source_requested": cfg.source, "origin": origin, "classes": classes,
        "colour_baseline": colour_baseline(splits["train"], splits["test"]),
        "protocol": {"size": [64, 64], "rotation": "one angle per image ~ U[0, 2π), bilinear, about the centre",
                     "mask": "zero outside the inscribed disk (corners carry no orientation cue)",
                     "flips": f"h and v independently with probability {cfg.flip_prob}, before rotating",
                     "test_copies": cfg.test_copies, "seed": cfg.seed},
    }
    return splits, meta


def spec(name: str):
    """``rot_tim`` and ``r2_tim`` for the dataset registry."""
    from eqlab.data.registry import DatasetSpec

    title = {"rot_tim": "Rot-TIM", "r2_tim": "R2-TIM"}[name]
    return DatasetSpec(TimConfig, TimSizes, lambda c, s, r: build_tim(name, c, s, r), title, RAW_SOURCES)
