"""i-RevNet analysis on natural images (thesis ch. 6; PAPERS.md 001, "i-RevNet").

"Natural images": 32×32 crops of photos embedded in scikit-image (``photos``, grey ones repeated to RGB,
block-mean down-scaled by ``downscale``), the class of a crop is its photo; training crops come from the
left ``1 − test_fraction`` of each photo, test crops from the right part (spatially disjoint). Per seed,
the bijective and injective i-RevNets and the ResNet of the same depth (:mod:`eqlab.models.irevnet`) are
measured at random initialisation (``random``) and after ``steps`` Adam steps on the photo label
(``trained``). Rows (``COLUMNS``), by ``check``:

* ``recon``: ε = mean over samples of ‖x − Φ⁻¹Φx‖ / ‖x‖ (``value``; ``value_max`` the largest), on
  N(0, 1) noise and on test crops, float32 and float64 (i-RevNets);
* ``jacobian``: singular values σ_k of ∂Φ/∂x at one ``jac_size``² test crop (bijective, float64), ``k``
  from 1; ``value_max`` the energy fraction Σ_{i≤k} σ_i² / Σ σ_i²;
* ``block_acc``: per block, accuracy of ``svm`` (LinearSVC) and ``1nn`` on spatially averaged features
  standardised with the training crops' statistics;
* ``pca`` (trained state): LinearSVC accuracy on the last block's standardised features projected on their
  first ``k`` principal components (``k`` = full dimension included).

:func:`interpolation` inverts a straight line between the features of two test crops.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import LinearSVC

from eqlab.models.irevnet import IRevNet, ResNet
from eqlab.probes.minibatch import fit_adam
from eqlab.probes.profiled import profiled_config

log = logging.getLogger(__name__)
COLUMNS = ("check", "model", "state", "seed", "block", "classifier", "data", "dtype", "k", "value", "value_max")
MODELS = ("irevnet_bijective", "irevnet_injective", "resnet")


@dataclass(frozen=True)
class IRevNetConfig:
    photos: tuple[str, ...] = ("astronaut", "camera", "coffee", "chelsea", "rocket", "immunohistochemistry",
                               "grass", "brick")  # fmt: skip
    downscale: int = field(default=2, metadata={"min": 1})
    crop: int = field(default=32, metadata={"min": 8})
    test_fraction: float = field(default=0.25, metadata={"min": 0.05, "max": 0.5})
    n_stages: int = field(default=3, metadata={"min": 1})
    blocks_per_stage: int = field(default=2, metadata={"min": 1})
    injective_channels: int = field(default=8, metadata={"min": 4})
    lr: float = field(default=1e-3, metadata={"min": 0.0})
    batch: int = field(default=32, metadata={"min": 1})
    n_interp: int = field(default=7, metadata={"min": 2})
    seed: int = 0
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = field(default=100, metadata={"min": 0})
    n_train: int = field(default=40, metadata={"min": 2})
    n_test: int = field(default=20, metadata={"min": 2})
    n_noise: int = field(default=16, metadata={"min": 1})
    jac_size: int = field(default=16, metadata={"min": 8})
    pca_dims: tuple[int, ...] = (2, 4, 8, 16, 32, 64)

    def __post_init__(self) -> None:
        if len(self.photos) < 2:
            raise ValueError("photos: at least two (the classes)")
        if self.crop % 2**self.n_stages or self.jac_size % 2**self.n_stages:
            raise ValueError(f"crop and jac_size must be multiples of 2^n_stages = {2**self.n_stages}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"seeds={self.seeds} must be distinct and non-empty")


@dataclass(frozen=True)
class IRevNetSizes:
    seeds: tuple[int, ...]
    steps: int = field(metadata={"min": 0})
    n_train: int = field(metadata={"min": 2})
    n_test: int = field(metadata={"min": 2})
    n_noise: int = field(metadata={"min": 1})
    jac_size: int = field(metadata={"min": 8})
    pca_dims: tuple[int, ...]


def config_from_params(params: dict[str, Any], key: str = "probe_irevnet") -> IRevNetConfig:
    return profiled_config(params, key, IRevNetConfig, IRevNetSizes)


def load_photos(names: tuple[str, ...], downscale: int) -> list[np.ndarray]:
    """Each photo as float32 (3, H, W) in [0, 1], block-mean down-scaled."""
    import skimage.data

    out = []
    for n in names:
        if not hasattr(skimage.data, n):
            raise ValueError(f"probe_irevnet.photos: skimage.data has no image {n!r}")
        a = np.asarray(getattr(skimage.data, n)(), dtype=np.float32) / 255.0
        a = np.repeat(a[..., None], 3, -1) if a.ndim == 2 else a[..., :3]
        h, w = (a.shape[0] // downscale) * downscale, (a.shape[1] // downscale) * downscale
        a = a[:h, :w].reshape(h // downscale, downscale, w // downscale, downscale, 3).mean((1, 3))
        out.append(a.transpose(2, 0, 1).copy())
    return out


def crops(photos: list[np.ndarray], n: int, size: int, test_fraction: float, test: bool,
          rng: np.random.Generator) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """``n`` random crops per photo from its train (left) or test (right) region; labels = photo index."""
    xs, ys = [], []
    for label, p in enumerate(photos):
        h, w = p.shape[1:]
        cut = int(round(w * (1 - test_fraction)))
        x0, x1 = (cut, w - size) if test else (0, cut - size)
        if x1 < x0 or h < size:
            raise ValueError(f"photo {label}: region too small for {size}×{size} crops")
        for _ in range(n):
            i, j = rng.integers(0, h - size + 1), rng.integers(x0, x1 + 1)
            xs.append(p[:, i : i + size, j : j + size])
            ys.append(label)
    return torch.from_numpy(np.stack(xs)), torch.tensor(ys)


def build(model: str, cfg: IRevNetConfig, n_classes: int) -> torch.nn.Module:
    if model == "resnet":
        return ResNet(cfg.n_stages, cfg.blocks_per_stage, n_classes)
    return IRevNet(cfg.n_stages, cfg.blocks_per_stage, model == "irevnet_injective", cfg.injective_channels, n_classes)


def reconstruction(net: IRevNet, x: torch.Tensor) -> tuple[float, float]:
    """(mean, max) over samples of ‖x − Φ⁻¹Φx‖ / ‖x‖, in the dtype of ``x`` (the network is cast to it)."""
    net = net.to(x.dtype).eval()
    with torch.no_grad():
        r = (net.inverse(net.encode(x)) - x).flatten(1).norm(dim=1) / x.flatten(1).norm(dim=1)
    net.float()
    return float(r.mean()), float(r.max())


def jacobian_spectrum(net: IRevNet, x: torch.Tensor) -> np.ndarray:
    """Singular values (descending) of the Jacobian of x ↦ Φ(x) at one image ``x`` (float64)."""
    net = net.double().eval()
    jac = torch.autograd.functional.jacobian(lambda v: net.encode(v).flatten(), x.double()[None], vectorize=True)
    net.float()
    return torch.linalg.svdvals(jac.reshape(jac.shape[0], -1)).numpy()


def block_features(net: torch.nn.Module, x: torch.Tensor) -> list[np.ndarray]:
    net.eval()
    with torch.no_grad():
        return [f.mean((2, 3)).double().numpy() for f in net.features(x)]


def _standardise(tr: np.ndarray, te: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mu, sd = tr.mean(0), tr.std(0) + 1e-8
    return (tr - mu) / sd, (te - mu) / sd


def classify(tr: np.ndarray, ytr: np.ndarray, te: np.ndarray, yte: np.ndarray, kind: str) -> float:
    """Test accuracy of a LinearSVC (``svm``) or 1-nearest-neighbour (``1nn``) on standardised features."""
    clf = LinearSVC(C=1.0, max_iter=200, random_state=0) if kind == "svm" else KNeighborsClassifier(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(tr, ytr)
    return float((clf.predict(te) == yte).mean())


def _measure(net, model, state, seed, cfg, data) -> list[tuple]:
    xtr, ytr, xte, yte, noise = data
    rows: list[tuple] = []
    row = dict.fromkeys(COLUMNS)
    base = {**row, "model": model, "state": state, "seed": seed}
    if model != "resnet":
        for name, x in (("noise", noise), ("test", xte)):
            for dt in (torch.float32, torch.float64):
                m, mx = reconstruction(net, x.to(dt))
                rows.append({**base, "check": "recon", "data": name, "dtype": str(dt)[6:], "value": m, "value_max": mx})
    if model == "irevnet_bijective":
        s = jacobian_spectrum(net, xte[0, :, : cfg.jac_size, : cfg.jac_size])
        energy = np.cumsum(s**2) / np.sum(s**2)
        rows += [{**base, "check": "jacobian", "k": k + 1, "value": float(v), "value_max": float(e)}
                 for k, (v, e) in enumerate(zip(s, energy, strict=True))]  # fmt: skip
    ftr, fte = block_features(net, xtr), block_features(net, xte)
    for b, (a, t) in enumerate(zip(ftr, fte, strict=True)):
        a, t = _standardise(a, t)
        for kind in ("svm", "1nn"):
            rows.append({**base, "check": "block_acc", "block": b + 1, "classifier": kind,
                         "value": classify(a, ytr.numpy(), t, yte.numpy(), kind)})  # fmt: skip
    if state != "trained":
        return rows
    a, t = _standardise(ftr[-1], fte[-1])
    for k in sorted({d for d in cfg.pca_dims if d < min(a.shape)} | {a.shape[1]}):
        if k < a.shape[1]:
            pca = PCA(k, random_state=0).fit(a)
            pa, pt = pca.transform(a), pca.transform(t)
        else:
            pa, pt = a, t
        rows.append({**base, "check": "pca", "classifier": "svm", "k": k,
                     "value": classify(pa, ytr.numpy(), pt, yte.numpy(), "svm")})  # fmt: skip
    return rows


def irevnet_experiment(cfg: IRevNetConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tidy table (``COLUMNS``) over models × states × seeds, and the interpolation table of the
    trained bijective i-RevNet of the first seed (:func:`interpolation`)."""
    photos = load_photos(cfg.photos, cfg.downscale)
    rows: list[dict] = []
    interp = pd.DataFrame()
    for seed in cfg.seeds:
        rng = np.random.default_rng([cfg.seed, seed])
        xtr, ytr = crops(photos, cfg.n_train, cfg.crop, cfg.test_fraction, False, rng)
        xte, yte = crops(photos, cfg.n_test, cfg.crop, cfg.test_fraction, True, rng)
        noise = torch.from_numpy(rng.standard_normal((cfg.n_noise, 3, cfg.crop, cfg.crop)).astype(np.float32))
        data = (xtr, ytr, xte, yte, noise)
        for model in MODELS:
            torch.manual_seed(1000 * seed + MODELS.index(model))
            net = build(model, cfg, len(photos))
            rows += _measure(net, model, "random", seed, cfg, data)
            fit_adam(net, xtr, ytr, cfg.steps, cfg.batch, cfg.lr, seed)
            rows += _measure(net, model, "trained", seed, cfg, data)
            if model == "irevnet_bijective" and seed == cfg.seeds[0]:
                interp = interpolation(net, xte[0], xte[-1], cfg.n_interp)
            log.info("i-RevNet probe: %s seed %d done", model, seed)
    df = pd.DataFrame(rows, columns=list(COLUMNS))
    return df.astype({"block": "Int64", "k": "Int64", "seed": "int64"}), interp


def interpolation(net: IRevNet, a: torch.Tensor, b: torch.Tensor, n: int) -> pd.DataFrame:
    """Images Φ⁻¹((1 − t) Φ(a) + t Φ(b)) (``space="feature"``) and (1 − t) a + t b (``pixel``) for n values
    of t in [0, 1]; one row per space × t, ``pixels`` the flattened (3, H, W) image, clipped to [0, 1]."""
    net.eval()
    rows = []
    with torch.no_grad():
        za, zb = net.encode(a[None]), net.encode(b[None])
        for t in np.linspace(0.0, 1.0, n):
            for space, img in (("feature", net.inverse((1 - t) * za + t * zb)[0]), ("pixel", (1 - t) * a + t * b)):
                rows.append({"space": space, "t": float(t), "shape": list(img.shape),
                             "pixels": img.clamp(0, 1).flatten().tolist()})  # fmt: skip
    return pd.DataFrame(rows)
