"""The RFNN limited-data study on the 5,000 embedded MNIST digits (thesis ch. 3; PAPERS.md 001).

A fixed stratified test split; per seed a stratified training subset of each size. Three experiments,
one row per trained network (``COLUMNS``):

* ``fig6``: RFNN (Gaussian basis, ``order``, multi-scale) versus the identical free-filter CNN (same
  layers, same kernel sizes, free pixels) at every training size (the thesis's Fig. 6);
* ``table1``: multi-scale RFNN of orders ``ablation_orders`` and single-scale RFNN of orders
  ``single_scale_orders``, at ``ablation_size`` (Table 1: RFNiN-Scale and RFNiN);
* ``table2``: the refactorisation control at ``ablation_size``: the same layers with the basis learned
  freely instead of fixed (Table 2).

Digits are block-mean down-scaled by ``downscale`` (28 → 14 px by default: σ = 1 px there is σ = 2 px at
full size). Multi-scale: layer l uses ``scales[: len(scales) − l]`` (at least the first), the coarsest σ dropped per
layer as in the thesis; single scale uses ``scales[0]`` everywhere.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from eqlab.models.counting import n_params
from eqlab.models.rfnn import digit_net
from eqlab.probes.minibatch import fit_adam
from eqlab.probes.profiled import profiled_config

log = logging.getLogger(__name__)
COLUMNS = ("experiment", "kind", "order", "scales", "n_train", "seed", "test_acc", "n_params", "steps")


@dataclass(frozen=True)
class RfnnConfig:
    channels: int = field(default=8, metadata={"min": 1})
    downscale: int = field(default=2, metadata={"min": 1, "max": 4})
    order: int = field(default=3, metadata={"min": 1, "max": 4})
    scales: tuple[float, ...] = (1.0, 1.5)
    ablation_orders: tuple[int, ...] = (1, 2, 3, 4)
    single_scale_orders: tuple[int, ...] = (3,)
    lr: float = field(default=1e-2, metadata={"min": 0.0})
    batch: int = field(default=32, metadata={"min": 1})
    n_test: int = field(default=1000, metadata={"min": 10})
    seed: int = 0
    train_sizes: tuple[int, ...] = (100, 300, 1000)
    ablation_size: int = field(default=300, metadata={"min": 10})
    seeds: tuple[int, ...] = (0, 1, 2)
    steps: int = field(default=120, metadata={"min": 1})

    def __post_init__(self) -> None:
        if not self.scales or any(s <= 0 for s in self.scales):
            raise ValueError(f"scales={self.scales} must be a non-empty list of σ > 0")
        if any(not 1 <= o <= 4 for o in (*self.ablation_orders, *self.single_scale_orders)):
            raise ValueError(f"ablation_orders and single_scale_orders must lie in 1..4, got "
                             f"{self.ablation_orders}, {self.single_scale_orders}")  # fmt: skip
        if any(n < 10 or n % 10 for n in (*self.train_sizes, self.ablation_size)):
            raise ValueError("train_sizes and ablation_size must be multiples of 10 (stratified over 10 digits)")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError(f"seeds={self.seeds} must be distinct and non-empty")


@dataclass(frozen=True)
class RfnnSizes:
    train_sizes: tuple[int, ...]
    ablation_size: int = field(metadata={"min": 10})
    seeds: tuple[int, ...]
    steps: int = field(metadata={"min": 1})
    n_test: int = field(metadata={"min": 10})


def config_from_params(params: dict[str, Any], key: str = "probe_rfnn") -> RfnnConfig:
    return profiled_config(params, key, RfnnConfig, RfnnSizes)


def layer_sigmas(scales: tuple[float, ...], multi: bool) -> list[list[float]]:
    """σ per layer (3 layers): multi-scale drops the coarsest σ per layer; single uses ``scales[0]``."""
    if not multi:
        return [[scales[0]]] * 3
    return [list(scales[: max(len(scales) - i, 1)]) for i in range(3)]


def stratified(labels: np.ndarray, per_class: int, rng: np.random.Generator, pool: np.ndarray) -> np.ndarray:
    """``per_class`` indices of every class drawn without replacement from ``pool`` (sorted output)."""
    out = []
    for c in np.unique(labels):
        idx = pool[labels[pool] == c]
        if len(idx) < per_class:
            raise ValueError(f"class {c}: {len(idx)} images, {per_class} requested")
        out.append(rng.choice(idx, per_class, replace=False))
    return np.sort(np.concatenate(out))


def test_split(labels: np.ndarray, n_test: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(test indices, training pool): ``n_test`` digits stratified over the classes, drawn with ``seed``; the
    pool is every other digit."""
    n_cls = len(np.unique(labels))
    test = stratified(labels, n_test // n_cls, np.random.default_rng(seed), np.arange(len(labels)))
    return test, np.setdiff1d(np.arange(len(labels)), test)


def prepare_digits(images: np.ndarray, labels: np.ndarray, n_test: int, downscale: int, seed: int
                   ) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray]:
    """(x, y, test indices, training pool): a stratified test split drawn with ``seed``; the digits block-mean
    down-scaled by ``downscale`` and standardised with the pool's mean and standard deviation."""
    test, pool = test_split(labels, n_test, seed)
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    if downscale > 1:
        x_all = F.avg_pool2d(x_all, downscale)
    mean, std = float(x_all[pool].mean()), float(x_all[pool].std())
    return (x_all - mean) / std, torch.from_numpy(labels.astype(np.int64)), test, pool


def train_eval(net: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, xt: torch.Tensor, yt: torch.Tensor,
               steps: int, batch: int, lr: float, seed: int) -> float:  # fmt: skip
    """Adam on cross-entropy for ``steps`` mini-batches (sampled with ``seed``); test accuracy."""
    fit_adam(net, x, y, steps, batch, lr, seed)
    with torch.no_grad():
        pred = torch.cat([net(xt[j : j + 500]).argmax(1) for j in range(0, len(xt), 500)])
    return float((pred == yt).float().mean())


def run_plan(cfg: RfnnConfig) -> list[tuple[str, str, int, bool, int]]:
    """(experiment, kind, order, multi, n_train) of every network, per seed."""
    plan = [("fig6", k, cfg.order, True, n) for n in cfg.train_sizes for k in ("rfnn", "cnn")]
    plan += [("table1", "rfnn", o, True, cfg.ablation_size) for o in cfg.ablation_orders]
    plan += [("table1", "rfnn", o, False, cfg.ablation_size) for o in cfg.single_scale_orders]
    plan += [("table2", "refactor", cfg.order, True, cfg.ablation_size)]
    return plan


def rfnn_experiment(cfg: RfnnConfig, images: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """Every network of :func:`run_plan` for every seed; identical (kind, order, scales, size, seed)
    networks are trained once and reported under each experiment."""
    n_cls = len(np.unique(labels))
    x_all, y_all, test, pool = prepare_digits(images, labels, cfg.n_test, cfg.downscale, cfg.seed)
    done: dict[tuple, tuple[float, int]] = {}
    rows = []
    for seed in cfg.seeds:
        subsets = {n: stratified(labels, n // n_cls, np.random.default_rng([cfg.seed, seed, n]), pool)
                   for n in {*cfg.train_sizes, cfg.ablation_size}}  # fmt: skip
        for exp, kind, order, multi, n in run_plan(cfg):
            key = (kind, order, multi, n, seed)
            if key not in done:
                torch.manual_seed(1000 * seed + 17 * order + int(multi))
                net = digit_net(kind, cfg.channels, order, layer_sigmas(cfg.scales, multi), n_cls)
                tr = torch.from_numpy(subsets[n])
                acc = train_eval(net, x_all[tr], y_all[tr], x_all[test], y_all[test], cfg.steps, cfg.batch,
                                 cfg.lr, seed)  # fmt: skip
                done[key] = (acc, n_params(net))
                log.info("%s %s order %d %s n=%d seed %d: %.3f", exp, kind, order, multi, n, seed, acc)
            acc, size = done[key]
            rows.append((exp, kind, order, "multi" if multi else "single", n, seed, acc, size, cfg.steps))
    return pd.DataFrame(rows, columns=list(COLUMNS))
