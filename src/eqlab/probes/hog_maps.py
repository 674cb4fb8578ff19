"""Lenc & Vedaldi's HOG equivariance experiment (IJCV, Sec. 5.2, Fig. 6, Table 2) on embedded images.

For each transformation g (rotations, scalings) the map ``M_g`` with ``φ(g·x) ≈ M_g φ(x)`` is learned
from patch pairs (:mod:`eqlab.probes.sparse`) and scored by the mean per-cell Hellinger distance on
held-out patches:

* Fig. 6 left/centre: the central ``out_cells²`` HOG cells of g·x predicted from ``in_cells²`` cells of
  x (paper: 5×5 from 9×9) with no spatial constraint — identity ``M_g = 1``, LS, RR (λ chosen on the
  validation split), FS with k non-zeros per row; ``flips`` (h-flip, v-flip) add the transformations
  under which HOG moves by an exact permutation (with 180°), where FS should find ≈ 0 error;
* Fig. 6 right, Table 2: at ``sweep_angle`` the same with structured sparsity (Eq. 5), m×m
  neighbourhoods; ``fit_seconds`` is the fit's wall time (the paper used 15×15 arrays for this sweep;
  here the same 9×9 → 5×5 geometry, enough for m ≤ 5 and much cheaper).

Data: grayscale natural pictures from scikit-image, in [0, 1]; patches are cut at random positions
from disjoint sets of pictures for train, validation and test (the paper: ILSVRC12 train vs val, 1000
images each). A patch is large enough that g·x has content over the whole ``in_cells`` window (no
empty corners, no mask): the transformation acts on the patch about its centre with eqlab's group
actions (bilinear for rotations, bicubic for scalings, no antialiasing) and both x and g·x are cropped
to the central window. Defaults take ≈ 20–40 s on 2 cores.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import torch

from eqlab.features.hog import HogGeometry, hog
from eqlab.groups.transforms import Transform, get_transform
from eqlab.probes.profiled import profiled_config
from eqlab.probes.sparse import (
    LinearMap,
    forward_selection,
    full_support,
    least_squares,
    mean_hellinger,
    neighbourhoods,
    ridge_validated,
    structured_support,
)

COLUMNS = ("transform", "angle", "scale", "method", "m", "k", "lam", "hellinger_error", "fit_seconds", "nonzeros")
# disjoint sets of scikit-image pictures (all ≥ 300 px on their short side, few flat areas)
TRAIN_IMAGES = ("astronaut", "chelsea", "rocket", "immunohistochemistry", "moon", "brick", "grass", "cell")
VAL_IMAGES = ("clock", "coins")
TEST_IMAGES = ("camera", "coffee", "gravel")


@dataclass(frozen=True)
class HogMapsConfig:
    """The experiment's sizes; defaults sized for ≤ 60 s on 2 cores (paper: n = 1000 train, 1000 test)."""

    cell_size: int = field(default=8, metadata={"min": 2})
    orientations: int = field(default=9, metadata={"min": 2})
    in_cells: int = field(default=9, metadata={"min": 1})
    out_cells: int = field(default=5, metadata={"min": 1})
    n_train: int = field(default=400, metadata={"min": 2})
    n_val: int = field(default=100, metadata={"min": 2})
    n_test: int = field(default=200, metadata={"min": 2})
    angles: tuple[float, ...] = (0.0, 45.0, 90.0, 135.0, 180.0)
    scales: tuple[float, ...] = (2**-0.5, 0.5)
    flips: tuple[Literal["hflip", "vflip"], ...] = ()
    ks: tuple[int, ...] = (1, 3, 5)
    ms: tuple[int, ...] = (1, 3, 5)
    sweep_angle: float | None = 45.0
    lams: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0)
    train_images: tuple[str, ...] = TRAIN_IMAGES
    val_images: tuple[str, ...] = VAL_IMAGES
    test_images: tuple[str, ...] = TEST_IMAGES
    seed: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.out_cells <= self.in_cells or (self.in_cells - self.out_cells) % 2:
            raise ValueError(f"out_cells={self.out_cells} must be ≤ in_cells={self.in_cells} with an even difference")
        if min(self.n_train, self.n_val, self.n_test) < 2:
            raise ValueError(f"n_train, n_val, n_test must be ≥ 2, got {self.n_train}, {self.n_val}, {self.n_test}")
        if set(self.flips) - {"hflip", "vflip"}:
            raise ValueError(f"flips must be among ('hflip', 'vflip'), got {self.flips}")
        if not self.ks or min(self.ks) < 1:
            raise ValueError(f"ks must be a non-empty list of integers ≥ 1, got {self.ks}")
        if any(not 1 <= m <= self.in_cells for m in self.ms):
            raise ValueError(f"ms must be between 1 and in_cells={self.in_cells}, got {self.ms}")
        if not self.lams or min(self.lams) < 0:
            raise ValueError(f"lams must be a non-empty list of values ≥ 0, got {self.lams}")
        if any(s <= 0 for s in self.scales):
            raise ValueError(f"scales must be > 0, got {self.scales}")
        if self.sweep_angle is not None and self.sweep_angle not in self.angles:
            raise ValueError(f"sweep_angle={self.sweep_angle} must be one of angles {self.angles} (or None)")
        if set(self.test_images) & (set(self.train_images) | set(self.val_images)):
            raise ValueError("test_images must be disjoint from train_images and val_images")


@dataclass(frozen=True)
class HogMapsSizes:
    """Patches per split in one profile (train, validation for RR's λ, test)."""

    n_train: int = field(metadata={"min": 2})
    n_val: int = field(metadata={"min": 2})
    n_test: int = field(metadata={"min": 2})


def config_from_params(params: dict[str, Any], key: str = "probe_hog_maps") -> HogMapsConfig:
    """:class:`HogMapsConfig` from params section ``key`` and its profile's :class:`HogMapsSizes`."""
    return profiled_config(params, key, HogMapsConfig, HogMapsSizes)


def load_gray(name: str) -> np.ndarray:
    """A scikit-image picture (``skimage.data.<name>``) as luminance in [0, 1], float64."""
    import skimage.data

    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    return img / max(img.max(), 1e-12)


def sample_patches(names: tuple[str, ...], n: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` square ``size``-pixel patches at uniformly random pictures and positions → ``(n, size, size)``."""
    pics = [load_gray(name) for name in names]
    small = [name for name, p in zip(names, pics) if min(p.shape) < size]
    if small:
        raise ValueError(f"pictures {small} are smaller than the {size}-pixel patches")
    out = np.empty((n, size, size))
    for i, which in enumerate(rng.integers(len(pics), size=n)):
        p = pics[which]
        top, left = rng.integers(p.shape[0] - size + 1), rng.integers(p.shape[1] - size + 1)
        out[i] = p[top : top + size, left : left + size]
    return out


def experiment_transforms(cfg: HogMapsConfig) -> list[tuple[Transform, float, float]]:
    """(g, angle, scale) for every rotation, every scaling, then every flip (NaN for the parameter a g lacks)."""
    rots = [(get_transform(f"rot{a:g}"), float(a), math.nan) for a in cfg.angles]
    scales = [(get_transform(f"scale{s!r}"), math.nan, float(s)) for s in cfg.scales]
    return rots + scales + [(get_transform(f), math.nan, math.nan) for f in cfg.flips]


def patch_size(cfg: HogMapsConfig) -> int:
    """Even patch side so that g·x has content on the whole window for every g of the config."""
    r = (cfg.in_cells * cfg.cell_size - 1) / 2
    reach = max([r * math.sqrt(2) if a % 90 else r for a in cfg.angles] + [r / s for s in cfg.scales] + [r])
    return 2 * math.ceil(reach + 3)


def window(images: np.ndarray, side: int) -> np.ndarray:
    """The central ``side × side`` pixels of ``(N, S, S)`` (S − side even: the centre is kept)."""
    lo = (images.shape[-1] - side) // 2
    return images[:, lo : lo + side, lo : lo + side]


def central_cells(phi: np.ndarray, n: int) -> np.ndarray:
    """The central ``n × n`` cells of ``(N, rows, cols, D)`` HOG, flattened to ``(N, n·n·D)``."""
    lo = (phi.shape[1] - n) // 2
    return phi[:, lo : lo + n, lo : lo + n].reshape(len(phi), -1)


def transformed_hog(patches: np.ndarray, g: Transform, cfg: HogMapsConfig, batch: int = 256) -> np.ndarray:
    """``φ(g·x)``: the central ``out_cells²`` cells of the HOG of the window of g·patch, ``(N, out²·D)``."""
    geometry = HogGeometry(cfg.cell_size, cfg.orientations)
    side = cfg.in_cells * cfg.cell_size
    moved = [
        window(g.apply(torch.from_numpy(patches[i : i + batch])[:, None])[:, 0].numpy(), side)
        for i in range(0, len(patches), batch)
    ]
    return central_cells(hog(np.concatenate(moved), geometry), cfg.out_cells)


def inputs_per_row(cfg: HogMapsConfig, dim: int, m: int | None) -> int:
    """The inputs one output row may read (the size of its regression problem, what the fit cost grows
    with): every input cell's channels, ``in_cells²·D``, or with structured sparsity ``m²·D``."""
    return (cfg.in_cells if m is None else m) ** 2 * dim


def identity_map(cfg: HogMapsConfig, dim: int) -> LinearMap:
    """``M_g = 1``: each output cell copies the input cell at the same place (the paper's baseline)."""
    cells = neighbourhoods(get_transform("identity"), (cfg.in_cells,) * 2, (cfg.out_cells,) * 2, 1, cfg.cell_size)
    index = (cells * dim + np.arange(dim)).reshape(-1, 1)
    return LinearMap(index, np.ones(index.shape), np.zeros(len(index)))


@dataclass(frozen=True)
class Fit:
    """One fitted map and how it was obtained."""

    method: str  # identity, ls, rr, fs
    k: int | None
    lam: float
    seconds: float
    fitted: LinearMap


def score_rows(g: Transform, angle: float, scale: float, m: int | None, fits: list[Fit],
               test: tuple[np.ndarray, np.ndarray], dim: int) -> list[dict]:  # fmt: skip
    """One row of ``COLUMNS`` per fit, with its mean Hellinger error on the test pair."""
    xt, yt = test
    return [
        dict(
            transform=g.name,
            angle=angle,
            scale=scale,
            method=f.method,
            m=m,
            k=f.k,
            lam=f.lam,
            hellinger_error=mean_hellinger(f.fitted.predict(xt), yt, dim),
            fit_seconds=f.seconds,
            nonzeros=f.fitted.nonzeros,
        )
        for f in fits
    ]


def fit_maps(
    split: dict[str, tuple[np.ndarray, np.ndarray]], g: Transform, cfg: HogMapsConfig, dim: int, m: int | None
) -> list[Fit]:
    """LS, RR (λ on the validation pair) and FS (each k) for one g and one support (``m`` None: unconstrained)."""
    (x, y), (xv, yv) = split["train"], split["val"]
    if m is None:
        support = full_support(x.shape[1], y.shape[1])
    else:
        grid_in, grid_out = (cfg.in_cells,) * 2, (cfg.out_cells,) * 2
        support = structured_support(neighbourhoods(g, grid_in, grid_out, m, cfg.cell_size), dim, dim)
    fits = []
    t0 = time.perf_counter()
    fitted = least_squares(x, y, support)
    fits.append(Fit("ls", None, 0.0, time.perf_counter() - t0, fitted))
    t0 = time.perf_counter()
    fitted, lam, _ = ridge_validated(x, y, xv, yv, cfg.lams, dim, support)
    fits.append(Fit("rr", None, lam, time.perf_counter() - t0, fitted))
    for k in cfg.ks:
        t0 = time.perf_counter()
        fitted = forward_selection(x, y, k, support)
        fits.append(Fit("fs", k, math.nan, time.perf_counter() - t0, fitted))
    return fits


def hog_maps_experiment(cfg: HogMapsConfig = HogMapsConfig()) -> pd.DataFrame:
    """Every (transform, method, m, k) of Fig. 6 as one tidy row; see the module docstring.

    Columns: ``transform`` (eqlab name), ``angle`` (degrees) or ``scale`` (factor), ``method``
    (identity, ls, rr, fs), ``m`` (neighbourhood side, <NA> = no spatial constraint), ``k`` (FS
    non-zeros per row), ``lam`` (RR's validated λ), ``hellinger_error`` (test), ``fit_seconds``,
    ``nonzeros`` (of A_g)."""
    rng = np.random.default_rng(cfg.seed)
    geometry = HogGeometry(cfg.cell_size, cfg.orientations)
    side, dim = patch_size(cfg), geometry.dim
    parts = {
        "train": sample_patches(cfg.train_images, cfg.n_train, side, rng),
        "val": sample_patches(cfg.val_images, cfg.n_val, side, rng),
        "test": sample_patches(cfg.test_images, cfg.n_test, side, rng),
    }
    phi = {s: hog(window(p, cfg.in_cells * cfg.cell_size), geometry).reshape(len(p), -1) for s, p in parts.items()}
    ident = Fit("identity", None, math.nan, 0.0, identity_map(cfg, dim))
    rows: list[dict] = []
    for g, angle, scale in experiment_transforms(cfg):
        split = {s: (phi[s], transformed_hog(parts[s], g, cfg)) for s in parts}
        rows += score_rows(g, angle, scale, None, [ident, *fit_maps(split, g, cfg, dim, None)], split["test"], dim)
        if cfg.sweep_angle is not None and angle == cfg.sweep_angle:
            for m in cfg.ms:
                rows += score_rows(g, angle, scale, m, fit_maps(split, g, cfg, dim, m), split["test"], dim)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.astype({"m": "Int64", "k": "Int64"})
