"""The extension to Jansson et al. (PAPERS.md 003; issue 14, item 2): rotated and scaled digits classified with an
oracle alignment or a learned spatial transformer inserted at depth 0, 1 or 2 (:class:`eqlab.models.stn.AlignNet`).

Jansson et al. prove that no spatial warp of CNN feature maps can in general align the maps of a transformed
image with those of the original: only at the input (depth 0) does undoing the transformation give invariance.
Here that becomes an experiment. Every digit is turned by an angle uniform in ±``max_angle`` degrees and scaled
by a factor uniform in [``scale_min``, ``scale_max``] (a fresh draw per training step, a fixed draw per test
digit); networks:

* ``upright``: trained and tested on untransformed digits (the ceiling);
* ``none``: no alignment (the floor a transformation-robust net must beat);
* ``oracle`` at depth d: the exact inverse warp applied to the maps entering block d;
* ``stn`` at depth d: a spatial transformer's localisation net predicts the warp from those maps.

All nets share the data, the mini-batches (per seed) and the optimiser; one row per net and seed (``COLUMNS``).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from eqlab.models.counting import n_params
from eqlab.models.stn import AlignNet, inverse_similarity, similarity, warp
from eqlab.probes.profiled import profiled_config
from eqlab.probes.rfnn_digits import stratified, test_split

log = logging.getLogger(__name__)
COLUMNS = ("variant", "depth", "seed", "test_acc", "n_params", "n_train", "steps")


@dataclass(frozen=True)
class StnConfig:
    """``probe_stn``: shared keys; ``n_train``, ``seeds``, ``steps`` and ``n_test`` per profile."""

    channels: tuple[int, ...] = (8, 16, 16)
    depths: tuple[int, ...] = (0, 1, 2)
    max_angle: float = field(default=90.0, metadata={"min": 0.0, "max": 180.0})
    scale_min: float = field(default=0.6, metadata={"min": 0.1})
    scale_max: float = field(default=1.1, metadata={"min": 0.1})
    lr: float = field(default=3e-3, metadata={"min": 0.0})
    loc_lr_factor: float = field(default=0.1, metadata={"min": 0.0})
    batch: int = field(default=32, metadata={"min": 1})
    seed: int = 0
    n_train: int = field(default=2000, metadata={"min": 10})
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = field(default=300, metadata={"min": 1})
    n_test: int = field(default=1000, metadata={"min": 10})

    def __post_init__(self) -> None:
        if len(self.channels) < 1 or any(c < 1 for c in self.channels):
            raise ValueError(f"channels={self.channels} must be positive widths, one per block")
        if any(not 0 <= d < len(self.channels) for d in self.depths) or len(set(self.depths)) != len(self.depths):
            raise ValueError(f"depths={self.depths} must be distinct block indices in 0..{len(self.channels) - 1}")
        if self.scale_min > self.scale_max:
            raise ValueError(f"scale_min={self.scale_min} exceeds scale_max={self.scale_max}")
        if self.n_train % 10 or self.n_test % 10:
            raise ValueError("n_train and n_test must be multiples of 10 (stratified over 10 digits)")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError(f"seeds={self.seeds} must be distinct and non-empty")


@dataclass(frozen=True)
class StnSizes:
    n_train: int = field(metadata={"min": 10})
    seeds: tuple[int, ...]
    steps: int = field(metadata={"min": 1})
    n_test: int = field(metadata={"min": 10})


def config_from_params(params: dict[str, Any], key: str = "probe_stn") -> StnConfig:
    return profiled_config(params, key, StnConfig, StnSizes)


def variants(cfg: StnConfig) -> list[tuple[str, int]]:
    """(variant, depth) of every network; depth −1 where there is no alignment."""
    return [("upright", -1), ("none", -1)] + [(a, d) for d in cfg.depths for a in ("oracle", "stn")]


def draw(cfg: StnConfig, n: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` angles (radians) and scales from the configured ranges."""
    a = (2 * torch.rand(n, generator=g) - 1) * math.radians(cfg.max_angle)
    s = cfg.scale_min + (cfg.scale_max - cfg.scale_min) * torch.rand(n, generator=g)
    return a, s


def _net(cfg: StnConfig, variant: str, depth: int, n_cls: int) -> AlignNet:
    align = variant if variant in ("oracle", "stn") else "none"
    return AlignNet(cfg.channels, n_cls, align, max(depth, 0))


def _inputs(raw: torch.Tensor, variant: str, a: torch.Tensor, s: torch.Tensor, mean: float, std: float):
    """(standardised inputs, oracle matrices or None): upright digits stay as they are."""
    if variant == "upright":
        return (raw - mean) / std, None
    return (warp(raw, similarity(a, s)) - mean) / std, inverse_similarity(a, s) if variant == "oracle" else None


def train_eval(cfg: StnConfig, variant: str, depth: int, x: torch.Tensor, y: torch.Tensor, xt: torch.Tensor,
               yt: torch.Tensor, seed: int, n_cls: int) -> tuple[float, int]:  # fmt: skip
    """Adam for ``steps`` mini-batches of freshly transformed digits; accuracy on the fixed test draw."""
    torch.manual_seed(1000 * seed + 7)
    net = _net(cfg, variant, depth, n_cls)
    mean, std = float(x.mean()), float(x.std())
    g = torch.Generator().manual_seed(seed)
    loc = list(net.loc.parameters()) if net.loc is not None else []
    rest = [p for n, p in net.named_parameters() if not n.startswith("loc.")]
    groups = [{"params": rest}] + ([{"params": loc, "lr": cfg.lr * cfg.loc_lr_factor}] if loc else [])
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    net.train()
    for _ in range(cfg.steps):
        i = torch.randint(len(x), (min(cfg.batch, len(x)),), generator=g)
        a, s = draw(cfg, len(i), g)
        xin, oracle = _inputs(x[i], variant, a, s, mean, std)
        opt.zero_grad()
        F.cross_entropy(net(xin, oracle), y[i]).backward()
        opt.step()
    net.eval()
    a, s = draw(cfg, len(xt), torch.Generator().manual_seed(cfg.seed + 10_007))  # the same test draw for every net
    correct = 0
    with torch.no_grad():
        for j in range(0, len(xt), 500):
            xin, oracle = _inputs(xt[j : j + 500], variant, a[j : j + 500], s[j : j + 500], mean, std)
            correct += int((net(xin, oracle).argmax(1) == yt[j : j + 500]).sum())
    return correct / len(xt), n_params(net)


def stn_experiment(cfg: StnConfig, images: np.ndarray, labels: np.ndarray, progress=None) -> pd.DataFrame:
    n_cls = len(np.unique(labels))
    test, pool = test_split(labels, cfg.n_test, cfg.seed)
    raw = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    y_all = torch.from_numpy(labels.astype(np.int64))
    rows = []
    for seed in cfg.seeds:
        tr = torch.from_numpy(stratified(labels, cfg.n_train // n_cls, np.random.default_rng([cfg.seed, seed, 11]), pool))
        for variant, depth in variants(cfg):
            acc, k = train_eval(cfg, variant, depth, raw[tr], y_all[tr], raw[test], y_all[test], seed, n_cls)
            rows.append((variant, depth, seed, acc, k, cfg.n_train, cfg.steps))
            log.info("%s depth %d seed %d: %.3f", variant, depth, seed, acc)
            if progress is not None:
                progress.update(1)
    return pd.DataFrame(rows, columns=list(COLUMNS))
